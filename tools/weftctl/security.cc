// weftctl security scan|explain: the scanner of libs/scan over skill and plugin folders, the
// installed skills, weft's configuration and $WEFT_HOME's permissions, with --fix (permissions,
// and inline secrets moved to <config dir>/weft.env: libs/scan secret_move); what a finding means
// (explain), the rule table as Markdown for docs/guides/security.md (explain --all --markdown).
// Read from the files: weft need not be running; the runtime checks (--runtime, and a plain
// scan when weftd answers) ask weftd's status (with check_config) and the bus's quarantines.
#include <algorithm>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <weft/scan/audit.hh>
#include <weft/ipc/bus_client.hh>
#include <weft/plugin/manifest.hh>
#include <weft/scan/report.hh>
#include <weft/scan/runtime.hh>
#include <weft/scan/sandbox_fix.hh>
#include <weft/scan/secret_move.hh>
#include <weft/service/config.hh>
#include <weft/service/control_client.hh>
#include <weft/service/paths.hh>

#include "commands.hh"
#include "plugin_scan.hh"

namespace weft::ctl {

namespace fs = std::filesystem;

namespace {

/// Rules whose findings --fix leaves to the admin, and why.
std::string not_fixed(const std::vector<scan::finding>& findings) {
  std::vector<std::string> ids;
  for (auto& f : findings) {
    auto id = std::string(f.r->id);
    // unless the plan said it cannot (an error)
    bool moved = id == "CFG-002" || id == "CFG-003" || id == "CFG-015";
    bool manual = (f.r->fam == scan::family::config && !moved) || id == "FS-008";
    if (manual && std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  }
  if (ids.empty()) return {};
  std::string list;
  for (auto& i : ids) list += (list.empty() ? "" : ", ") + i;
  return fmt::format("not fixed by --fix: {} (configuration changes other than moving inline secrets and "
                     "turning the tool sandboxes back on, and ownership, are left to you — see weftctl security "
                     "explain ID)\n",
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

namespace sv = weft::proto::supervisor_v1;
namespace bus = weft::proto::bus_v1;

/// What the running weftd reports, as scan::runtime_view: its status with check_config, and
/// the agents the bus holds in quarantine. An error when weftd does not answer.
result<scan::runtime_view> ask_runtime(const options& o) {
  zmq::context_t ctx(1);
  auto c = service::control_client::connect(ctx, o.runtime_dir);
  if (!c) return c.take_error();
  auto r = (*c)->request(sv::status{.check_config = true}, std::chrono::milliseconds(o.timeout_ms));
  if (!r) return r.take_error();
  auto st = r->as<sv::status_reply>();
  if (!st) return st.take_error();
  scan::runtime_view v;
  v.where = "weftd:" + st->runtime_dir;
  v.config_file = st->config;
  v.config_checked = st->config_checked;
  v.config_added = st->config_added;
  v.config_error = st->config_error;
  for (auto& s : st->services)
    v.services.push_back({s.name, std::string(sv::to_string(s.state)), s.pid, s.sandbox, s.config});
  // The quarantines are the bus's; a bus that does not answer leaves them out (said on stderr).
  if (auto b = join_bus(ctx, o)) {
    if (auto q = (*b)->call("bus", bus::list_quarantined{}))
      if (auto list = q->as<bus::quarantine_list>())
        for (auto& x : list->agents) v.quarantined.push_back({x.agent, x.reason, x.by});
  } else {
    fmt::print(stderr, "note: the bus did not answer ({}); quarantined agents are not checked\n", b.err().message);
  }
  return v;
}

/// The installed plugin folders, <home>/plugins/<agent>/<name> with a plugin.toml, in name
/// order; hidden names (a staged install, a removal under way) and symlinks are passed over,
/// as weft-plugin-host passes them over.
std::vector<std::string> installed_plugin_dirs(const std::string& home) {
  auto sorted_dirs = [](const fs::path& dir) {
    std::vector<fs::path> out;
    std::error_code ec;
    for (auto& e : fs::directory_iterator(dir, ec)) {
      auto name = e.path().filename().string();
      if (name.empty() || name[0] == '.' || e.is_symlink(ec) || !e.is_directory(ec)) continue;
      out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  std::vector<std::string> out;
  for (auto& agent : sorted_dirs(fs::path(home) / "plugins"))
    for (auto& plugin : sorted_dirs(agent)) {
      std::error_code ec;
      if (fs::is_regular_file(fs::symlink_status(plugin / "plugin.toml", ec))) out.push_back(plugin.string());
    }
  return out;
}

/// The sandbox part of --fix: [services.tool-*] tables (CFG-015) commented out, so weftd
/// derives and sandboxes those processes again; planned on every --fix, applied with --yes.
void fix_sandbox(scan::report& rep, const std::string& config, bool yes, std::string& note) {
  auto plan = scan::plan_sandbox_fixes(config);
  rep.errors.insert(rep.errors.end(), plan.errors.begin(), plan.errors.end());
  if (plan.removals.empty()) return;
  std::string err = yes ? scan::apply(plan) : std::string();
  for (auto& r : plan.removals) {
    scan::fix f;
    f.rule = "CFG-015";
    f.path = plan.config;
    f.action = fmt::format("comment out [services.{}] (lines {}-{}): weftd derives it again, sandboxed", r.service,
                           r.first, r.last);
    f.diff = r.diff;
    f.applied = yes && err.empty();
    f.error = err;
    rep.fixes.push_back(std::move(f));
  }
  if (!err.empty()) rep.errors.push_back(err);
  note += yes && err.empty() ? "weftctl reload starts the sandboxed tool processes in place of the ones the tables ran\n"
                             : "after --yes: weftctl reload starts the sandboxed tool processes\n";
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
  bool everything = a.paths.empty() && !a.installed && !a.config && !a.runtime;
  std::string home = a.home.empty() ? service::home_dir() : a.home;
  std::string config;
  if (!a.config_file.empty()) config = a.config_file;
  else if (auto c = service::find_config("")) config = *c;

  std::vector<std::string> paths = a.paths;
  if (a.installed || everything) {
    auto dirs = scan::installed_skill_dirs(home, config);
    paths.insert(paths.end(), dirs.begin(), dirs.end());
    auto plugins = installed_plugin_dirs(home);
    paths.insert(paths.end(), plugins.begin(), plugins.end());
  }
  if (!paths.empty()) {
    auto t = scan::scan_paths(paths);
    rep.paths = paths;
    rep.files = t.files;
    rep.bytes = t.bytes;
    rep.findings = std::move(t.findings);
    rep.errors = std::move(t.errors);
    // A plugin folder: its manifest's descriptions and host functions besides its files.
    for (auto& p : paths) {
      std::error_code ec;
      if (!fs::is_regular_file(fs::path(p) / "plugin.toml", ec)) continue;
      auto m = plugin::load_manifest(p);
      if (!m) {
        rep.errors.push_back(m.err().message);
        continue;
      }
      auto f = plugin_findings(p, *m, p, rep.findings, rep.errors);
      rep.findings.insert(rep.findings.end(), f.begin(), f.end());
    }
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
  if (a.runtime || everything) {
    // A plain scan includes the runtime checks when weftd answers; --runtime insists.
    if (auto v = ask_runtime(o)) {
      rep.runtime = o.runtime_dir;
      auto f = scan::audit_runtime(*v);
      rep.findings.insert(rep.findings.end(), f.begin(), f.end());
    } else if (a.runtime) {
      rep.errors.push_back(fmt::format("Failed to ask weftd for the runtime checks: {}", v.err().message));
    }
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
  if (a.fix && (a.config || everything) && !config.empty()) {
    fix_secrets(rep, config, a.yes, env_note);
    fix_sandbox(rep, config, a.yes, env_note);
  }
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
