// weftctl skill install|list|remove: skills put where agents find them, after the scan of
// libs/scan. An install is judged on the copy that will be installed (staged beside its
// destination by skill_install.cc), not on the source, which could change in between.
// Findings at or above the install severity refuse it; --force installs anyway, but only
// once the memory process has put who, what, which findings and why in the witness chain.
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <weft/scan/report.hh>
#include <weft/service/config.hh>
#include <weft/service/paths.hh>
#include <weft/skills/skills.hh>

#include "commands.hh"
#include "proto/bus_v1.hh"
#include "proto/memory_v1.hh"
#include "plugin_admin.hh"
#include "plugin_scan.hh"
#include "skill_install.hh"

namespace weft::ctl {

namespace fs = std::filesystem;
namespace mem = weft::proto::memory_v1;
using json = nlohmann::json;

namespace {

/// Where skills go: the installation weftd runs (its config and home) or, when weftd is not
/// running, the one weftctl finds as weftd would.
/// Where skills are read from and installed into: the installation weftd runs, or would.
using site = plugin_site;
result<site> find_site(const options& o) { return find_plugin_site(o); }

std::string workspace(const site& s, const std::string& id) {
  auto& a = s.cfg.agents.at(id);
  return a.workspace.empty() ? s.home + "/agents/" + id : a.workspace;
}

/// The skills directory an install or remove works on: the agent's <workspace>/skills, or
/// the shared $WEFT_HOME/skills.
result<std::string> skills_dir(const site& s, const std::string& agent) {
  if (agent.empty()) return s.home + "/skills";
  if (!s.cfg.agents.count(agent)) {
    std::vector<std::string> ids;
    for (auto& [id, a] : s.cfg.agents) ids.push_back(id);
    return fail(errc::not_found, "no agent '{}' in the config {} ({})", agent,
                s.config.empty() ? "(built-in default)" : "'" + s.config + "'",
                ids.empty() ? std::string("it has none") : fmt::format("agents: {}", fmt::join(ids, ", ")));
  }
  return workspace(s, agent) + "/skills";
}

/// A skill of the same name in another folder of `dir` (installed by hand under another
/// folder name): the install would leave two, and only one would be seen.
std::optional<std::string> other_folder_with(const std::string& dir, const std::string& name, const std::string& target) {
  std::vector<std::string> warnings;
  for (auto& s : skills::discover_skills({{dir, "here"}}, warnings))
    if (s.name == name && fs::path(s.path).parent_path() != fs::path(target)) return fs::path(s.path).parent_path().string();
  return std::nullopt;
}

}  // namespace

int cmd_skill_install(const options& o, const skill_args& a) {
  auto s = find_site(o);
  std::string shown = a.path;
  auto fail_install = [&](const std::string& name, const std::string& why) {
    return failure(fmt::format("Failed to install skill '{}': {}", name, why));
  };
  if (!s) return fail_install(shown, s.err().message);
  auto sk = read_skill_folder(a.path);
  if (!sk) return fail_install(shown, sk.err().message);
  auto name = sk->name;
  if (!installable_name(name)) return fail_install(name, "its name cannot be a folder name in a skills directory");
  auto dir = skills_dir(*s, a.agent);
  if (!dir) return fail_install(name, dir.err().message);
  auto target = (fs::path(*dir) / name).string();
  struct stat st {};
  bool present = ::lstat(target.c_str(), &st) == 0;
  if (present && !a.replace)
    return fail_install(name, fmt::format("it is already installed at '{}' (--replace overwrites it)", target));
  if (auto other = other_folder_with(*dir, name, target))
    return fail_install(name, fmt::format("a skill of that name is already installed at '{}' (weftctl skill remove {}{} "
                                          "first)",
                                          *other, name, a.agent.empty() ? "" : " --agent " + a.agent));
  auto threshold_name = a.severity.empty() ? s->cfg.security.install_severity : a.severity;
  auto threshold = scan::parse_severity(threshold_name);
  if (!threshold) return fail_install(name, fmt::format("'{}' is not a severity", threshold_name));

  auto staged = stage_skill(a.path, *dir, name);
  if (!staged) return fail_install(name, staged.err().message);
  auto tr = scan::scan_paths({staged->path});
  scan::report rep;
  rep.paths = {a.path};
  rep.files = tr.files;
  rep.bytes = tr.bytes;
  rep.findings = std::move(tr.findings);
  rep.errors = std::move(tr.errors);
  rep.threshold = *threshold;
  relocate(rep.findings, staged->path, a.path);
  for (auto& e : rep.errors)
    if (auto p = e.find(staged->path); p != std::string::npos) e.replace(p, staged->path.size(), a.path);
  rep.sort();
  auto blocking = blocking_ids(rep);
  bool escapes = std::any_of(rep.findings.begin(), rep.findings.end(), [](auto& f) { return f.r->id == "SKL-070"; });

  json doc{{"skill", name}, {"source", a.path}, {"target", target}, {"agent", a.agent}, {"hash", staged->hash},
           {"severity", scan::to_string(*threshold)}, {"blocking", blocking}, {"forced", false},
           {"installed", false}, {"replaced", false}, {"witness_seq", nullptr}};
  // The findings first (a person reads why before what happened), the outcome last; with
  // --json one document either way. The staged copy goes on every path but an install.
  if (!o.json) {
    if (!rep.findings.empty()) fmt::print("{}", scan::to_text(rep));
    for (auto& e : rep.errors) fmt::print(stderr, "error: {}\n", e);
  }
  auto print_json = [&] {
    doc["scan"] = json::parse(scan::to_json(rep));
    fmt::print("{}\n", doc.dump(2, ' ', false, json::error_handler_t::replace));
  };
  auto abandon = [&](const std::string& why) {
    discard_staged(*staged);
    auto msg = fmt::format("Failed to install skill '{}': {}", name, why);
    if (o.json) {
      doc["error"] = msg;
      print_json();
    }
    return failure(msg);
  };

  if (!rep.errors.empty())
    return abandon("the scan could not read every file (see above); nothing was installed");
  if (escapes)
    return abandon("a symlink leads out of the skill folder (SKL-070); such a skill is never installed, --force or not");
  if (!blocking.empty() && !a.force)
    return abandon(blocking_refusal(blocking, *threshold));
  std::optional<std::uint64_t> seq;
  if (!blocking.empty()) {
    // Forced: on record first, then installed. No record, no install.
    if (!s->weftd)
      return abandon("weftd is not running, and a forced install must be recorded in the witness chain, which the "
                     "memory service keeps: start weft, then install again");
    mem::skill_installed rec;
    rec.skill = name;
    rec.hash = staged->hash;
    rec.target = target;
    rec.forced = true;
    rec.severity = scan::to_string(*threshold);
    rec.findings = blocking;
    rec.reason = a.reason;
    rec.os_user = os_user();
    rec.replaced = present;
    auto recorded = record_forced_install(o, mem::skill_installed::type_name, wire::encode(rec));
    if (!recorded) return abandon(recorded.err().message);
    seq = *recorded;
    doc["forced"] = true;
    doc["witness_seq"] = *seq;
  }
  auto replaced = commit_staged(*staged, a.replace);
  if (!replaced) {
    auto why = replaced.err().message;
    if (seq) why += fmt::format(" (the witness chain holds the forced install as record {}, which did not happen)", *seq);
    return abandon(why);
  }
  doc["installed"] = true;
  doc["replaced"] = *replaced;
  if (o.json) {
    print_json();
    return 0;
  }
  auto where = a.agent.empty() ? std::string("shared by every agent") : fmt::format("agent '{}'", a.agent);
  fmt::print("Installed skill '{}' ({}) at {}{}: {} files, {} bytes, {}\n", name, where, target,
             *replaced ? ", replacing the one there" : "", staged->files, staged->bytes, staged->hash);
  if (seq)
    fmt::print("Forced past {} ({} or worse); recorded in the witness chain as record {} (weftctl audit show).\n",
               fmt::join(blocking, ", "), scan::to_string(*threshold), *seq);
  return 0;
}

int cmd_skill_list(const options& o, const skill_args& a) {
  auto s = find_site(o);
  if (!s) return failure(fmt::format("Failed to list skills: {}", s.err().message));
  struct place {
    std::string path, where, agent;
  };
  std::vector<place> places;
  const char* builtin = std::getenv("WEFT_SKILLS_DIR");
  if (builtin && *builtin) places.push_back({builtin, "built-in", ""});
  places.push_back({s->home + "/skills", "shared", ""});
  for (auto& [id, ag] : s->cfg.agents)
    if (a.agent.empty() || a.agent == id) places.push_back({workspace(*s, id) + "/skills", "workspace", id});
  if (!a.agent.empty() && !s->cfg.agents.count(a.agent)) {
    auto d = skills_dir(*s, a.agent);
    return failure(fmt::format("Failed to list skills: {}", d.err().message));
  }
  json rows = json::array();
  std::vector<std::string> warnings;
  for (auto& p : places) {
    for (auto& sk : skills::discover_skills({{p.path, p.where}}, warnings)) {
      // With --agent: which of its skills of one name wins (libs/skills' precedence).
      rows.push_back({{"name", sk.name}, {"origin", p.where}, {"agent", p.agent},
                      {"folder", fs::path(sk.path).parent_path().string()}, {"description", sk.description},
                      {"overridden", false}});
    }
  }
  if (!a.agent.empty())
    for (std::size_t i = 0; i < rows.size(); ++i)
      for (std::size_t j = i + 1; j < rows.size(); ++j)
        if (rows[i]["name"] == rows[j]["name"]) rows[i]["overridden"] = true;
  for (auto& w : warnings) fmt::print(stderr, "warning: {}\n", w);
  if (o.json) {
    fmt::print("{}\n", rows.dump(2, ' ', false, json::error_handler_t::replace));
    return 0;
  }
  if (rows.empty()) {
    fmt::print("no skills installed (weftctl skill install PATH)\n");
    return 0;
  }
  std::size_t wn = 4, ww = 5;
  auto where = [](const json& r) {
    std::string w = r["agent"].get<std::string>().empty() ? r["origin"].get<std::string>()
                                                          : "agent " + r["agent"].get<std::string>();
    if (r["overridden"].get<bool>()) w += " (overridden)";
    return w;
  };
  for (auto& r : rows) {
    wn = std::max(wn, r["name"].get<std::string>().size());
    ww = std::max(ww, where(r).size());
  }
  fmt::print("{:<{}}  {:<{}}  {}\n", "NAME", wn, "WHERE", ww, "FOLDER");
  for (auto& r : rows) fmt::print("{:<{}}  {:<{}}  {}\n", r["name"].get<std::string>(), wn, where(r), ww, r["folder"].get<std::string>());
  return 0;
}

int cmd_skill_remove(const options& o, const skill_args& a) {
  auto failed = [&](const std::string& why) { return failure(fmt::format("Failed to remove skill '{}': {}", a.name, why)); };
  auto s = find_site(o);
  if (!s) return failed(s.err().message);
  auto dir = skills_dir(*s, a.agent);
  if (!dir) return failed(dir.err().message);
  std::vector<std::string> warnings;
  std::string folder;
  for (auto& sk : skills::discover_skills({{*dir, "here"}}, warnings))
    if (sk.name == a.name) folder = fs::path(sk.path).parent_path().string();
  // A folder of that name whose SKILL.md no longer reads is still removable by its name.
  if (folder.empty() && installable_name(a.name)) {
    struct stat st {};
    auto by_name = (fs::path(*dir) / a.name).string();
    if (::lstat(by_name.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) folder = by_name;
  }
  if (folder.empty())
    return failed(fmt::format("no skill of that name in '{}'{}", *dir,
                              a.agent.empty() ? " (an agent's own skills: --agent ID; weftctl skill list shows all)" : ""));
  if (auto r = remove_skill_folder(folder); !r) return failed(r.err().message);
  if (o.json) fmt::print("{}\n", json{{"skill", a.name}, {"removed", folder}}.dump(2));
  else fmt::print("Removed skill '{}' ({})\n", a.name, folder);
  return 0;
}


result<std::uint64_t> record_forced_install(const options& o, std::string_view type, std::string payload) {
  zmq::context_t ctx(1);
  auto b = join_bus(ctx, o);
  if (!b) return fail(errc::unavailable, "could not join the bus to record the forced install: {}", b.err().message);
  auto timeout = std::chrono::milliseconds(o.timeout_ms);
  auto r = (*b)->call("memory", type, std::move(payload),
                      ipc::call_options{.timeout = timeout, .attempt_timeout = timeout, .retry = false});
  if (!r) {
    if (proto::bus_v1::is(r.err(), proto::bus_v1::error_code::no_such_address))
      return fail(errc::unavailable,
                  "the memory service, which keeps the witness chain, is not running (it runs when the config has "
                  "[agents] and [memory] enabled); the forced install cannot be recorded, so nothing was installed");
    return fail(errc::unavailable, "the witness chain did not record the forced install ({}); nothing was installed",
                r.err().to_string());
  }
  auto ok = r->as<mem::recorded>();
  if (!ok) return fail(errc::unavailable, "memory's answer: {}; nothing was installed", ok.err().message);
  return ok->seq;
}

}  // namespace weft::ctl
