#pragma once
/// A small non-blocking HTTP/1.1 server on weft::event_loop (no threads of its own): it
/// watches its listening socket and its connections with loop.watch and keeps its deadlines
/// with loop timers. Keep-alive, one request at a time per connection (pipelined requests
/// wait their turn), answers that may come later (after the router accepted a message), and
/// long-lived event streams (SSE). Used by the web chat, the Telegram webhook receiver and
/// weft's MCP server.
///
/// Limits a peer cannot exceed: connections (max_connections; more are answered 503 and
/// closed at once), the header section and body of a request (limits), bytes queued for a
/// slow reader (max_output_bytes; the connection is closed), and time: a request must
/// arrive within request_timeout of its first byte (else 408), an idle keep-alive connection
/// is closed after idle_timeout, and a peer that does not read its error answer is closed
/// request_timeout after it was queued. Connections waiting for an answer or streaming have
/// no timeout here: their owner decides.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include <weft/base/event_loop.hh>
#include <weft/base/fd.hh>
#include <weft/base/log.hh>
#include <weft/base/result.hh>
#include <weft/http/request.hh>
#include <weft/http/response.hh>

namespace weft::http {

struct server_options {
  limits lim;
  std::size_t max_connections = 256;
  std::size_t max_output_bytes = 4u << 20;
  std::chrono::milliseconds request_timeout{30000};
  std::chrono::milliseconds idle_timeout{60000};
};

/// host:port split; port 0 means any free port. "localhost" is 127.0.0.1; "[::1]" is ::1.
struct listen_address {
  std::string host;
  std::uint16_t port = 0;
  /// "127.0.0.1:8780", "[::1]:80".
  std::string to_string() const;
};
/// errc::invalid_argument when `text` is not host:port.
result<listen_address> parse_listen(std::string_view text);
/// True for 127.0.0.0/8, ::1 and localhost.
bool is_loopback(std::string_view host);

class server {
 public:
  using conn_id = std::uint64_t;
  /// A complete request; answer with respond() now or later, or start_stream().
  std::function<void(conn_id, const request&)> on_request;
  /// A connection that was waiting for an answer or streaming went away.
  std::function<void(conn_id)> on_close;

  /// Binds and listens. errc::address_in_use ("Failed to listen on 127.0.0.1:8780: address
  /// in use") when another socket holds the address, errc::invalid_argument when the host
  /// is not an IP address, errc::io otherwise. The server must not outlive `loop`.
  static result<std::unique_ptr<server>> listen(event_loop& loop, const listen_address& where, server_options opts,
                                                std::string log_name);
  /// Listens on a UNIX socket at `path` (weft::listen_unix: a stale socket file replaced,
  /// `mode` on the file); port() is 0.
  static result<std::unique_ptr<server>> listen_unix(event_loop& loop, const std::string& path, mode_t mode,
                                                     server_options opts, std::string log_name);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  std::uint16_t port() const { return _port; }

  /// Answers the connection's current request. False when it is gone or not waiting.
  bool respond(conn_id c, int status, std::string_view content_type, std::string_view body,
               const header_list& extra = {});
  /// Answers with a response head without length; the connection then carries write()s
  /// until close(). False when it is gone.
  bool start_stream(conn_id c, std::string_view content_type);
  /// Queues bytes on a stream. False when the connection is gone or was closed because
  /// its reader is too slow (over max_output_bytes).
  bool write(conn_id c, std::string_view bytes);
  bool alive(conn_id c) const { return _conns.count(c) != 0; }
  /// Closes once what is queued is written.
  void close(conn_id c);
  /// Connections open now.
  std::size_t connections() const { return _conns.size(); }
  /// Connections accepted since listen() (tests: was a keep-alive connection reused?).
  std::uint64_t accepted() const { return _accepted; }

 private:
  enum class state : std::uint8_t { reading, waiting, streaming, closing };
  struct connection {
    unique_fd fd;
    event_loop::id watch = 0;
    std::uint32_t events = 0;  // what the watch waits for now
    event_loop::id timer = 0;
    event_loop::clock::time_point deadline = event_loop::clock::time_point::max();
    state st = state::reading;
    std::string in, out;
    bool keep_alive = true;
    event_loop::clock::time_point first_byte{}, last_activity{};
    bool has_partial = false;
  };
  server(event_loop& loop, unique_fd fd, std::uint16_t port, server_options opts, std::string log_name);
  static result<std::unique_ptr<server>> serve(event_loop& loop, unique_fd fd, std::uint16_t port, server_options opts,
                                                std::string log_name);
  void accept_all();
  void on_ready(conn_id id, std::uint32_t events);
  void on_readable(conn_id id);
  void process(conn_id id);
  void flush(conn_id id);
  void drop(conn_id id, bool notify);
  /// Makes the watch and the deadline timer match the connection's state.
  void update(conn_id id);
  void expire(conn_id id);

  event_loop& _loop;
  unique_fd _listen_fd;
  event_loop::id _listen_watch = 0;
  std::uint16_t _port;
  server_options _opts;
  log::logger& _log;
  conn_id _next = 1;
  std::uint64_t _accepted = 0;
  std::map<conn_id, connection> _conns;
};

}  // namespace weft::http
