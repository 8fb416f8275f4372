// --fix for CFG-015: see sandbox_fix.hh.
#include <weft/scan/sandbox_fix.hh>

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include <weft/base/io.hh>
#include <weft/scan/audit.hh>

namespace weft::scan {

namespace fs = std::filesystem;

namespace {

/// The file as lines, each with its line ending ("\n", "\r\n" or none at the end).
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::size_t p = 0;
  while (p < text.size()) {
    auto e = text.find('\n', p);
    if (e == std::string::npos) e = text.size() - 1;
    out.push_back(text.substr(p, e - p + 1));
    p = e + 1;
  }
  return out;
}

std::string trimmed(std::string_view s) {
  auto a = s.find_first_not_of(" \t\r\n");
  if (a == std::string_view::npos) return {};
  auto b = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(a, b - a + 1));
}

/// The name of the table a header line opens ("[services.\"tool-fs-a\"]" → services.tool-fs-a),
/// without spaces and quotes; "" when the line is not a header. A comment after it is allowed.
std::string header_name(std::string_view line) {
  auto t = trimmed(line);
  if (t.empty() || t[0] != '[') return {};
  auto close = t.find(']');
  if (close == std::string::npos) return {};
  std::string name;
  for (char c : t.substr(t[1] == '[' ? 2 : 1, close - (t[1] == '[' ? 2 : 1)))
    if (c != ' ' && c != '\t' && c != '"' && c != '\'') name += c;
  return name.empty() ? std::string("?") : name;
}

std::string without_ending(const std::string& l) {
  auto e = l.find_last_not_of("\r\n");
  return e == std::string::npos ? std::string() : l.substr(0, e + 1);
}

std::string ending_of(const std::vector<std::string>& lines) {
  for (auto& l : lines)
    if (l.size() >= 2 && l.compare(l.size() - 2, 2, "\r\n") == 0) return "\r\n";
  return "\n";
}

}  // namespace

sandbox_plan plan_sandbox_fixes(const std::string& config_path) {
  sandbox_plan p;
  std::error_code ec;
  auto resolved = fs::canonical(config_path, ec);
  p.config = ec ? config_path : resolved.string();
  std::ifstream in(p.config, std::ios::binary);
  if (!in) {
    p.errors.push_back(fmt::format("Failed to read config '{}': {}", p.config, std::strerror(errno)));
    return p;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  auto text = ss.str();
  struct stat st {};
  if (::stat(p.config.c_str(), &st) == 0) p.config_mode = st.st_mode & 07777;

  std::vector<std::string> services;
  for (auto& f : audit_config_text(text, p.config))
    if (f.r->id == std::string_view("CFG-015")) {
      // "…: [services.tool-shell-main]"
      auto a = f.message.rfind("[services."), b = f.message.rfind(']');
      if (a != std::string::npos && b > a) services.push_back(f.message.substr(a + 10, b - a - 10));
    }
  if (services.empty()) {
    p.new_config = text;
    return p;
  }
  auto lines = lines_of(text);
  auto nl = ending_of(lines);
  std::vector<bool> commented(lines.size(), false);
  std::vector<std::size_t> note_before;  // header indexes, a note line goes above each
  for (auto& svc : services) {
    auto name = "services." + svc;
    std::size_t first = lines.size();
    for (std::size_t i = 0; i < lines.size(); ++i)
      if (header_name(lines[i]) == name) {
        first = i;
        break;
      }
    if (first == lines.size()) {
      p.errors.push_back(fmt::format("Failed to comment out [services.{}] in '{}': it is not written as a [services.{}] "
                                     "table; remove it by hand",
                                     svc, p.config, svc));
      continue;
    }
    // The table and its sub-tables ([services.<name>.env]) up to the next other table; blank
    // lines and comments at its end stay, as they may belong to what follows.
    std::size_t last = first;
    for (std::size_t i = first + 1; i < lines.size(); ++i) {
      auto h = header_name(lines[i]);
      if (!h.empty() && h != name && h.rfind(name + ".", 0) != 0) break;
      auto t = trimmed(lines[i]);
      if (!t.empty() && t[0] != '#') last = i;
    }
    for (auto i = first; i <= last; ++i) commented[i] = true;
    note_before.push_back(first);
    table_removal r{svc, static_cast<std::uint32_t>(first + 1), static_cast<std::uint32_t>(last + 1), {}};
    auto n = last - first + 1;
    r.diff = fmt::format("--- {0}\n+++ {0}\n@@ -{1},{2} +{1},{3} @@\n", p.config, first + 1, n, n + 1);
    for (auto i = first; i <= last; ++i) r.diff += "-" + without_ending(lines[i]) + "\n";
    r.diff += fmt::format("+# weftctl security scan --fix (CFG-015): weftd derives {} and sandboxes it; this table "
                          "ran it without its sandbox\n",
                          svc);
    for (auto i = first; i <= last; ++i) r.diff += "+# " + without_ending(lines[i]) + "\n";
    p.removals.push_back(std::move(r));
  }
  std::string out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (std::find(note_before.begin(), note_before.end(), i) != note_before.end())
      out += fmt::format("# weftctl security scan --fix (CFG-015): weftd derives {} and sandboxes it; this table ran "
                         "it without its sandbox{}",
                         [&] {
                           for (auto& r : p.removals)
                             if (r.first == i + 1) return r.service;
                           return std::string();
                         }(),
                         nl);
    if (commented[i]) out += "# ";
    out += lines[i];
  }
  if (p.removals.empty()) {
    p.new_config = text;
    return p;
  }
  // The file after must still load, and without the findings of the tables commented out:
  // else nothing is changed.
  auto removed = [&](const finding& f) {
    return std::any_of(p.removals.begin(), p.removals.end(), [&](auto& r) {
      auto label = "[services." + r.service + "]";
      return f.message.size() >= label.size() && f.message.compare(f.message.size() - label.size(), label.size(), label) == 0;
    });
  };
  for (auto& f : audit_config_text(out, p.config))
    if (f.r->id == std::string_view("CFG-001") || (f.r->id == std::string_view("CFG-015") && removed(f))) {
      p.errors.push_back(fmt::format("Failed to comment out the [services.tool-*] tables of '{}': the result would still "
                                     "report {} ({}); edit it by hand",
                                     p.config, f.r->id, f.message));
      p.removals.clear();
      p.new_config = text;
      return p;
    }
  p.new_config = std::move(out);
  return p;
}

std::string apply(const sandbox_plan& p) {
  if (p.removals.empty()) return {};
  if (auto w = write_file_atomic(p.config, p.new_config, p.config_mode); !w)
    return fmt::format("Failed to write config '{}': {}", p.config, w.err().message);
  return {};
}

}  // namespace weft::scan
