// weftctl security scan|explain: the scanner of libs/scan over skill and plugin folders, the
// installed skills, weft's configuration and $WEFT_HOME's permissions, with --fix (permissions,
// and inline secrets moved to <config dir>/weft.env: libs/scan secret_move); what a finding means
// (explain), the rule table as Markdown for docs/guides/security.md (explain --all --markdown).
// Read from the files: weft need not be running.
#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <weft/scan/audit.hh>
#include <weft/scan/report.hh>
#include <weft/scan/secret_move.hh>
#include <weft/service/config.hh>
#include <weft/service/paths.hh>

#include "commands.hh"

namespace weft::ctl {

namespace {

/// Rules whose findings --fix leaves to the admin, and why.
std::string not_fixed(const std::vector<scan::finding>& findings) {
  std::vector<std::string> ids;
  for (auto& f : findings) {
    auto id = std::string(f.r->id);
    bool moved = id == "CFG-002" || id == "CFG-003";  // unless the plan said it cannot (an error)
    bool manual = (f.r->fam == scan::family::config && !moved) || id == "FS-008";
    if (manual && std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  }
  if (ids.empty()) return {};
  std::string list;
  for (auto& i : ids) list += (list.empty() ? "" : ", ") + i;
  return fmt::format("not fixed by --fix: {} (configuration changes other than moving inline secrets, and "
                     "ownership, are left to you — see weftctl security explain ID)\n",
                     list);
}

/// How weftd comes to see the env file: it reads none itself.
std::string env_file_note(const std::string& env, bool applied) {
  return fmt::format(
      "weftd reads no env file itself: it substitutes ${{VAR}} from its own environment.\n"
      "  under systemd: the shipped unit has EnvironmentFile=-/etc/weft/weft.env; for a config elsewhere add\n"
      "    EnvironmentFile=-{0} (systemctl edit weftd)\n"
      "  started by hand: set -a; . {0}; set +a; then start weftd\n"
      "{1}",
      env,
      applied ? "restart weftd now: weftctl reload keeps its old environment, and a reload of the new config fails "
                "while the variables are unset\n"
              : "");
}

/// The inline-secret part of --fix: planned on every --fix, applied with --yes; the config
/// findings audited again after.
void fix_secrets(scan::report& rep, const std::string& config, bool yes, std::string& note) {
  auto plan = scan::plan_secret_moves(config);
  rep.errors.insert(rep.errors.end(), plan.errors.begin(), plan.errors.end());
  if (plan.moves.empty()) return;
  std::string err = yes ? scan::apply(plan) : std::string();
  for (auto& m : plan.moves) {
    scan::fix f;
    f.rule = m.rule;
    f.path = plan.config;
    f.action = fmt::format("move {} (line {}) to ${{{}}} in {}{}", m.key, m.line, m.var, plan.env_file,
                           m.reused ? " (already there)" : "");
    f.diff = m.diff;
    f.applied = yes && err.empty();
    f.error = err;
    rep.fixes.push_back(std::move(f));
  }
  if (!err.empty()) rep.errors.push_back(err);
  note = env_file_note(plan.env_file, yes && err.empty());
  if (!yes || !err.empty()) return;
  std::vector<scan::finding> kept;
  for (auto& f : rep.findings)
    if (f.r->fam != scan::family::config) kept.push_back(f);
  auto again = scan::audit_config_file(config);
  kept.insert(kept.end(), again.findings.begin(), again.findings.end());
  rep.findings = std::move(kept);
}

}  // namespace

int cmd_security_scan(const options& o, const security_args& a) {
  scan::report rep;
  rep.threshold = scan::parse_severity(a.severity).value_or(scan::severity::high);
  bool everything = a.paths.empty() && !a.installed && !a.config;
  std::string home = a.home.empty() ? service::home_dir() : a.home;
  std::string config;
  if (!a.config_file.empty()) config = a.config_file;
  else if (auto c = service::find_config("")) config = *c;

  std::vector<std::string> paths = a.paths;
  if (a.installed || everything) {
    auto dirs = scan::installed_skill_dirs(home, config);
    paths.insert(paths.end(), dirs.begin(), dirs.end());
  }
  if (!paths.empty()) {
    auto t = scan::scan_paths(paths);
    rep.paths = paths;
    rep.files = t.files;
    rep.bytes = t.bytes;
    rep.findings = std::move(t.findings);
    rep.errors = std::move(t.errors);
  } else if (a.installed || everything) {
    rep.paths = {};
  }
  if (a.config || everything) {
    if (!config.empty()) {
      auto c = scan::audit_config_file(config);
      rep.config = config;
      rep.findings.insert(rep.findings.end(), c.findings.begin(), c.findings.end());
      rep.errors.insert(rep.errors.end(), c.errors.begin(), c.errors.end());
    }
    rep.home = home;
    auto fs_findings = scan::audit_home(home, config, rep.fixes);
    rep.findings.insert(rep.findings.end(), fs_findings.begin(), fs_findings.end());
  }
  rep.fix_requested = a.fix;
  if (!a.fix) rep.fixes.clear();
  if (a.fix && a.yes) {
    for (auto& f : rep.fixes) scan::apply(f);
    rep.fix_applied = true;
    // What is left after the fixes: the filesystem audit again.
    std::vector<scan::finding> kept;
    for (auto& f : rep.findings)
      if (f.r->fam != scan::family::filesystem) kept.push_back(f);
    std::vector<scan::fix> unused;
    auto again = scan::audit_home(home, config, unused);
    kept.insert(kept.end(), again.begin(), again.end());
    rep.findings = std::move(kept);
    for (auto& f : rep.fixes)
      if (!f.error.empty()) rep.errors.push_back(f.error);
  }
  std::string env_note;
  if (a.fix && (a.config || everything) && !config.empty()) fix_secrets(rep, config, a.yes, env_note);
  rep.sort();

  if (o.json) {
    fmt::print("{}\n", scan::to_json(rep));
  } else {
    if (a.fix) {
      if (rep.fixes.empty()) fmt::print("--fix: nothing to change\n");
      else
        fmt::print("--fix{}:\n", rep.fix_applied ? "" : " (dry run; add --yes to make these changes)");
      for (auto& f : rep.fixes) {
        fmt::print("  {:<7} {}: {}{}\n", f.rule, f.path, f.action,
                   !rep.fix_applied ? "" : f.applied ? "  done" : "  FAILED: " + f.error);
        for (std::size_t p = 0; p < f.diff.size();) {
          auto e = f.diff.find('\n', p);
          fmt::print("    {}\n", f.diff.substr(p, e - p));
          p = e == std::string::npos ? f.diff.size() : e + 1;
        }
      }
      fmt::print("{}{}", env_note, not_fixed(rep.findings));
      if (rep.fix_applied) fmt::print("after the changes:\n");
    }
    fmt::print("{}", scan::to_text(rep));
    for (auto& e : rep.errors) fmt::print(stderr, "error: {}\n", e);
  }
  return rep.passed() && rep.errors.empty() ? 0 : 1;
}

int cmd_security_explain(const options& o, const security_args& a) {
  if (a.all) {
    if (a.markdown) {
      fmt::print("{}", scan::rules_markdown());
      return 0;
    }
    for (auto& r : scan::rules()) fmt::print("{}\n", scan::explain(r));
    return 0;
  }
  auto* r = scan::find_rule(a.id);
  if (!r) return failure(fmt::format("Failed to explain '{}': no such check (weftctl security explain --all lists them)", a.id));
  if (o.json)
    fmt::print("{}\n", nlohmann::json{{"id", r->id}, {"family", scan::to_string(r->fam)}, {"category", r->category},
                                      {"severity", scan::to_string(r->sev)}, {"title", r->title}, {"matches", r->matches},
                                      {"remediation", r->remediation}}
                           .dump(2));
  else
    fmt::print("{}", scan::explain(*r));
  return 0;
}

}  // namespace weft::ctl
