#pragma once
/// Many concurrent HTTP requests on one thread with libcurl's multi interface: start()
/// adds a transfer, wait() sleeps until a curl socket, one of the caller's own fds (the
/// bus) or a timeout wakes it, perform() moves every transfer on and reports the finished
/// ones. Connections are kept alive and reused between requests to the same host.

#include <curl/curl.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "services/llm/provider_api.hh"

namespace weft::llm {

/// How a transfer ended.
struct http_response {
  CURLcode code = CURLE_OK;
  long status = 0;
  std::map<std::string, std::string> headers;  ///< lower-case names; the last value wins
  std::string body;        ///< the body (for a 2xx stream: empty, it went to on_body)
  bool too_large = false;  ///< the body exceeded max_response_bytes
  bool aborted = false;    ///< on_body asked to stop
  bool body_started = false;  ///< any body bytes of a 2xx response arrived
  std::string error;       ///< curl's reason when code != CURLE_OK
};

struct http_options {
  long timeout_ms = 120000;
  long connect_timeout_ms = 10000;
  std::size_t max_body = max_response_bytes;
  long max_connections = 64;  ///< kept-alive connections in the pool
};

class http_client {
 public:
  /// Streamed 2xx body bytes; return false to abort the transfer.
  using body_fn = std::function<bool(std::string_view)>;
  using done_fn = std::function<void(http_response)>;

  explicit http_client(http_options o);
  ~http_client();
  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;

  /// Starts a POST. For a streaming request, 2xx body bytes go to `on_body` as they
  /// arrive; anything else (and non-2xx bodies) is collected into the response.
  /// `done` is called from perform(), exactly once.
  void start(const http_request& r, body_fn on_body, done_fn done);

  /// Transfers in flight.
  std::size_t active() const { return _transfers.size(); }

  /// Waits until a curl socket or one of `extra` is ready, or `timeout_ms` passed
  /// (curl may wake earlier for its own timers). Fills `extra[i].revents`.
  void wait(std::span<curl_waitfd> extra, int timeout_ms);

  /// Moves transfers on; calls `done` for each finished one.
  void perform();

 private:
  struct transfer;
  static std::size_t on_write(char* p, std::size_t size, std::size_t n, void* self);
  static std::size_t on_header(char* p, std::size_t size, std::size_t n, void* self);

  http_options _opts;
  CURLM* _multi = nullptr;
  std::map<CURL*, std::unique_ptr<transfer>> _transfers;
  std::string _no_proxy;
};

}  // namespace weft::llm
