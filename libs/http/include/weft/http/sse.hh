#pragma once
/// Server-Sent Events (the WHATWG text/event-stream format), both ways: the frames a server
/// writes (web chat, MCP streams) and one incremental parser for the streams weft reads
/// (LLM providers, MCP servers). Pure functions and a byte-driven state machine: no
/// sockets, unit-tested and fuzzed directly.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace weft::http {

// ---- writing -------------------------------------------------------------------------------

/// One event: an optional `id:` line, an optional `event:` name (CR and LF removed), the
/// data split into "data:" lines at every CR, LF or CRLF (so no text can end the event
/// early), then a blank line.
std::string sse_frame(std::string_view event, std::string_view data, std::optional<std::uint64_t> id = std::nullopt);
/// A comment line (": text"), which keeps idle proxies and the reader's connection alive.
std::string sse_comment(std::string_view text);

// ---- reading -------------------------------------------------------------------------------

/// One dispatched event.
struct sse_event {
  std::string event = "message";  ///< the event type; "message" when the stream named none
  std::string data;               ///< the data lines joined with '\n' (may be empty: "data:" alone)
  std::string id;                 ///< the stream's last event id when this event was dispatched
  std::optional<std::uint32_t> retry_ms;  ///< a valid `retry:` field inside this event
};

/// An incremental text/event-stream parser: feed() bytes cut anywhere (mid-line, mid-UTF-8,
/// between CR and LF), take complete events with next(). Lines end at CR, LF or CRLF; a
/// blank line dispatches; ':' lines are comments; an event without any data field is not
/// dispatched; unknown fields are ignored; a leading UTF-8 BOM is skipped.
///
/// Limit: a line longer than `max_bytes`, or an event whose data together exceeds it, fails
/// the stream (failed(); later input is ignored), so a peer cannot make it hold more.
class sse_parser {
 public:
  explicit sse_parser(std::size_t max_bytes = 4u << 20) : _max(max_bytes) {}

  /// Parses `bytes`; complete events wait for next(). False once the stream failed.
  bool feed(std::string_view bytes);
  /// The next complete event, in stream order.
  std::optional<sse_event> next();

  bool failed() const { return _failed; }
  /// The last `id:` the stream set (what a reconnect sends as Last-Event-ID).
  const std::string& last_event_id() const { return _last_id; }
  /// The last valid `retry:` the stream gave (the reconnection delay it asks for).
  std::optional<std::uint32_t> retry_ms() const { return _retry; }

 private:
  void line(std::string_view l);
  std::size_t _max;
  std::string _buf;
  bool _skip_lf = false;  // the last byte was CR: a following LF belongs to the same line end
  bool _first_line = true;
  bool _failed = false;
  sse_event _cur;
  bool _has_data = false;
  std::string _last_id;
  std::optional<std::uint32_t> _retry;
  std::vector<sse_event> _ready;
  std::size_t _taken = 0;
};

}  // namespace weft::http
