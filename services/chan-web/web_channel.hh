#pragma once
/// The web chat channel: a page and a small JSON + Server-Sent Events API on loopback.
/// POST /api/messages becomes an Inbound to the router (answered 202 after Accepted);
/// Delta events and Deliver replies are pushed to the browser streams of that session.
///
/// Authentication, always (Jupyter's scheme): the API needs a token, sent as
/// "Authorization: Bearer <token>" or as the HttpOnly, SameSite=Strict cookie a browser gets
/// when it opens the printed URL "/?token=<token>". The token is [channels.web] auth_token,
/// else a random one kept in the 0600 file token_file. The sender of a web message is the
/// token's identity ("web"), never what the request body says.
///
/// Delivery rule: a Deliver is answered Delivered once its event was written to every open
/// stream of the session, or — when no browser is connected — kept in memory (the newest
/// `max_kept_per_session` replies per session, at most `max_sessions` sessions) for the
/// next stream to pick up. Kept replies are lost when the process restarts; a reply written
/// to a stream is as delivered as the browser's connection allowed.
///
/// Runs on service::runtime: the HTTP server is on its event loop, requests to the router
/// are runtime calls (resent to a restarted router).

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include <weft/http/server.hh>
#include <weft/service/config.hh>
#include <weft/service/runtime.hh>

#include <weft/channel/delivered_log.hh>
#include "proto/chat_v1.hh"

namespace weft::chan::web {

struct web_options {
  service::web_settings settings;
  std::string state_dir;   ///< $WEFT_HOME/channels/web
  std::string port_file;   ///< $WEFT_RUNTIME_DIR/web.port
  std::string token_file;  ///< $WEFT_HOME/channels/web/token: the generated token (0600)
  std::string router = "router";
  std::size_t max_kept_per_session = 20;
  std::size_t max_sessions = 256;
  std::size_t max_text_bytes = 32 * 1024;
};

/// Who every authenticated web message is from (message.sender and meta user_id).
inline constexpr std::string_view web_identity = "web";

/// The JSON of a "message" event for a reply: {id, reply_to, text, attachments:[{name, media_type, size}]}.
nlohmann::json message_event(const proto::chat_v1::message& m);
/// Session ids the API accepts: 1–128 of [A-Za-z0-9._:-].
bool valid_session(std::string_view s);
/// A random version-4 UUID.
std::string new_uuid();
/// The name of the cookie carrying the token: per port, so two webs on one host do not
/// overwrite each other's (cookies ignore ports).
std::string cookie_name(std::uint16_t port);

class web_channel {
 public:
  /// Listens, writes the port file, prints the URL and registers the handlers on `rt`.
  /// errc::config for a non-loopback listen without auth_token, errc::invalid_argument for
  /// a listen that is not host:port, errc::address_in_use when it is taken, errc::io when
  /// the state or the token cannot be written.
  static result<std::unique_ptr<web_channel>> start(service::runtime& rt, web_options opts);

  std::uint16_t port() const { return _http->port(); }

 private:
  using conn_id = http::server::conn_id;
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
  enum class auth : std::uint8_t { none = 0, bearer = 1, cookie = 2 };

  web_channel(service::runtime& rt, web_options opts);
  status open();
  void on_request(conn_id c, const http::request& r);
  auth authenticate(const http::request& r) const;
  void open_page(conn_id c, const http::request& r);
  void post_message(conn_id c, const http::request& r);
  void open_stream(conn_id c, const http::request& r);
  void on_close(conn_id c);
  result<proto::chat_v1::delivered> on_deliver(const proto::chat_v1::deliver& d);
  void on_delta(const proto::chat_v1::delta& d);
  session& session_for(const std::string& id);
  void respond_json(conn_id c, int status, const nlohmann::json& body);

  service::runtime& _rt;
  web_options _o;
  log::logger& _log;
  std::string _token;
  std::unique_ptr<http::server> _http;
  std::unique_ptr<delivered_log> _delivered;
  std::map<std::string, session> _sessions;
  std::map<conn_id, std::string> _stream_session;
  std::size_t _inbound_calls = 0;  // POSTs waiting for the router's answer
  std::uint64_t _seq = 0;
  bool _stopping = false;
};

}  // namespace weft::chan::web
