#pragma once
/// The Telegram channel: updates from Telegram (long polling or webhook) become Inbound
/// messages to the router, acknowledged upstream only after Accepted; Deliver requests
/// become sendMessage/sendPhoto/sendDocument calls, answered Delivered once Telegram
/// confirmed, remembered so a repeated Deliver sends nothing again.
///
/// Threads: the bus loop (this class, one thread) never waits on HTTP. Bot API calls run on
/// a worker pool; long polling has its own thread that hands each batch to the bus loop
/// and waits until the router accepted all of it before asking for the next.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <weft/ipc/bus_client.hh>
#include <weft/service/config.hh>
#include <weft/service/notify.hh>

#include "bot_api.hh"
#include "delivered_log.hh"
#include "http_server.hh"
#include "telegram.hh"
#include "worker_pool.hh"

namespace weft::chan::telegram {

struct channel_options {
  service::telegram_settings settings;
  std::string state_dir;            ///< $WEFT_HOME/channels/telegram
  std::uint64_t max_blob_bytes = 0; ///< largest file passed on (bus limit minus room)
  std::string router = "router";
};

class channel {
 public:
  channel(ipc::bus_client& bus, service::notifier& notify, channel_options opts);
  ~channel();
  /// Runs until TERM/INT; returns the exit code.
  int run(int signal_fd);

 private:
  struct batch;
  struct job;
  using clock = std::chrono::steady_clock;

  // inbound
  void submit_batch(std::vector<update> updates, std::function<void(bool)> done);
  void fetch_media(std::shared_ptr<batch> b, std::size_t index);
  void send_inbound(std::shared_ptr<batch> b, std::size_t index);
  void finish_item(const std::shared_ptr<batch>& b, bool ok);
  void on_reply(const ipc::message& m);
  status save_offset(std::int64_t next);
  void poll_thread();
  void start_webhook();
  void on_webhook(http_server::conn_id c, const http_request& r);

  // outbound
  void on_deliver(const ipc::message& m);
  void run_step(const std::string& outbox_id);
  void on_step_done(const std::string& outbox_id, api_outcome o);
  void finish_job(const std::string& outbox_id, const error* failure);
  void start_next(const std::string& chat_id);

  void after(std::chrono::milliseconds d, std::function<void()> fn);
  void dispatch(const ipc::message& m);

  ipc::bus_client& _bus;
  service::notifier& _notify;
  channel_options _o;
  log::logger& _log;
  std::atomic<bool> _stop{false};
  bot_api _api;
  std::unique_ptr<delivered_log> _delivered;
  std::unique_ptr<worker_pool> _pool;
  std::unique_ptr<http_server> _http;
  std::thread _poller;
  std::mutex _stop_mu;
  std::condition_variable _stop_cv;
  std::int64_t _offset = 0;
  std::multimap<clock::time_point, std::function<void()>> _timers;
  std::map<std::uint64_t, std::pair<std::shared_ptr<batch>, std::size_t>> _inbound;  // request id -> item
  std::map<std::string, std::int64_t> _tg_message_ids;  // inbound id -> Telegram message_id
  std::deque<std::string> _tg_message_order;
  std::map<std::string, std::unique_ptr<job>> _jobs;    // by outbox_id
  std::map<std::string, std::deque<std::string>> _chat_queues;  // chat -> outbox ids, head active
  bool _stopping = false;
};

}  // namespace weft::chan::telegram
