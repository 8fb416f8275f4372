#include <weft/mcp/stdio.hh>

#include <cerrno>
#include <cstring>

#include <poll.h>
#include <unistd.h>

#include <weft/mcp/jsonrpc.hh>

namespace weft::mcp {

void line_reader::feed(std::string_view bytes) {
  while (!bytes.empty()) {
    auto nl = bytes.find('\n');
    auto piece = bytes.substr(0, nl);
    if (_discarding) {
      _dropped += piece.size();
    } else if (_partial.size() + piece.size() > _max) {
      _discarding = true;
      _dropped = _partial.size() + piece.size();
      std::string().swap(_partial);  // give the memory back, not just the size
    } else {
      _partial.append(piece);
    }
    if (nl == std::string_view::npos) return;
    end_line();
    bytes.remove_prefix(nl + 1);
  }
}

void line_reader::end_line() {
  if (_discarding) {
    _ready.push_back(make_error(domain, "InvalidRequest",
                                "Failed to read MCP message: line of {} bytes exceeds the limit of {} bytes",
                                _dropped, _max));
    _discarding = false;
    _dropped = 0;
    return;
  }
  if (!_partial.empty() && _partial.back() == '\r') _partial.pop_back();
  if (!_partial.empty()) _ready.push_back(std::move(_partial));
  _partial.clear();
}

std::optional<result<std::string>> line_reader::next() {
  if (_ready.empty()) return std::nullopt;
  auto r = std::move(_ready.front());
  _ready.pop_front();
  return r;
}

result<bool> line_reader::read_from(int fd) {
  char buf[64 * 1024];
  for (;;) {
    auto n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    if (n < 0) return fail(errc::io, "Failed to read MCP stream: {}", std::strerror(errno));
    if (n == 0) return false;
    feed(std::string_view(buf, static_cast<std::size_t>(n)));
    return true;
  }
}

result<std::string> frame(std::string_view json_text) {
  if (json_text.find('\n') != std::string_view::npos)
    return fail(errc::invalid_argument, "Failed to frame MCP message: it contains a raw newline");
  std::string out;
  out.reserve(json_text.size() + 1);
  out.append(json_text);
  out.push_back('\n');
  return out;
}

status write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    auto n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, -1) < 0 && errno != EINTR)
        return fail(errc::io, "Failed to write MCP stream: {}", std::strerror(errno));
      continue;
    }
    if (n < 0) return fail(errc::io, "Failed to write MCP stream: {}", std::strerror(errno));
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

}  // namespace weft::mcp
