#include "pending_answers.hh"

#include <nlohmann/json.hpp>

namespace weft::ctl {

using json = nlohmann::json;

namespace {

/// What an answer to `v` (one message of the client's) will be: the id of a request; "" for
/// a line answered with an error; nothing for notifications and the client's own responses.
std::optional<std::string> awaited_id(const json& v) {
  if (!v.is_object()) return "";
  auto id = v.find("id");
  bool usable_id = id != v.end() && (id->is_string() || id->is_number());
  if (v.contains("method")) {
    if (id == v.end()) return std::nullopt;  // a notification
    return usable_id ? id->dump() : "";
  }
  // The client answering a request of the server's: nothing comes back. Neither: an invalid request.
  if (v.contains("result") || v.contains("error")) return std::nullopt;
  return "";
}

/// The id of `v` when it is a response (one message of the server's): "null" when it has none.
std::optional<std::string> response_id(const json& v) {
  if (!v.is_object() || v.contains("method") || !(v.contains("result") || v.contains("error"))) return std::nullopt;
  auto id = v.find("id");
  return id == v.end() ? std::string("null") : id->dump();
}

}  // namespace

void pending_answers::sent(std::string_view line) {
  auto v = json::parse(line, nullptr, /*allow_exceptions=*/false);
  auto count = [&](const json& item) {
    auto id = awaited_id(item);
    if (!id) return;
    if (id->empty())
      ++_invalid;
    else
      _ids.insert(*id);
  };
  if (v.is_discarded())
    ++_invalid;  // answered with a parse error
  else if (v.is_array() && !v.empty())
    for (auto& item : v) count(item);
  else
    count(v);
}

void pending_answers::answered(std::string_view line) {
  auto v = json::parse(line, nullptr, /*allow_exceptions=*/false);
  auto strike = [&](const json& item) {
    auto id = response_id(item);
    if (!id) return;
    if (auto it = _ids.find(*id); it != _ids.end())
      _ids.erase(it);
    else if (_invalid > 0)
      --_invalid;  // an error answer to a line whose id was not a request's
  };
  if (v.is_array())
    for (auto& item : v) strike(item);
  else
    strike(v);
}

}  // namespace weft::ctl
