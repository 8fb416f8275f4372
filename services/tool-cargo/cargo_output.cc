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

package_report parse_package_output(std::string_view out, const output_limits& lim) {
  package_report r;
  auto trim = [](std::string_view v) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\r')) v.remove_suffix(1);
    return v;
  };
  diagnostic* open = nullptr;  // the last header, waiting for its --> line
  while (!out.empty()) {
    auto nl = out.find('\n');
    auto line = out.substr(0, nl);
    out = nl == std::string_view::npos ? std::string_view() : out.substr(nl + 1);
    auto t = trim(line);
    if (t.starts_with("Packaged ")) {
      r.summary = std::string(t.substr(0, 200));
      continue;
    }
    if (open && t.starts_with("--> ")) {
      // path:line:col; the path may contain ':' itself, the last two fields are numbers.
      auto loc = t.substr(4);
      auto c2 = loc.rfind(':');
      auto c1 = c2 == std::string_view::npos || c2 == 0 ? std::string_view::npos : loc.rfind(':', c2 - 1);
      if (c1 != std::string_view::npos) {
        auto num = [](std::string_view v) {
          unsigned n = 0;
          for (char ch : v.substr(0, 9)) {
            if (ch < '0' || ch > '9') return 0u;
            n = n * 10 + static_cast<unsigned>(ch - '0');
          }
          return n;
        };
        open->file = std::string(loc.substr(0, c1));
        open->line = num(loc.substr(c1 + 1, c2 - c1 - 1));
        open->column = num(loc.substr(c2 + 1));
      }
      open = nullptr;
      continue;
    }
    bool error = line.starts_with("error"), warning = line.starts_with("warning");
    if (!error && !warning) continue;
    open = nullptr;
    diagnostic d;
    d.level = error ? "error" : "warning";
    auto rest = line.substr(d.level.size());
    if (rest.starts_with("[")) {
      auto close = rest.find(']');
      if (close != std::string_view::npos) {
        d.code = std::string(rest.substr(1, std::min<std::size_t>(close - 1, 64)));
        rest = rest.substr(close + 1);
      }
    }
    if (!rest.starts_with(":")) continue;  // "errors" or "warning-free": not a header
    d.message = std::string(trim(rest.substr(1)).substr(0, 1000));
    // cargo's own closing lines repeat what the compiler said.
    if (d.message.starts_with("could not compile") || d.message.starts_with("aborting due to") ||
        d.message.find("previous error") != std::string::npos || d.message.find(" warnings emitted") != std::string::npos ||
        d.message.find(" warning emitted") != std::string::npos)
      continue;
    if (r.diagnostics.size() >= lim.max_diagnostics) continue;
    r.diagnostics.push_back(std::move(d));
    open = &r.diagnostics.back();
  }
  return r;
}

}  // namespace weft::tools::cargo
