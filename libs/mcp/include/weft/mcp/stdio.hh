#pragma once
/// MCP's stdio transport framing: one JSON-RPC message per '\n'-terminated line
/// (protocols.md §1.2). The reader turns arbitrary byte chunks into complete lines with
/// bounded memory; the writer frames one serialised message per line.

#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include <weft/base/result.hh>

namespace weft::mcp {

/// Accumulates bytes and yields complete lines. A line longer than `max_line` bytes is
/// dropped while it streams in (never buffered past the limit); once its newline arrives
/// the reader yields one InvalidRequest error for it and continues with the next line.
/// Empty lines are skipped; a trailing '\r' is removed.
class line_reader {
 public:
  explicit line_reader(std::size_t max_line) : _max(max_line) {}

  /// Adds a chunk of bytes. Memory held is at most `max_line` plus the complete lines of
  /// this chunk not yet taken with next().
  void feed(std::string_view bytes);
  /// The next complete line, or the error for an over-long one; nullopt when none is ready.
  std::optional<result<std::string>> next();
  /// Bytes of the unfinished last line (for "stream ended mid-message" diagnostics).
  std::size_t partial_bytes() const { return _discarding ? _dropped : _partial.size(); }

  /// Reads once from `fd` (up to 64 KiB, retrying EINTR) and feeds the bytes. Returns false
  /// at end of file, an errc::io error on failure (EAGAIN counts as success with no data).
  result<bool> read_from(int fd);

 private:
  void end_line();

  std::size_t _max;
  std::string _partial;
  bool _discarding = false;
  std::size_t _dropped = 0;
  std::deque<result<std::string>> _ready;
};

/// One frame: `json_text` plus '\n'. Refuses text containing a newline (serialize() never
/// produces one), since it would split the message in two on the wire.
result<std::string> frame(std::string_view json_text);

/// Writes all of `bytes` to `fd`, retrying EINTR and waiting (poll) on EAGAIN. A peer that
/// closed its end raises SIGPIPE unless the process ignores it, then EPIPE.
status write_all(int fd, std::string_view bytes);

}  // namespace weft::mcp
