#pragma once
/// Streaming answers: a decoder per API style that turns the events of the provider's
/// Server-Sent-Events stream (parsed by libs/http's sse_parser, from chunks cut anywhere)
/// into text pieces and, at the end, one Completion.

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <weft/base/result.hh>
#include <weft/http/sse.hh>
#include <weft/service/config.hh>

#include "proto/llm_v1.hh"

namespace weft::llm {

namespace lv = weft::proto::llm_v1;

using http::sse_event;

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
  http::sse_parser _sse;
  bool _finished = false;
  std::optional<error> _error;
  lv::completion _out;
  std::string _raw_stop;
  std::map<std::int64_t, partial_call> _calls;  // by index, in index order
};

}  // namespace weft::llm
