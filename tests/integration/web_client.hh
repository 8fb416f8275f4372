#pragma once
/// A client of weft-chan-web's API for integration tests: its port and token as a client
/// finds them, POST /api/messages, and an SSE stream read with a deadline.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "tests/integration/fake_peer.hh"
#include "tests/integration/harness.hh"

namespace weft::test::web {

/// An open SSE stream: a raw socket with a GET sent, read with a deadline.
class sse_stream {
 public:
  sse_stream(std::uint16_t port, const std::string& path, const std::string& auth_header);
  ~sse_stream();
  sse_stream(const sse_stream&) = delete;
  sse_stream& operator=(const sse_stream&) = delete;
  /// Reads until `needle` appears in everything read so far (or the deadline passes).
  bool read_until(const std::string& needle, std::chrono::seconds timeout = std::chrono::seconds(60));
  const std::string& data() const { return _data; }

 private:
  int _fd = -1;
  std::string _data;
};

/// The port chan-web wrote to $WEFT_RUNTIME_DIR/web.port (0: not yet).
std::uint16_t web_port(stack& s);
/// The port chan-web listens on, once it wrote it (0 after 30 s).
std::uint16_t wait_web_port(stack& s);
/// The token chan-web generated (read from its 0600 file, as a client of the API does).
std::string web_token(stack& s);
std::vector<std::string> bearer(const std::string& token);
/// A POST /api/messages with the token.
http_reply post_message(std::uint16_t port, const std::string& token, const std::string& body);

}  // namespace weft::test::web
