#pragma once
/// The web chat channel: a page and a small JSON + Server-Sent Events API on loopback.
/// POST /api/messages becomes an Inbound to the router (answered 202 after Accepted);
/// Delta events and Deliver replies are pushed to the browser streams of that session.
///
/// Delivery rule: a Deliver is answered Delivered once its event was written to every open
/// stream of the session, or — when no browser is connected — kept in memory (the newest
/// `max_kept_per_session` replies per session, at most `max_sessions` sessions) for the
/// next stream to pick up. Kept replies are lost when the process restarts; a reply written
/// to a stream is as delivered as the browser's connection allowed.

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include <weft/ipc/bus_client.hh>
#include <weft/service/config.hh>
#include <weft/service/notify.hh>

#include "delivered_log.hh"
#include "http_server.hh"
#include "proto/chat_v1.hh"

namespace weft::chan::web {

struct web_options {
  service::web_settings settings;
  std::string state_dir;   ///< $WEFT_HOME/channels/web
  std::string port_file;   ///< $WEFT_RUNTIME_DIR/web.port
  std::string router = "router";
  std::size_t max_kept_per_session = 20;
  std::size_t max_sessions = 256;
  std::size_t max_text_bytes = 32 * 1024;
};

/// The JSON of a "message" event for a reply: {id, reply_to, text, attachments:[{name, media_type, size}]}.
nlohmann::json message_event(const proto::chat_v1::message& m);
/// Session ids the API accepts: 1–128 of [A-Za-z0-9._:-].
bool valid_session(std::string_view s);
/// A random version-4 UUID.
std::string new_uuid();

class web_channel {
 public:
  web_channel(ipc::bus_client& bus, service::notifier& notify, web_options opts);
  /// Listens, writes the port file, and runs until TERM/INT. Returns the exit code.
  int run(int signal_fd);

 private:
  using conn_id = http_server::conn_id;
  using clock = std::chrono::steady_clock;
  struct kept {
    std::uint64_t seq;
    std::string data;  // the event's JSON
    bool pending;      // not yet written to any stream
  };
  struct session {
    std::set<conn_id> streams;
    std::deque<kept> recent;
    clock::time_point used;
  };
  struct pending_inbound {
    conn_id conn;
    std::string id;
    clock::time_point deadline;
  };

  void on_request(conn_id c, const http_request& r);
  bool authorized(const http_request& r) const;
  void post_message(conn_id c, const http_request& r);
  void open_stream(conn_id c, const http_request& r);
  void on_close(conn_id c);
  void on_deliver(const ipc::message& m);
  void on_delta(const ipc::message& m);
  void on_reply(const ipc::message& m);
  void dispatch(const ipc::message& m);
  session& session_for(const std::string& id);
  void respond_json(conn_id c, int status, const nlohmann::json& body);

  ipc::bus_client& _bus;
  service::notifier& _notify;
  web_options _o;
  log::logger& _log;
  std::unique_ptr<http_server> _http;
  std::unique_ptr<delivered_log> _delivered;
  std::map<std::string, session> _sessions;
  std::map<conn_id, std::string> _stream_session;
  std::map<std::uint64_t, pending_inbound> _inbound;  // bus request id -> waiting POST
  std::uint64_t _seq = 0;
  bool _stopping = false;
};

}  // namespace weft::chan::web
