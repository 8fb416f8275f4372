#include "services/llm/provider_api.hh"

#include <cstring>
#include <map>

#include <nlohmann/json.hpp>

namespace weft::llm {

using json = nlohmann::json;
using service::api_style;

namespace {

/// Parses JSON text that must be an object; nullopt-like failure as a discarded json.
bool parse_object(std::string_view text, json& out) {
  out = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  return out.is_object();
}

std::string join_url(const std::string& base, std::string_view path, const std::string& api_version) {
  std::string url = base;
  while (!url.empty() && url.back() == '/') url.pop_back();
  url += path;
  if (!api_version.empty()) url += "?api-version=" + api_version;
  return url;
}

void common_headers(const service::provider_settings& p, http_request& r) {
  r.headers.push_back("Content-Type: application/json");
  r.headers.push_back("Expect:");  // no 100-continue round trip
  for (auto& [k, v] : p.headers) r.headers.push_back(k + ": " + v);
}

void auth_headers(const service::provider_settings& p, http_request& r) {
  if (p.style == api_style::anthropic) {
    if (!p.api_key.empty()) r.headers.push_back("x-api-key: " + p.api_key);
    r.headers.push_back("anthropic-version: 2023-06-01");
  } else if (!p.api_version.empty()) {  // Azure OpenAI
    if (!p.api_key.empty()) r.headers.push_back("api-key: " + p.api_key);
  } else if (!p.api_key.empty()) {
    r.headers.push_back("Authorization: Bearer " + p.api_key);
  }
}

result<json> tool_schema(const lv::tool_spec& t) {
  if (t.input_schema.empty()) return json{{"type", "object"}};
  json s;
  if (!parse_object(t.input_schema, s))
    return lv::make(lv::error_code::bad_request, "Failed to use tool '{}': its input_schema is not a JSON object",
                    t.name);
  return s;
}

result<json> call_arguments(const lv::tool_call& c) {
  if (c.arguments.empty()) return json::object();
  json a;
  if (!parse_object(c.arguments, a))
    return lv::make(lv::error_code::bad_request, "Failed to send tool call '{}' ({}): its arguments are not a JSON object",
                    c.name, c.id);
  return a;
}

result<json> openai_body(const std::string& model, const lv::complete& c, bool stream) {
  json msgs = json::array();
  if (!c.system.empty()) msgs.push_back({{"role", "system"}, {"content", c.system}});
  for (auto& t : c.messages) {
    switch (t.role) {
      case lv::role::user: msgs.push_back({{"role", "user"}, {"content", t.text}}); break;
      case lv::role::assistant: {
        json m{{"role", "assistant"}};
        m["content"] = t.text.empty() && !t.tool_calls.empty() ? json(nullptr) : json(t.text);
        if (!t.tool_calls.empty()) {
          json calls = json::array();
          for (auto& tc : t.tool_calls) {
            // OpenAI carries arguments as JSON text; check it so a bad one fails here, typed.
            auto a = call_arguments(tc);
            if (!a) return a.take_error();
            calls.push_back({{"id", tc.id},
                             {"type", "function"},
                             {"function", {{"name", tc.name}, {"arguments", tc.arguments.empty() ? "{}" : tc.arguments}}}});
          }
          m["tool_calls"] = std::move(calls);
        }
        msgs.push_back(std::move(m));
        break;
      }
      case lv::role::tool:
        msgs.push_back({{"role", "tool"}, {"tool_call_id", t.tool_call_id}, {"content", t.text}});
        break;
      default: return lv::make(lv::error_code::bad_request, "Failed to use a message with an unknown role");
    }
  }
  json body{{"model", model}, {"messages", std::move(msgs)}};
  if (!c.tools.empty()) {
    json tools = json::array();
    for (auto& t : c.tools) {
      auto s = tool_schema(t);
      if (!s) return s.take_error();
      tools.push_back({{"type", "function"},
                       {"function", {{"name", t.name}, {"description", t.description}, {"parameters", std::move(*s)}}}});
    }
    body["tools"] = std::move(tools);
  }
  if (c.max_tokens > 0) body["max_tokens"] = c.max_tokens;
  if (stream) {
    body["stream"] = true;
    body["stream_options"] = {{"include_usage", true}};
  }
  return body;
}

result<json> anthropic_body(const std::string& model, const lv::complete& c, bool stream) {
  // Anthropic wants alternating roles and every tool result of one assistant turn in the
  // user message right after it: consecutive user-side turns (tool results, then perhaps
  // the person's text) are merged into one user message of several blocks.
  json msgs = json::array();
  auto append = [&](const char* role, json block) {
    if (!msgs.empty() && msgs.back()["role"] == role) msgs.back()["content"].push_back(std::move(block));
    else msgs.push_back({{"role", role}, {"content", json::array({std::move(block)})}});
  };
  for (auto& t : c.messages) {
    switch (t.role) {
      case lv::role::user: append("user", {{"type", "text"}, {"text", t.text}}); break;
      case lv::role::assistant:
        if (!t.text.empty() || t.tool_calls.empty()) append("assistant", {{"type", "text"}, {"text", t.text}});
        for (auto& tc : t.tool_calls) {
          auto a = call_arguments(tc);
          if (!a) return a.take_error();
          append("assistant", {{"type", "tool_use"}, {"id", tc.id}, {"name", tc.name}, {"input", std::move(*a)}});
        }
        break;
      case lv::role::tool: {
        json b{{"type", "tool_result"}, {"tool_use_id", t.tool_call_id}, {"content", t.text}};
        if (t.is_error) b["is_error"] = true;
        append("user", std::move(b));
        break;
      }
      default: return lv::make(lv::error_code::bad_request, "Failed to use a message with an unknown role");
    }
  }
  json body{{"model", model},
            {"max_tokens", c.max_tokens > 0 ? c.max_tokens : anthropic_default_max_tokens},
            {"messages", std::move(msgs)}};
  if (!c.system.empty()) body["system"] = c.system;
  if (!c.tools.empty()) {
    json tools = json::array();
    for (auto& t : c.tools) {
      auto s = tool_schema(t);
      if (!s) return s.take_error();
      tools.push_back({{"name", t.name}, {"description", t.description}, {"input_schema", std::move(*s)}});
    }
    body["tools"] = std::move(tools);
  }
  if (stream) body["stream"] = true;
  return body;
}

std::uint64_t count(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return 0;
  auto v = it->get<std::int64_t>();
  return v < 0 ? 0 : static_cast<std::uint64_t>(v);
}

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

result<http_request> build_complete_request(const service::provider_settings& p, const std::string& model,
                                            const lv::complete& c, bool stream) {
  if (c.messages.empty())
    return lv::make(lv::error_code::bad_request, "Failed to complete for agent '{}': the request has no messages", c.agent);
  auto body = p.style == api_style::anthropic ? anthropic_body(model, c, stream) : openai_body(model, c, stream);
  if (!body) return body.take_error();
  http_request r;
  r.method = "POST";
  r.url = join_url(p.base_url, p.style == api_style::anthropic ? "/messages" : "/chat/completions", p.api_version);
  common_headers(p, r);
  auth_headers(p, r);
  if (stream) r.headers.push_back("Accept: text/event-stream");
  r.body = body->dump(-1, ' ', false, json::error_handler_t::replace);
  r.stream = stream;
  return r;
}

result<http_request> build_embed_request(const service::provider_settings& p, const std::string& model,
                                         const std::vector<std::string>& inputs) {
  if (inputs.empty()) return lv::make(lv::error_code::bad_request, "Failed to embed: the request has no inputs");
  if (inputs.size() > max_embed_inputs)
    return lv::make(lv::error_code::bad_request, "Failed to embed {} texts: at most {} per request", inputs.size(),
                    max_embed_inputs);
  if (p.style != api_style::openai)
    return lv::make(lv::error_code::not_configured,
                    "Failed to embed with provider '{}': its API has no embeddings endpoint; set [llm] "
                    "embedding_provider to an OpenAI-compatible provider",
                    p.name);
  http_request r;
  r.method = "POST";
  r.url = join_url(p.base_url, "/embeddings", p.api_version);
  common_headers(p, r);
  auth_headers(p, r);
  json body{{"model", model}, {"input", inputs}, {"encoding_format", "float"}};
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

std::string normalise_stop_reason(api_style style, std::string_view reason) {
  if (style == api_style::anthropic) {
    if (reason == "end_turn" || reason == "stop_sequence" || reason == "pause_turn") return "stop";
    if (reason == "max_tokens") return "length";
    if (reason == "tool_use") return "tool_calls";
    if (reason == "refusal") return "refusal";
  } else {
    if (reason == "stop") return "stop";
    if (reason == "length") return "length";
    if (reason == "tool_calls" || reason == "function_call") return "tool_calls";
    if (reason == "content_filter") return "content_filter";
  }
  return reason.empty() ? "stop" : std::string(reason);
}

result<lv::completion> parse_complete_response(api_style style, std::string_view body) {
  json j;
  if (!parse_object(body, j))
    return lv::make(lv::error_code::malformed, "Failed to read the provider's answer: it is not a JSON object");
  lv::completion out;
  out.model = str(j, "model");
  if (style == api_style::anthropic) {
    auto content = j.find("content");
    if (content == j.end() || !content->is_array())
      return lv::make(lv::error_code::malformed, "Failed to read the provider's answer: no 'content' array");
    for (auto& b : *content) {
      if (!b.is_object()) continue;
      auto type = str(b, "type");
      if (type == "text") out.text += str(b, "text");
      else if (type == "tool_use") {
        auto input = b.find("input");
        out.tool_calls.push_back({str(b, "id"), str(b, "name"),
                                  input != b.end() ? input->dump(-1, ' ', false, json::error_handler_t::replace) : "{}"});
      }
    }
    out.stop_reason = normalise_stop_reason(style, str(j, "stop_reason"));
    if (auto u = j.find("usage"); u != j.end() && u->is_object()) {
      out.usage.input_tokens =
          count(*u, "input_tokens") + count(*u, "cache_creation_input_tokens") + count(*u, "cache_read_input_tokens");
      out.usage.output_tokens = count(*u, "output_tokens");
    }
    return out;
  }
  auto choices = j.find("choices");
  if (choices == j.end() || !choices->is_array() || choices->empty() || !(*choices)[0].is_object())
    return lv::make(lv::error_code::malformed, "Failed to read the provider's answer: no 'choices'");
  auto& choice = (*choices)[0];
  auto msg = choice.find("message");
  if (msg == choice.end() || !msg->is_object())
    return lv::make(lv::error_code::malformed, "Failed to read the provider's answer: choice without 'message'");
  out.text = str(*msg, "content");
  auto refusal = str(*msg, "refusal");
  if (auto calls = msg->find("tool_calls"); calls != msg->end() && calls->is_array()) {
    for (auto& c : *calls) {
      if (!c.is_object()) continue;
      auto fn = c.find("function");
      if (fn == c.end() || !fn->is_object())
        return lv::make(lv::error_code::malformed, "Failed to read the provider's answer: tool call without 'function'");
      out.tool_calls.push_back({str(c, "id"), str(*fn, "name"), str(*fn, "arguments")});
    }
  }
  out.stop_reason = normalise_stop_reason(style, str(choice, "finish_reason"));
  if (out.text.empty() && !refusal.empty()) {
    out.text = refusal;
    out.stop_reason = "refusal";
  }
  if (auto u = j.find("usage"); u != j.end() && u->is_object()) {
    out.usage.input_tokens = count(*u, "prompt_tokens");
    out.usage.output_tokens = count(*u, "completion_tokens");
  }
  return out;
}

wire::bytes to_f32le(const std::vector<float>& v) {
  wire::bytes out(v.size() * 4);
  for (std::size_t i = 0; i < v.size(); ++i) {
    std::uint32_t bits;
    std::memcpy(&bits, &v[i], 4);
    for (int b = 0; b < 4; ++b) out[i * 4 + b] = static_cast<std::uint8_t>(bits >> (8 * b));
  }
  return out;
}

result<lv::embeddings> parse_embed_response(std::string_view body, std::size_t inputs) {
  json j;
  if (!parse_object(body, j))
    return lv::make(lv::error_code::malformed, "Failed to read the embeddings: the answer is not a JSON object");
  auto data = j.find("data");
  if (data == j.end() || !data->is_array())
    return lv::make(lv::error_code::malformed, "Failed to read the embeddings: no 'data' array");
  std::map<std::size_t, std::vector<float>> by_index;
  for (auto& d : *data) {
    if (!d.is_object()) continue;
    auto idx = d.find("index");
    auto emb = d.find("embedding");
    if (idx == d.end() || !idx->is_number_unsigned() || emb == d.end() || !emb->is_array())
      return lv::make(lv::error_code::malformed, "Failed to read the embeddings: an entry lacks 'index' or 'embedding'");
    std::vector<float> v;
    v.reserve(emb->size());
    for (auto& x : *emb) {
      if (!x.is_number()) return lv::make(lv::error_code::malformed, "Failed to read the embeddings: a value is not a number");
      v.push_back(x.get<float>());
    }
    by_index[idx->get<std::size_t>()] = std::move(v);
  }
  lv::embeddings out;
  out.model = str(j, "model");
  for (std::size_t i = 0; i < inputs; ++i) {
    auto it = by_index.find(i);
    if (it == by_index.end())
      return lv::make(lv::error_code::malformed, "Failed to read the embeddings: no vector for input {}", i);
    if (i == 0) out.dims = static_cast<std::uint32_t>(it->second.size());
    else if (it->second.size() != out.dims)
      return lv::make(lv::error_code::malformed, "Failed to read the embeddings: vector {} has {} dimensions, not {}", i,
                      it->second.size(), out.dims);
    out.vectors.push_back(to_f32le(it->second));
  }
  return out;
}

std::string error_message(std::string_view body) {
  json j = json::parse(body.begin(), body.end(), nullptr, false);
  if (j.is_object()) {
    if (auto e = j.find("error"); e != j.end()) {
      if (e->is_object()) {
        auto m = str(*e, "message");
        if (!m.empty()) return m;
      } else if (e->is_string()) {
        return e->get<std::string>();
      }
    }
    auto m = str(j, "message");
    if (!m.empty()) return m;
  }
  std::string excerpt(body.substr(0, 200));
  for (auto& ch : excerpt)
    if (static_cast<unsigned char>(ch) < 0x20) ch = ' ';
  return excerpt.empty() ? "(empty body)" : excerpt;
}

std::string error_type(std::string_view body) {
  json j = json::parse(body.begin(), body.end(), nullptr, false);
  if (!j.is_object()) return {};
  auto e = j.find("error");
  if (e == j.end() || !e->is_object()) return {};
  auto t = str(*e, "type");
  return t.empty() ? str(*e, "code") : t;
}

}  // namespace weft::llm
