#pragma once
/// The Telegram channel: updates from Telegram (long polling or webhook) become Inbound
/// messages to the router, acknowledged upstream only after Accepted; Deliver requests
/// become sendMessage/sendPhoto/sendDocument calls, answered Delivered once Telegram
/// confirmed, remembered so a repeated Deliver sends nothing again. A reply threads to the
/// message it answers (reply_parameters) from the Deliver alone (its inbound_meta carries
/// Telegram's message_id), so threading survives a restart of this process.
///
/// Runs on service::runtime's event loop and never waits on HTTP there: Bot API calls (the
/// long poll included) are blocking libcurl calls on a weft::worker_pool whose completions
/// come back to the loop; the webhook receiver is an http::server on the loop.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <weft/base/worker_pool.hh>
#include <weft/http/server.hh>
#include <weft/service/config.hh>
#include <weft/service/runtime.hh>

#include "bot_api.hh"
#include <weft/channel/delivered_log.hh>
#include "proto/chat_v1.hh"
#include "telegram.hh"

namespace weft::chan::telegram {

struct channel_options {
  service::telegram_settings settings;
  std::string state_dir;            ///< $WEFT_HOME/channels/telegram
  std::uint64_t max_blob_bytes = 0; ///< largest file passed on (bus limit minus room)
  std::string router = "router";
};

/// Checks [channels.telegram] before anything starts: errc::config naming what to fix.
status check_settings(const service::telegram_settings& s);

class channel {
 public:
  /// Opens the state, registers the handlers on `rt` and starts polling or the webhook
  /// receiver. errc::address_in_use when webhook_listen is taken, errc::invalid_argument
  /// when it is not host:port, errc::io when the state cannot be opened.
  static result<std::unique_ptr<channel>> start(service::runtime& rt, channel_options opts);
  ~channel();
  channel(const channel&) = delete;
  channel& operator=(const channel&) = delete;

 private:
  struct batch;
  struct job;

  channel(service::runtime& rt, channel_options opts);
  status open();

  // inbound
  void submit_batch(std::vector<update> updates, std::function<void(bool)> done);
  void fetch_media(std::shared_ptr<batch> b, std::size_t index);
  void send_inbound(std::shared_ptr<batch> b, std::size_t index);
  void finish_item(const std::shared_ptr<batch>& b, bool ok);
  status save_offset(std::int64_t next);
  void poll();
  void on_polled(api_outcome r);
  void hand_over(std::vector<update> ups, std::int64_t last, int tries);
  void start_webhook();
  void on_webhook(http::server::conn_id c, const http::request& r);

  // outbound
  void on_deliver(proto::chat_v1::deliver d, service::responder r);
  void run_step(const std::string& outbox_id);
  void on_step_done(const std::string& outbox_id, api_outcome o);
  void finish_job(const std::string& outbox_id, const error* failure);
  void start_next(const std::string& chat_id);

  // progress of long turns: a message edited as streamed steps come (docs/channels.md)
  struct progress;
  void on_delta(const proto::chat_v1::delta& d, const std::string& from);
  void schedule_progress(const std::string& turn_id);
  void flush_progress(const std::string& turn_id);
  void end_progress(const std::string& turn_id);

  /// Runs `work` on a worker and `done` with its result on the loop; a full queue waits.
  template <class Work, class Done>
  void background(Work work, Done done);

  service::runtime& _rt;
  channel_options _o;
  log::logger& _log;
  std::atomic<bool> _stop{false};  // read by Bot API calls on workers: abort the long poll
  bot_api _api;
  std::unique_ptr<delivered_log> _delivered;
  std::unique_ptr<worker_pool> _pool;
  std::unique_ptr<http::server> _http;
  std::int64_t _offset = 0;
  int _poll_attempt = 0;
  bool _warned_conflict = false;
  std::size_t _open_batches = 0;  // handed to the router, not yet all accepted
  std::map<std::string, std::unique_ptr<job>> _jobs;            // by outbox_id
  std::map<std::string, std::deque<std::string>> _chat_queues;  // chat -> outbox ids, head active
  std::map<std::string, progress> _progress;                    // by turn id
};

}  // namespace weft::chan::telegram
