#include <weft/mcp/jsonrpc.hh>

#include <algorithm>
#include <array>
#include <utility>

namespace weft::mcp {
namespace {

constexpr std::array<std::pair<int, std::string_view>, 10> names{{
    {code::parse_error, "ParseError"},
    {code::invalid_request, "InvalidRequest"},
    {code::method_not_found, "MethodNotFound"},
    {code::invalid_params, "InvalidParams"},
    {code::internal_error, "InternalError"},
    {code::server_error, "ServerError"},
    {code::resource_not_found, "ResourceNotFound"},
    {code::header_mismatch, "HeaderMismatch"},
    {code::missing_capability, "MissingClientCapability"},
    {code::unsupported_version, "UnsupportedProtocolVersion"},
}};

error invalid(std::string_view why) {
  return make_error(domain, "InvalidRequest", "Failed to read JSON-RPC message: {}", why);
}

// An id is valid if it is a string or an integer (MCP forbids null; JSON-RPC discourages fractions).
std::optional<request_id> read_id(const json& v) {
  if (v.is_string()) return request_id{v.get<std::string>()};
  if (v.is_number_integer() && !v.is_number_unsigned()) return request_id{v.get<std::int64_t>()};
  if (v.is_number_unsigned() && v.get<std::uint64_t>() <= std::uint64_t(INT64_MAX))
    return request_id{static_cast<std::int64_t>(v.get<std::uint64_t>())};
  return std::nullopt;
}

result<message> from_json(json& j) {
  if (j.is_array()) return invalid("batches are not supported (MCP 2025-06-18 removed them)");
  if (!j.is_object()) return invalid("not a JSON object");
  auto version = j.find("jsonrpc");
  if (version == j.end() || *version != "2.0") return invalid("member 'jsonrpc' must be \"2.0\"");

  auto id_it = j.find("id");
  std::optional<request_id> id;
  if (id_it != j.end() && !(id_it->is_null() && j.contains("error"))) {
    id = read_id(*id_it);
    if (!id) return invalid("member 'id' must be a string or an integer");
  }
  json params;
  if (auto p = j.find("params"); p != j.end()) {
    if (!p->is_object() && !p->is_array()) return invalid("member 'params' must be an object or an array");
    params = std::move(*p);
  }

  if (auto m = j.find("method"); m != j.end()) {
    if (!m->is_string() || m->get_ref<const std::string&>().empty())
      return invalid("member 'method' must be a non-empty string");
    auto method = m->get<std::string>();
    if (id) return message{request{std::move(*id), std::move(method), std::move(params)}};
    return message{notification{std::move(method), std::move(params)}};
  }
  if (auto r = j.find("result"); r != j.end()) {
    if (!id) return invalid("a response needs an 'id'");
    if (j.contains("error")) return invalid("a response has both 'result' and 'error'");
    return message{response{std::move(*id), std::move(*r)}};
  }
  if (auto e = j.find("error"); e != j.end()) {
    auto c = e->is_object() ? e->find("code") : e->end();
    auto msg = e->is_object() ? e->find("message") : e->end();
    if (c == e->end() || !c->is_number_integer() || msg == e->end() || !msg->is_string())
      return invalid("member 'error' needs an integer 'code' and a string 'message'");
    error_object eo{c->get<int>(), msg->get<std::string>(), e->value("data", json())};
    return message{error_response{std::move(id), std::move(eo)}};
  }
  return invalid("neither 'method', 'result' nor 'error' present");
}

}  // namespace

std::size_t nesting(std::string_view text, std::size_t limit) {
  std::size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      if (deepest > limit) break;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

std::string code_name(int number) {
  for (auto& [n, name] : names)
    if (n == number) return std::string(name);
  return std::to_string(number);
}

int code_number(const error& e) {
  if (e.domain != domain) return code::internal_error;
  for (auto& [n, name] : names)
    if (name == e.code) return n;
  try {
    std::size_t used = 0;
    int n = std::stoi(e.code, &used);
    if (used == e.code.size()) return n;
  } catch (const std::exception&) {
  }
  return code::internal_error;
}

json to_json(const request_id& id) {
  return std::visit([](const auto& v) { return json(v); }, id);
}

std::string to_string(const request_id& id) { return to_json(id).dump(); }

result<message> parse(std::string_view text, const limits& lim) {
  if (text.size() > lim.max_message_bytes)
    return make_error(domain, "InvalidRequest",
                      "Failed to read JSON-RPC message: {} bytes exceed the limit of {} bytes",
                      text.size(), lim.max_message_bytes);
  if (nesting(text, lim.max_depth) > lim.max_depth)
    return make_error(domain, "InvalidRequest", "Failed to read JSON-RPC message: nested deeper than {} levels",
                      lim.max_depth);
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded())
    return make_error(domain, "ParseError", "Failed to parse JSON-RPC message: not valid JSON");
  return from_json(j);
}

std::string serialize(const message& m) {
  json j = {{"jsonrpc", "2.0"}};
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, request>) j["id"] = to_json(v.id);
        if constexpr (std::is_same_v<T, request> || std::is_same_v<T, notification>) {
          j["method"] = v.method;
          if (!v.params.is_null()) j["params"] = v.params;
        }
        if constexpr (std::is_same_v<T, response>) {
          j["id"] = to_json(v.id);
          j["result"] = v.result;
        }
        if constexpr (std::is_same_v<T, error_response>) {
          j["id"] = v.id ? to_json(*v.id) : json();
          j["error"] = {{"code", v.error.code}, {"message", v.error.message}};
          if (!v.error.data.is_null()) j["error"]["data"] = v.error.data;
        }
      },
      m);
  // dump() escapes every control character, so no raw '\n' can appear; `replace` keeps
  // invalid UTF-8 from throwing.
  return j.dump(-1, ' ', /*ensure_ascii=*/false, json::error_handler_t::replace);
}

error_response refusal(const error& e) { return error_response{std::nullopt, to_error_object(e)}; }

error_object to_error_object(const error& e) {
  if (e.domain == domain) return error_object{code_number(e), e.message, json()};
  return error_object{code::internal_error, e.to_string(), json()};
}

error from_error_object(const error_object& e, std::string_view what) {
  return make_error(domain, code_name(e.code), "Failed to {}: {} (code {})", what, e.message, e.code);
}

}  // namespace weft::mcp
