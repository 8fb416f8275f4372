#pragma once
/// Streaming answers: an incremental Server-Sent-Events parser that takes bytes in chunks
/// cut anywhere (mid-line, mid-UTF-8, between \r and \n), and a decoder per API style that
/// turns the events into text pieces and, at the end, one Completion.

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <weft/base/result.hh>
#include <weft/service/config.hh>

#include "proto/llm_v1.hh"

namespace weft::llm {

namespace lv = weft::proto::llm_v1;

/// One dispatched SSE event.
struct sse_event {
  std::string event;  ///< "message" when the stream named none
  std::string data;   ///< data lines joined with '\n'
};

/// WHATWG event-stream parsing: `field: value` lines, data lines joined, a blank line
/// dispatches, ':' lines are comments. A line longer than `max_line` is an error.
class sse_parser {
 public:
  explicit sse_parser(std::size_t max_line = 4u << 20) : _max_line(max_line) {}
  /// Feeds bytes; calls `on_event` for each complete event. False when a line or event
  /// exceeded the limit (the parser is then unusable).
  bool feed(std::string_view bytes, const std::function<void(const sse_event&)>& on_event);

 private:
  void line(std::string_view l, const std::function<void(const sse_event&)>& on_event);
  std::string _buf;
  std::string _event, _data;
  bool _has_data = false;
  bool _skip_lf = false;  // the last byte was \r: a following \n belongs to the same line end
  std::size_t _max_line;
  bool _failed = false;
};

/// Decodes one streamed chat answer of either style. feed() returns the text pieces to
/// pass on; an error event mid-stream or an unreadable event is the returned error.
class stream_decoder {
 public:
  explicit stream_decoder(service::api_style style) : _style(style) {}

  /// Feeds raw body bytes; `on_text` gets each text piece in order.
  status feed(std::string_view bytes, const std::function<void(std::string_view)>& on_text);
  /// True once the stream's end marker arrived ([DONE] / message_stop).
  bool finished() const { return _finished; }
  /// The whole answer; Malformed when the stream ended before its end marker.
  result<lv::completion> finish();

 private:
  status on_event(const sse_event& e, const std::function<void(std::string_view)>& on_text);
  status openai_event(const sse_event& e, const std::function<void(std::string_view)>& on_text);
  status anthropic_event(const sse_event& e, const std::function<void(std::string_view)>& on_text);

  struct partial_call {
    std::string id, name, arguments;
  };
  service::api_style _style;
  sse_parser _sse;
  bool _finished = false;
  std::optional<error> _error;
  lv::completion _out;
  std::string _raw_stop;
  std::map<std::int64_t, partial_call> _calls;  // by index, in index order
};

}  // namespace weft::llm
