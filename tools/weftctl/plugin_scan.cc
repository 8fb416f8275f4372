// The plugin part of the scan, and the verdict helpers skill and plugin install share: see
// plugin_scan.hh.
#include "plugin_scan.hh"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <weft/plugin/folder.hh>

namespace weft::ctl {

std::string os_user() {
  auto uid = ::geteuid();
  std::string name = std::to_string(uid);
  if (auto* pw = ::getpwuid(uid)) name = pw->pw_name;
  if (const char* sudo = std::getenv("SUDO_USER"); sudo && *sudo && uid == 0) name += fmt::format(" (sudo from {})", sudo);
  return name;
}

void relocate(std::vector<scan::finding>& findings, const std::string& from, const std::string& to) {
  for (auto& f : findings)
    if (f.file.compare(0, from.size(), from) == 0) f.file = to + f.file.substr(from.size());
}

std::vector<std::string> blocking_ids(const scan::report& r) {
  std::vector<std::string> ids;
  for (auto& f : r.findings)
    if (f.r->sev >= r.threshold && std::find(ids.begin(), ids.end(), f.r->id) == ids.end()) ids.emplace_back(f.r->id);
  return ids;
}

std::vector<scan::finding> plugin_findings(const std::string& dir, const plugin::manifest& m, const std::string& shown,
                                           const std::vector<scan::finding>& already, std::vector<std::string>& errors) {
  std::vector<scan::finding> out;
  auto manifest_file = shown + "/plugin.toml";
  auto seen = [&](const scan::finding& f) {
    auto same = [&](const scan::finding& x) { return x.r == f.r && x.file == manifest_file; };
    return std::any_of(already.begin(), already.end(), same) || std::any_of(out.begin(), out.end(), same);
  };
  // Each description as a Markdown paragraph: prose, where the prompt-injection rules apply.
  auto prose = [&](const std::string& text, const std::string& what) {
    if (text.empty()) return;
    for (auto& f : scan::scan_text("description.md", text)) {
      f.file = manifest_file;
      if (seen(f)) continue;
      f.line = 0;
      f.message += fmt::format(" (in {})", what);
      out.push_back(std::move(f));
    }
  };
  prose(m.description, "description");
  for (auto& t : m.tools) prose(t.description, fmt::format("tool '{}' description", t.name));

  auto imported = plugin::imported_host_functions(dir + "/" + m.entry);
  if (!imported) {
    errors.push_back(fmt::format("Failed to read the module '{}/{}': {}", shown, m.entry, imported.err().message));
    return out;
  }
  std::vector<std::string> unused;
  for (auto f : m.permissions.host_functions)
    if (std::find(imported->begin(), imported->end(), f) == imported->end()) unused.emplace_back(plugin::name_of(f));
  if (!unused.empty()) {
    auto* r = scan::find_rule("SKL-079");
    out.push_back(scan::finding{r, manifest_file, 0,
                                fmt::format("{}: host_functions lists {} that {} does not import", r->title,
                                            fmt::join(unused, ", "), m.entry),
                                0});
  }
  return out;
}

std::string blocking_refusal(const std::vector<std::string>& blocking, scan::severity threshold) {
  return fmt::format("the scan found {} at or above {} ({}); nothing was installed. Read them with weftctl security "
                     "explain ID; to install it anyway: --force --reason TEXT (recorded in the witness chain)",
                     blocking.size() == 1 ? "a finding" : "findings", scan::to_string(threshold),
                     fmt::join(blocking, ", "));
}

}  // namespace weft::ctl
