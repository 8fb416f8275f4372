#include "services/llm/stream.hh"

#include <nlohmann/json.hpp>

#include "services/llm/provider_api.hh"

namespace weft::llm {

using json = nlohmann::json;

status stream_decoder::feed(std::string_view bytes, const std::function<void(std::string_view)>& on_text) {
  if (_error) return *_error;
  bool ok = _sse.feed(bytes);
  while (auto e = _sse.next()) {
    if (_error || _finished) continue;  // nothing after the end marker or an error counts
    auto s = on_event(*e, on_text);
    if (!s) _error = s.take_error();
  }
  if (!ok && !_error)
    _error = lv::make(lv::error_code::malformed, "Failed to read the provider's stream: an event exceeds the size limit");
  if (_error) return *_error;
  return {};
}

status stream_decoder::on_event(const sse_event& e, const std::function<void(std::string_view)>& on_text) {
  return _style == service::api_style::anthropic ? anthropic_event(e, on_text) : openai_event(e, on_text);
}

namespace {
std::string jstr(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}
std::uint64_t jcount(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return 0;
  auto v = it->get<std::int64_t>();
  return v < 0 ? 0 : static_cast<std::uint64_t>(v);
}
error malformed_event(std::string_view what) {
  return lv::make(lv::error_code::malformed, "Failed to read the provider's stream: {}", what);
}
/// An error the provider reported inside the stream: overload and rate limits are worth a
/// retry (RateLimited), anything else is Upstream.
error stream_error(const json& j) {
  std::string type, message;
  if (auto e = j.find("error"); e != j.end() && e->is_object()) {
    type = jstr(*e, "type");
    message = jstr(*e, "message");
  }
  auto code = (type == "overloaded_error" || type == "rate_limit_error") ? lv::error_code::rate_limited
                                                                           : lv::error_code::upstream;
  return lv::make(code, "The provider reported an error mid-stream{}: {}", type.empty() ? "" : " (" + type + ")",
                  message.empty() ? "(no message)" : message);
}
}  // namespace

status stream_decoder::openai_event(const sse_event& e, const std::function<void(std::string_view)>& on_text) {
  if (e.data == "[DONE]") {
    _finished = true;
    return {};
  }
  json j = json::parse(e.data, nullptr, false);
  if (!j.is_object()) return malformed_event("a chunk is not a JSON object");
  if (j.contains("error")) return stream_error(j);
  if (auto m = jstr(j, "model"); !m.empty()) _out.model = m;
  if (auto u = j.find("usage"); u != j.end() && u->is_object()) {
    _out.usage.input_tokens = jcount(*u, "prompt_tokens");
    _out.usage.output_tokens = jcount(*u, "completion_tokens");
  }
  auto choices = j.find("choices");
  if (choices == j.end() || !choices->is_array()) return {};
  for (auto& c : *choices) {
    if (!c.is_object()) continue;
    if (auto fr = jstr(c, "finish_reason"); !fr.empty()) _raw_stop = fr;
    auto d = c.find("delta");
    if (d == c.end() || !d->is_object()) continue;
    if (auto text = jstr(*d, "content"); !text.empty()) {
      _out.text += text;
      on_text(text);
    }
    auto calls = d->find("tool_calls");
    if (calls == d->end() || !calls->is_array()) continue;
    for (auto& tc : *calls) {
      if (!tc.is_object()) continue;
      auto idx = tc.find("index");
      if (idx == tc.end() || !idx->is_number_integer()) return malformed_event("a tool-call fragment has no index");
      auto& pc = _calls[idx->get<std::int64_t>()];
      if (auto id = jstr(tc, "id"); !id.empty()) pc.id = id;
      if (auto fn = tc.find("function"); fn != tc.end() && fn->is_object()) {
        if (auto n = jstr(*fn, "name"); !n.empty()) pc.name += n;
        pc.arguments += jstr(*fn, "arguments");
      }
      if (_calls.size() > 1024) return malformed_event("more than 1024 tool calls");
    }
  }
  return {};
}

status stream_decoder::anthropic_event(const sse_event& e, const std::function<void(std::string_view)>& on_text) {
  json j = json::parse(e.data, nullptr, false);
  if (!j.is_object()) return malformed_event("an event is not a JSON object");
  auto type = jstr(j, "type");
  if (type.empty()) type = e.event;
  if (type == "ping") return {};
  if (type == "error") return stream_error(j);
  if (type == "message_start") {
    auto m = j.find("message");
    if (m == j.end() || !m->is_object()) return malformed_event("message_start without 'message'");
    _out.model = jstr(*m, "model");
    if (auto u = m->find("usage"); u != m->end() && u->is_object())
      _out.usage.input_tokens = jcount(*u, "input_tokens") + jcount(*u, "cache_creation_input_tokens") +
                                jcount(*u, "cache_read_input_tokens");
    return {};
  }
  auto index = [&]() -> std::optional<std::int64_t> {
    auto it = j.find("index");
    if (it == j.end() || !it->is_number_integer()) return std::nullopt;
    return it->get<std::int64_t>();
  };
  if (type == "content_block_start") {
    auto i = index();
    auto b = j.find("content_block");
    if (!i || b == j.end() || !b->is_object()) return malformed_event("content_block_start without index or block");
    if (jstr(*b, "type") == "tool_use") {
      _calls[*i] = {jstr(*b, "id"), jstr(*b, "name"), {}};
      if (_calls.size() > 1024) return malformed_event("more than 1024 tool calls");
    } else if (jstr(*b, "type") == "text") {
      if (auto t = jstr(*b, "text"); !t.empty()) {
        _out.text += t;
        on_text(t);
      }
    }
    return {};
  }
  if (type == "content_block_delta") {
    auto i = index();
    auto d = j.find("delta");
    if (!i || d == j.end() || !d->is_object()) return malformed_event("content_block_delta without index or delta");
    auto dt = jstr(*d, "type");
    if (dt == "text_delta") {
      auto t = jstr(*d, "text");
      if (!t.empty()) {
        _out.text += t;
        on_text(t);
      }
    } else if (dt == "input_json_delta") {
      auto it = _calls.find(*i);
      if (it == _calls.end()) return malformed_event("input_json_delta for a block that is not a tool_use");
      it->second.arguments += jstr(*d, "partial_json");
    }
    return {};  // thinking_delta, signature_delta: not part of the answer text
  }
  if (type == "content_block_stop") {
    auto i = index();
    if (!i) return malformed_event("content_block_stop without index");
    if (auto it = _calls.find(*i); it != _calls.end()) {
      if (it->second.arguments.empty()) it->second.arguments = "{}";
      json a = json::parse(it->second.arguments, nullptr, false);
      if (!a.is_object()) return malformed_event("tool_use input is not a JSON object");
    }
    return {};
  }
  if (type == "message_delta") {
    if (auto d = j.find("delta"); d != j.end() && d->is_object())
      if (auto sr = jstr(*d, "stop_reason"); !sr.empty()) _raw_stop = sr;
    if (auto u = j.find("usage"); u != j.end() && u->is_object()) {
      _out.usage.output_tokens = jcount(*u, "output_tokens");
      if (u->contains("input_tokens")) _out.usage.input_tokens = jcount(*u, "input_tokens");
    }
    return {};
  }
  if (type == "message_stop") {
    _finished = true;
    return {};
  }
  return {};  // unknown event types are ignored, as the API asks
}

result<lv::completion> stream_decoder::finish() {
  if (_error) return *_error;
  if (!_finished)
    return lv::make(lv::error_code::malformed, "Failed to read the provider's stream: it ended before {}",
                    _style == service::api_style::anthropic ? "message_stop" : "[DONE]");
  lv::completion out = _out;
  for (auto& [i, c] : _calls) out.tool_calls.push_back({c.id, c.name, c.arguments.empty() ? "{}" : c.arguments});
  out.stop_reason = normalise_stop_reason(_style, _raw_stop);
  return out;
}

}  // namespace weft::llm
