// The scan's report for people (text), for scripts (JSON, schema version 1, documented in
// docs/guides/security.md) and the rule table as Markdown for the guide.
#include <algorithm>
#include <array>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <weft/scan/report.hh>

namespace weft::scan {

using json = nlohmann::json;

void report::sort() {
  std::stable_sort(findings.begin(), findings.end(), [](const finding& a, const finding& b) {
    if (a.r->sev != b.r->sev) return a.r->sev > b.r->sev;
    if (a.file != b.file) return a.file < b.file;
    if (a.line != b.line) return a.line < b.line;
    return a.r->id < b.r->id;
  });
}

namespace {

std::string location(const finding& f) { return f.line ? fmt::format("{}:{}", f.file, f.line) : f.file; }

std::string md_cell(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n') out += ' ';
    else out += c;
  }
  return out;
}

}  // namespace

std::string to_json(const report& r) {
  json counts = json::object();
  for (auto s : {severity::info, severity::low, severity::medium, severity::high, severity::critical})
    counts[std::string(to_string(s))] = std::count_if(r.findings.begin(), r.findings.end(), [s](auto& f) { return f.r->sev == s; });
  json findings = json::array();
  for (auto& f : r.findings)
    findings.push_back({{"id", f.r->id}, {"family", to_string(f.r->fam)}, {"category", f.r->category},
                        {"severity", to_string(f.r->sev)}, {"file", f.file}, {"line", f.line}, {"message", f.message},
                        {"more", f.more}, {"remediation", f.r->remediation}});
  json doc = {{"version", 1},
              {"scanned", {{"paths", r.paths}, {"config", r.config}, {"home", r.home}, {"runtime", r.runtime}}},
              {"files", r.files},
              {"bytes", r.bytes},
              {"threshold", to_string(r.threshold)},
              {"passed", r.passed()},
              {"counts", counts},
              {"findings", findings},
              {"errors", r.errors}};
  if (r.fix_requested) {
    json fixes = json::array();
    for (auto& x : r.fixes) {
      json c = {{"id", x.rule}, {"path", x.path}, {"action", x.action}, {"applied", x.applied}, {"error", x.error}};
      if (!x.diff.empty()) c["diff"] = x.diff;
      fixes.push_back(std::move(c));
    }
    doc["fix"] = {{"dry_run", !r.fix_applied}, {"changes", fixes}};
  }
  // Text from scanned files may hold invalid UTF-8; excerpts escape it, paths may not.
  return doc.dump(2, ' ', false, json::error_handler_t::replace);
}

std::string to_text(const report& r) {
  std::string out;
  for (auto& f : r.findings) {
    out += fmt::format("{:<8} {:<8} {}  {}", to_string(f.r->sev), f.r->id, location(f), f.message);
    if (f.more) out += fmt::format(" (+{} more)", f.more);
    out += '\n';
  }
  std::array<std::size_t, 5> n{};
  for (auto& f : r.findings) ++n[static_cast<std::size_t>(f.r->sev)];
  std::vector<std::string> what;
  if (!r.paths.empty()) what.push_back(fmt::format("{} files ({} bytes)", r.files, r.bytes));
  if (!r.config.empty()) what.push_back("config " + r.config);
  if (!r.home.empty()) what.push_back("home " + r.home);
  if (!r.runtime.empty()) what.push_back("weftd at " + r.runtime);
  std::string scanned;
  for (auto& w : what) scanned += (scanned.empty() ? "" : ", ") + w;
  out += fmt::format("{}: {} critical, {} high, {} medium, {} low, {} info — {} at or above {}\n",
                     scanned.empty() ? "nothing scanned" : "scanned " + scanned, n[4], n[3], n[2], n[1], n[0],
                     r.passed() ? "none" : "findings", to_string(r.threshold));
  if (!r.findings.empty()) out += "weftctl security explain ID tells what a finding means and how to fix it.\n";
  return out;
}

std::string explain(const rule& r) {
  return fmt::format("{}  {}\n  family:      {} ({})\n  severity:    {}\n  matches:     {}\n  remediation: {}\n", r.id,
                     r.title, to_string(r.fam), r.category, to_string(r.sev), r.matches, r.remediation);
}

std::string rules_markdown() {
  std::string out;
  std::size_t total = 0;
  for (auto fam : {family::skill, family::config, family::filesystem, family::runtime}) {
    std::size_t n = std::count_if(rules().begin(), rules().end(), [fam](auto& r) { return r.fam == fam; });
    total += n;
    out += fmt::format("### {} ({} checks)\n\n| id | severity | category | finding | matches | remediation |\n"
                       "| --- | --- | --- | --- | --- | --- |\n",
                       fam == family::skill        ? "Skills and plugins"
                       : fam == family::config     ? "Configuration"
                       : fam == family::filesystem ? "Filesystem"
                                                   : "Runtime (weftd running)",
                       n);
    for (auto& r : rules())
      if (r.fam == fam)
        out += fmt::format("| {} | {} | {} | {} | {} | {} |\n", r.id, to_string(r.sev), r.category, md_cell(r.title),
                           md_cell(r.matches), md_cell(r.remediation));
    out += '\n';
  }
  out += fmt::format("{} checks in all.\n", total);
  return out;
}

}  // namespace weft::scan
