#include "session.hh"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <limits>

#include <nlohmann/json.hpp>

#include <weft/base/fd.hh>
#include <weft/base/io.hh>

namespace weft::agent {

namespace llm = proto::llm_v1;
using json = nlohmann::json;

namespace {

std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}


bool parse_role(std::string_view s, llm::role& out) {
  if (s == "user") out = llm::role::user;
  else if (s == "assistant") out = llm::role::assistant;
  else if (s == "tool") out = llm::role::tool;
  else return false;
  return true;
}

// Lines written by us are valid UTF-8; replace invalid bytes from elsewhere instead of throwing.
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string str_field(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

/// Decodes one message line; an error names what is wrong.
result<entry> decode_message(const json& j) {
  entry e;
  auto role = j.find("role");
  if (role == j.end() || !role->is_string() || !parse_role(role->get<std::string>(), e.role))
    return fail(errc::malformed, "'role' must be user, assistant or tool");
  auto content = j.find("content");
  if (content != j.end() && !content->is_null()) {
    if (!content->is_string()) return fail(errc::malformed, "'content' must be a string");
    e.content = content->get<std::string>();
  }
  if (auto tc = j.find("tool_calls"); tc != j.end() && !tc->is_null()) {
    if (!tc->is_array()) return fail(errc::malformed, "'tool_calls' must be a list");
    for (auto& c : *tc) {
      if (!c.is_object() || !c.contains("id") || !c.contains("name"))
        return fail(errc::malformed, "each tool call needs 'id' and 'name'");
      llm::tool_call call;
      call.id = str_field(c, "id");
      call.name = str_field(c, "name");
      call.arguments = str_field(c, "arguments");
      e.tool_calls.push_back(std::move(call));
    }
  }
  e.tool_call_id = str_field(j, "tool_call_id");
  e.tool_name = str_field(j, "name");
  e.turn_id = str_field(j, "turn_id");
  e.ts = str_field(j, "ts");
  if (auto v = j.find("is_error"); v != j.end() && v->is_boolean()) e.is_error = v->get<bool>();
  if (auto v = j.find("structured"); v != j.end() && v->is_object()) e.structured = v->dump();
  if (auto v = j.find("final"); v != j.end() && v->is_boolean()) e.final = v->get<bool>();
  if (auto v = j.find("iterations"); v != j.end() && v->is_number_unsigned()) e.iterations = v->get<std::uint32_t>();
  if (auto v = j.find("tool_call_count"); v != j.end() && v->is_number_unsigned())
    e.tool_call_count = v->get<std::uint32_t>();
  if (e.role == llm::role::tool && e.tool_call_id.empty()) return fail(errc::malformed, "a tool message needs 'tool_call_id'");
  return e;
}

}  // namespace

std::string session_file_name(std::string_view key) {
  if (key.empty()) return "%00.jsonl";
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : key) {
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (plain) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  constexpr std::size_t max_stem = 200;
  if (out.size() > max_stem) {
    out.resize(max_stem - 17);
    // Never end inside a %XX escape.
    if (out.back() == '%') out.pop_back();
    else if (out[out.size() - 2] == '%') out.resize(out.size() - 2);
    out += fmt::format("~{:016x}", fnv1a(key));
  }
  return out + ".jsonl";
}

std::string encode_session_header(std::string_view key, std::string_view agent, std::string_view created) {
  json j = {{"type", "session"}, {"key", key}, {"agent", agent}, {"created", created}};
  return dump(j) + "\n";
}

std::string encode_entry(const entry& e) {
  json j;
  j["type"] = "message";
  j["role"] = llm::to_string(e.role);
  j["content"] = e.content;
  if (!e.tool_calls.empty()) {
    json calls = json::array();
    for (auto& c : e.tool_calls) calls.push_back({{"id", c.id}, {"name", c.name}, {"arguments", c.arguments}});
    j["tool_calls"] = std::move(calls);
  }
  if (e.role == llm::role::tool) {
    j["tool_call_id"] = e.tool_call_id;
    j["name"] = e.tool_name;
    j["is_error"] = e.is_error;
    // A delegated run's turns, cost and session: kept as JSON in the line, not as text.
    if (auto st = json::parse(e.structured, nullptr, false); !e.structured.empty() && st.is_object())
      j["structured"] = std::move(st);
  }
  j["ts"] = e.ts;
  j["turn_id"] = e.turn_id;
  if (e.final) {
    j["final"] = true;
    j["iterations"] = e.iterations;
    j["tool_call_count"] = e.tool_call_count;
  }
  return dump(j) + "\n";
}

std::string encode_summary(const summary_record& r) {
  json j = {{"type", "summary"}, {"from", r.from},         {"to", r.to},           {"first_ts", r.first_ts},
            {"last_ts", r.last_ts}, {"file", r.file}, {"created", r.created}, {"text", r.text}};
  return dump(j) + "\n";
}

loaded_session parse_session(std::string_view text, std::string_view file_name) {
  loaded_session out;
  std::size_t line_no = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    bool partial = nl == std::string_view::npos;
    auto line = text.substr(pos, partial ? std::string_view::npos : nl - pos);
    pos = partial ? text.size() : nl + 1;
    ++line_no;
    if (partial) out.needs_newline = true;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    auto warn = [&](std::string_view why) {
      out.warnings.push_back(fmt::format("{}:{}: {}, skipping the line", file_name, line_no, why));
    };
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      warn(partial ? "incomplete last line (not valid JSON)" : "not valid JSON");
      continue;
    }
    if (!j.is_object()) {
      warn("not a JSON object");
      continue;
    }
    auto type = str_field(j, "type");
    if (type == "session") {
      out.has_header = true;
      continue;
    }
    if (type == "summary") {
      summary_record r;
      auto from = j.find("from"), to = j.find("to");
      if (from == j.end() || to == j.end() || !from->is_number_unsigned() || !to->is_number_unsigned() ||
          from->get<std::uint64_t>() > to->get<std::uint64_t>()) {
        warn("a summary line needs 'from' <= 'to' (message ordinals)");
        continue;
      }
      r.from = from->get<std::uint64_t>();
      r.to = to->get<std::uint64_t>();
      r.first_ts = str_field(j, "first_ts");
      r.last_ts = str_field(j, "last_ts");
      r.file = str_field(j, "file");
      r.created = str_field(j, "created");
      r.text = str_field(j, "text");
      out.summaries.push_back(std::move(r));
      continue;
    }
    if (type != "message") {
      // nanobot/clawft files have no "type" on messages and "_type":"metadata" headers.
      if (j.contains("_type")) {
        out.has_header = true;
        continue;
      }
      if (!type.empty()) continue;  // a record of a newer kind: not ours to judge
    }
    auto e = decode_message(j);
    if (!e) {
      warn(e.err().message);
      continue;
    }
    out.entries.push_back(std::move(*e));
  }
  return out;
}

result<loaded_session> load_session(const std::string& path) {
  unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return loaded_session{};
    return fail(errc::io, "Failed to open session '{}': {}", path, std::strerror(errno));
  }
  auto text = read_to_end(fd.get(), std::numeric_limits<std::size_t>::max());
  if (!text) return fail(errc::io, "Failed to read session '{}': {}", path, text.err().message);
  return parse_session(*text, path);
}

}  // namespace weft::agent
