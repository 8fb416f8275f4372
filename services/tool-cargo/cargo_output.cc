#include "services/tool-cargo/cargo_output.hh"

#include <set>
#include <tuple>

#include <nlohmann/json.hpp>

namespace weft::tools::cargo {

using json = nlohmann::json;

namespace {

/// A string field of a JSON object, or `fallback` when it is missing or not a string (input
/// from a program, checked: json::value() would throw on a field of another type).
std::string text_field(const json& j, const char* key, const char* fallback = "") {
  auto it = j.is_object() ? j.find(key) : j.end();
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string(fallback);
}

/// The replacement a compiler message suggests, if any (in its children's spans).
std::string suggestion(const json& m) {
  if (!m.contains("children") || !m["children"].is_array()) return {};
  for (auto& c : m["children"])
    if (c.contains("spans") && c["spans"].is_array())
      for (auto& s : c["spans"])
        if (s.contains("suggested_replacement") && s["suggested_replacement"].is_string())
          return s["suggested_replacement"].get<std::string>();
  return {};
}

}  // namespace

run_report parse_output(std::string_view out, const output_limits& lim) {
  run_report r;
  std::set<std::tuple<std::string, std::string, std::string, std::string, unsigned, unsigned>> seen;
  std::size_t failure = 0;  // 1 + the index in r.failed of the test whose output is being read; 0: none
  std::size_t pos = 0;
  while (pos < out.size()) {
    auto nl = out.find('\n', pos);
    auto line = out.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? out.size() : nl + 1;
    if (!line.empty() && line.front() == '{') {
      auto j = json::parse(line, nullptr, false);
      if (!j.is_object() || text_field(j, "reason") != "compiler-message" || !j.contains("message")) continue;
      auto& m = j["message"];
      diagnostic d;
      d.level = text_field(m, "level");
      d.message = text_field(m, "message");
      if (m.contains("code")) d.code = text_field(m["code"], "code");
      bool located = false;
      if (m.contains("spans") && m["spans"].is_array())
        for (auto& s : m["spans"])
          if (s.contains("is_primary") && s["is_primary"].is_boolean() && s["is_primary"].get<bool>()) {
            d.file = text_field(s, "file_name");
            d.line = s.contains("line_start") && s["line_start"].is_number_unsigned() ? s["line_start"].get<unsigned>() : 0;
            d.column = s.contains("column_start") && s["column_start"].is_number_unsigned() ? s["column_start"].get<unsigned>() : 0;
            located = true;
            break;
          }
      if (!located) continue;  // "aborting due to …", "N warnings emitted": summaries, not findings
      d.replacement = suggestion(m);
      if (!seen.insert({d.level, d.code, d.message, d.file, d.line, d.column}).second) continue;
      if (r.diagnostics.size() < lim.max_diagnostics) r.diagnostics.push_back(std::move(d));
      continue;
    }
    // libtest: "test a::b ... ok" / "... FAILED" / "... ignored[, reason]".
    if (line.rfind("test ", 0) == 0) {
      auto dots = line.find(" ... ");
      if (dots != std::string_view::npos) {
        auto name = std::string(line.substr(5, dots - 5));
        auto outcome = line.substr(dots + 5);
        if (outcome == "ok") r.passed.push_back(name);
        else if (outcome.rfind("FAILED", 0) == 0) r.failed.push_back({name, {}});
        else if (outcome.rfind("ignored", 0) == 0) r.ignored.push_back(name);
        continue;
      }
    }
    // "---- a::b stdout ----" opens the output of a failed test; "failures:" ends them.
    if (line.rfind("---- ", 0) == 0 && line.size() > 17 && line.substr(line.size() - 12) == " stdout ----") {
      auto name = std::string(line.substr(5, line.size() - 17));
      failure = 0;
      for (std::size_t i = 0; i < r.failed.size(); ++i)
        if (r.failed[i].first == name) failure = i + 1;
      continue;
    }
    if (line == "failures:" || line.rfind("test result:", 0) == 0) {
      failure = 0;
      continue;
    }
    if (failure) {
      auto& o = r.failed[failure - 1].second;
      if (o.size() < lim.max_output_bytes) o += std::string(line) + "\n";
      continue;
    }
    if (!line.empty() && r.other.size() < lim.max_output_bytes) r.other += std::string(line) + "\n";
  }
  return r;
}

}  // namespace weft::tools::cargo
