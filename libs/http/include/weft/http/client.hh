#pragma once
/// Many concurrent HTTP requests on weft::event_loop, with libcurl's multi *socket*
/// interface: curl tells which sockets to wait for (CURLMOPT_SOCKETFUNCTION → loop.watch)
/// and when to wake it (CURLMOPT_TIMERFUNCTION → a loop timer), so a service waits on its
/// bus, its own descriptors and every transfer in the one loop and never blocks on the
/// network. Connections are kept alive and reused for later requests to the same host
/// (a pool of max_connections).
///
/// Per transfer: the response head once it is complete (status and headers, before any
/// body byte), 2xx body bytes streamed as they arrive (or collected, up to max_body), and
/// done exactly once — unless the caller cancel()s the transfer, which ends it silently.
/// done never runs inside start().

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <weft/base/event_loop.hh>
#include <weft/base/result.hh>

namespace weft::http {

struct client_options {
  /// A transfer's whole time, connect included; 0: no limit (a long-lived event stream).
  std::chrono::milliseconds timeout{120000};
  std::chrono::milliseconds connect_timeout{10000};
  /// A transfer that receives nothing for this long is ended; 0: no such limit. Rounded
  /// up to whole seconds (libcurl's low-speed check).
  std::chrono::milliseconds idle_timeout{0};
  /// Largest body collected into client_response::body (streamed bytes are not counted).
  std::size_t max_body = 16u << 20;
  /// Idle connections kept for reuse.
  long max_connections = 64;
  std::string user_agent = "weft/0.1";
};

/// One request. Unset optional limits take the client's.
struct client_request {
  std::string method = "GET";  ///< GET, POST, PUT, DELETE, …
  std::string url;             ///< http:// or https:// only
  std::vector<std::string> headers;  ///< "Name: value"
  std::string body;            ///< sent for any method but GET and HEAD when not empty (and always for POST)
  /// 2xx body bytes go to on_body as they arrive instead of into the response.
  bool stream = false;
  std::optional<std::chrono::milliseconds> timeout;
  std::optional<std::chrono::milliseconds> idle_timeout;
  std::optional<std::size_t> max_body;
};

/// How a transfer ended.
struct client_response {
  long status = 0;  ///< 0 when no response head arrived
  std::map<std::string, std::string> headers;  ///< lower-case names; the last value wins
  std::string body;           ///< collected body (a streamed 2xx body went to on_body instead)
  bool body_started = false;  ///< any body byte of a 2xx response arrived
  bool too_large = false;     ///< the collected body exceeded max_body (the transfer was ended)
  bool aborted = false;       ///< on_body returned false
  bool timed_out = false;     ///< the timeout or idle timeout ended it
  bool reused = false;        ///< it went over a kept-alive connection
  int curl_code = 0;          ///< CURLcode; 0 is success at the transport level
  std::string error;          ///< why the transport failed (curl's words), empty when it did not

  /// True when the transfer completed (whatever the status).
  bool ok() const { return curl_code == 0; }
};

class client {
 public:
  using id = std::uint64_t;
  /// The response head (status and headers), once, before the first body byte.
  using head_fn = std::function<void(const client_response&)>;
  /// Streamed 2xx body bytes; return false to end the transfer (aborted).
  using body_fn = std::function<bool(std::string_view)>;
  using done_fn = std::function<void(client_response)>;
  struct handlers {
    head_fn on_head;
    body_fn on_body;
    done_fn done;
  };

  /// errc::io when libcurl cannot make a multi handle. The client must not outlive `loop`.
  static result<std::unique_ptr<client>> create(event_loop& loop, client_options o = {});
  /// Ends every transfer without calling its handlers.
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  /// Starts a transfer; its handlers run on the loop's thread. May be called from any
  /// handler, including on_body.
  id start(client_request r, handlers h);
  /// Ends a transfer; none of its handlers runs again. Nothing happens for an id that
  /// already ended.
  void cancel(id t);
  /// Transfers in flight.
  std::size_t active() const { return _transfers.size(); }

 private:
  struct transfer;
  struct sock {
    event_loop::id watch = 0;
    std::uint32_t events = 0;
  };
  client(event_loop& loop, client_options o, void* multi);
  static int on_socket(void* easy, int fd, int what, void* self, void* sockp);
  static int on_timer(void* multi, long timeout_ms, void* self);
  static std::size_t on_write(char* p, std::size_t size, std::size_t n, void* tp);
  static std::size_t on_header(char* p, std::size_t size, std::size_t n, void* tp);
  void act(int fd, int flags);
  void finish_done();
  void add(id t);
  void fail_later(id t, std::string why);
  /// Takes a transfer out of the table and lets libcurl go of it; null when it is gone.
  std::unique_ptr<transfer> take(id t);
  void remove(transfer& t);

  event_loop& _loop;
  client_options _opts;
  void* _multi;  // CURLM*
  std::string _no_proxy;
  id _next = 1;
  std::unordered_map<id, std::unique_ptr<transfer>> _transfers;
  std::unordered_map<int, sock> _socks;
  event_loop::id _timer = 0;
  int _in_curl = 0;  // inside a libcurl call: its callbacks may not call back into libcurl
  std::shared_ptr<bool> _alive = std::make_shared<bool>(true);
};

}  // namespace weft::http
