#include "pending_answers.hh"

#include <nlohmann/json.hpp>

namespace weft::ctl {

using json = nlohmann::json;

namespace {

/// The id an answer to `v` (one message of the client's) will carry, if it gets one.
std::optional<std::string> awaited_id(const json& v) {
  if (!v.is_object()) return "null";  // invalid request: answered with a null id
  auto id = v.find("id");
  bool usable_id = id != v.end() && (id->is_string() || id->is_number());
  if (v.contains("method")) {
    if (id == v.end()) return std::nullopt;  // a notification
    return usable_id ? id->dump() : "null";
  }
  if (v.contains("result") || v.contains("error")) return std::nullopt;  // the client answering the server
  return usable_id ? id->dump() : "null";  // neither: an invalid request
}

/// The id of `v` when it is a response (one message of the server's).
std::optional<std::string> response_id(const json& v) {
  if (!v.is_object() || v.contains("method") || !(v.contains("result") || v.contains("error"))) return std::nullopt;
  auto id = v.find("id");
  return id == v.end() ? std::string("null") : id->dump();
}

}  // namespace

void pending_answers::sent(std::string_view line) {
  auto v = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (v.is_discarded()) {
    _ids.insert("null");  // a parse error is answered with a null id
    return;
  }
  if (v.is_array() && !v.empty()) {
    for (auto& item : v)
      if (auto id = awaited_id(item)) _ids.insert(*id);
    return;
  }
  if (auto id = awaited_id(v)) _ids.insert(*id);
}

void pending_answers::answered(std::string_view line) {
  auto v = json::parse(line, nullptr, /*allow_exceptions=*/false);
  auto strike = [&](const json& item) {
    if (auto id = response_id(item))
      if (auto it = _ids.find(*id); it != _ids.end()) _ids.erase(it);
  };
  if (v.is_array())
    for (auto& item : v) strike(item);
  else
    strike(v);
}

}  // namespace weft::ctl
