#pragma once
/// A small non-blocking HTTP/1.1 server for the channels, driven from the service's own
/// poll loop (no threads): keep-alive, one request at a time per connection, answers that
/// may come later (after the router Accepted), and long-lived event streams (SSE).
///
/// Limits a peer cannot exceed: connections (max_connections; more are closed at once),
/// the header section and body of a request (http_limits), bytes queued for a slow reader
/// (max_output_bytes; the connection is closed), and time: a request must arrive within
/// request_timeout of its first byte and an idle keep-alive connection is closed after
/// idle_timeout. Connections waiting for an answer or streaming have no timeout here.

#include <poll.h>
#include <zmq.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <weft/base/log.hh>
#include <weft/base/result.hh>

#include "http.hh"

namespace weft::chan {

struct server_options {
  http_limits limits;
  std::size_t max_connections = 256;
  std::size_t max_output_bytes = 4u << 20;
  std::chrono::milliseconds request_timeout{30000};
  std::chrono::milliseconds idle_timeout{60000};
};

/// host:port split; port 0 means any free port. "localhost" is 127.0.0.1.
struct listen_address {
  std::string host;
  std::uint16_t port = 0;
};
result<listen_address> parse_listen(std::string_view text);
/// True for 127.0.0.0/8, ::1 and localhost.
bool is_loopback(std::string_view host);

/// zmq::poll speaks ZMQ_POLL* (ZMQ_POLLOUT is 2, ZMQ_POLLERR is 4 — POLLOUT's value), so the
/// events of poll_fds() are translated on the way into a zmq::pollitem_t and back: without it
/// a connection waiting to write is never polled for writing.
inline short zmq_events(short posix) {
  return static_cast<short>(((posix & POLLIN) ? ZMQ_POLLIN : 0) | ((posix & POLLOUT) ? ZMQ_POLLOUT : 0));
}
inline short posix_events(short zmq_revents) {
  return static_cast<short>(((zmq_revents & ZMQ_POLLIN) ? POLLIN : 0) | ((zmq_revents & ZMQ_POLLOUT) ? POLLOUT : 0) |
                            ((zmq_revents & ZMQ_POLLERR) ? (POLLERR | POLLHUP) : 0));
}

class http_server {
 public:
  using conn_id = std::uint64_t;
  /// A complete request; answer with respond() now or later, or start_stream().
  std::function<void(conn_id, const http_request&)> on_request;
  /// A connection that was waiting for an answer or streaming went away.
  std::function<void(conn_id)> on_close;

  static result<std::unique_ptr<http_server>> listen(const listen_address& where, server_options opts,
                                                     std::string log_name);
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  std::uint16_t port() const { return _port; }

  /// The descriptors to poll now, and what for.
  std::vector<pollfd> poll_fds() const;
  /// Handles readiness of the descriptors poll_fds() returned (any subset).
  void handle(const std::vector<pollfd>& ready);
  /// Closes connections past their deadlines; returns the time until the next deadline.
  std::chrono::milliseconds expire();

  /// Answers the connection's current request. False when it is gone.
  bool respond(conn_id c, int status, std::string_view content_type, std::string_view body,
               const std::vector<std::pair<std::string, std::string>>& extra = {});
  /// Answers with a response head without length; the connection then carries write()s
  /// until close(). False when it is gone.
  bool start_stream(conn_id c, std::string_view content_type);
  /// Queues bytes on a stream. False when the connection is gone or was closed because
  /// its reader is too slow (over max_output_bytes).
  bool write(conn_id c, std::string_view bytes);
  bool alive(conn_id c) const { return _conns.count(c) != 0; }
  void close(conn_id c);
  std::size_t connections() const { return _conns.size(); }

 private:
  enum class state : std::uint8_t { reading, waiting, streaming, closing };
  struct connection {
    int fd = -1;
    state st = state::reading;
    std::string in, out;
    bool keep_alive = true;
    std::chrono::steady_clock::time_point first_byte{}, last_activity{};
    bool has_partial = false;
  };
  http_server(int fd, std::uint16_t port, server_options opts, std::string log_name);
  void accept_all();
  void on_readable(conn_id id);
  void on_writable(conn_id id);
  void process(conn_id id);
  void flush(conn_id id);
  void drop(conn_id id, bool notify);

  int _listen_fd;
  std::uint16_t _port;
  server_options _opts;
  log::logger& _log;
  conn_id _next = 1;
  std::map<conn_id, connection> _conns;
  std::map<int, conn_id> _by_fd;
};

}  // namespace weft::chan
