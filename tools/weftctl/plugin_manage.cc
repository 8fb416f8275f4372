// weftctl plugin install|remove|enable|disable: an agent's plugins folder
// (<home>/plugins/<agent>/<name>/) changed the way skill install changes a skills folder — a
// copy staged in a hidden folder beside its destination (the host skips names starting with
// '.'), fsynced, then renamed into place — and the agent's plugin host restarted when weftd
// runs it, since the host reads its plugins only at start. An install is judged on the
// staged copy, with the checks the host runs (libs/plugin folder.hh), so a plugin the host
// would refuse is refused here with the host's reason and never lands in the folder; then it
// is scanned (libs/scan and plugin_scan.hh) and refused at the install severity unless
// forced, a forced install recorded in the witness chain (Memory.v1 PluginInstalled) first.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <weft/base/fd.hh>
#include <weft/base/io.hh>
#include <weft/base/time.hh>
#include <weft/plugin/folder.hh>
#include <weft/plugin/manifest.hh>
#include <weft/plugin/profile.hh>
#include <weft/scan/report.hh>
#include <weft/service/control_client.hh>
#include <weft/service/paths.hh>

#include "commands.hh"
#include "plugin_admin.hh"
#include "plugin_scan.hh"
#include "proto/bus_v1.hh"
#include "proto/memory_v1.hh"
#include "skill_install.hh"

namespace weft::ctl {

namespace fs = std::filesystem;
namespace sv = weft::proto::supervisor_v1;
namespace mem = weft::proto::memory_v1;
using json = nlohmann::json;

namespace {

/// Besides plugin.toml and the entry, the top-level files copied: a plugin's notes for
/// the admin, matched on the name's start (README.md, LICENSE-MIT, COPYING, …).
constexpr std::array<std::string_view, 8> doc_prefixes = {"README", "LICENSE", "LICENCE", "COPYING",
                                                          "NOTICE", "CHANGELOG", "AUTHORS", "SECURITY"};
/// The largest such file copied; a larger one is left out (said so), not an error.
constexpr std::uint64_t max_doc_bytes = 1 << 20;
constexpr std::size_t max_docs = 16;

std::string errno_text() { return std::strerror(errno); }

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

bool is_doc(const std::string& name) {
  auto u = upper(name);
  return std::any_of(doc_prefixes.begin(), doc_prefixes.end(), [&](auto p) { return u.rfind(p, 0) == 0; });
}

/// One file to copy: its path relative to the plugin folder.
struct to_copy {
  std::string rel;
  std::uint64_t max;
};

/// Copies `rel` from the folder `src` to the folder `dst` (both fds), creating the
/// directories of its path; no component is followed if it is a symlink.
status copy_one(int src, int dst, const std::string& rel, std::uint64_t max) {
  auto parts = fs::path(rel);
  std::vector<std::string> dirs;
  for (auto& p : parts.parent_path()) dirs.push_back(p.string());
  auto file = parts.filename().string();
  unique_fd s_at, d_at;
  int s = src, d = dst;
  std::string walked;
  for (auto& dir : dirs) {
    walked += dir + "/";
    unique_fd sn(::openat(s, dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!sn) {
      if (errno == ELOOP || errno == ENOTDIR)
        return fail(errc::invalid_argument, "'{}' is a symlink or not a folder; a plugin is copied without following links",
                    walked);
      return fail(errc::io, "Failed to open '{}': {}", walked, errno_text());
    }
    if (::mkdirat(d, dir.c_str(), 0755) != 0 && errno != EEXIST)
      return fail(errc::io, "Failed to create '{}': {}", walked, errno_text());
    unique_fd dn(::openat(d, dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dn) return fail(errc::io, "Failed to open '{}': {}", walked, errno_text());
    s_at = std::move(sn);
    d_at = std::move(dn);
    s = s_at.get();
    d = d_at.get();
  }
  unique_fd in(::openat(s, file.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!in) {
    if (errno == ELOOP)
      return fail(errc::invalid_argument, "'{}' is a symlink; a plugin is copied without following links (put the file there)",
                  rel);
    return fail(errc::io, "Failed to read '{}': {}", rel, errno_text());
  }
  struct stat st {};
  if (::fstat(in.get(), &st) != 0 || !S_ISREG(st.st_mode)) return fail(errc::invalid_argument, "'{}' is not a regular file", rel);
  if (static_cast<std::uint64_t>(st.st_size) > max)
    return fail(errc::invalid_argument, "'{}' is larger than {} bytes", rel, max);
  auto data = read_to_end(in.get(), max);
  if (!data) return fail(errc::io, "Failed to read '{}': {}", rel, data.err().message);
  unique_fd out(::openat(d, file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!out) return fail(errc::io, "Failed to create '{}': {}", rel, errno_text());
  (void)::fchmod(out.get(), 0644);  // the install's mode, not the caller's umask
  if (auto w = write_all(out.get(), *data); !w) return fail(errc::io, "Failed to write '{}': {}", rel, w.err().message);
  if (::fsync(out.get()) != 0) return fail(errc::io, "Failed to sync '{}': {}", rel, errno_text());
  if (d != dst && ::fsync(d) != 0) return fail(errc::io, "Failed to sync '{}': {}", walked, errno_text());
  return {};
}

std::string link_refused(const std::string& source, const std::string& name) {
  return fmt::format("'{}/{}' is a symlink; a plugin folder is installed without following links (replace it with the "
                     "file, or move it out of the folder)",
                     source, name);
}

/// The first symlink at the top of the folder `src`, refused before anything is read
/// through one (plugin.toml included).
status refuse_links(int src, const std::string& source) {
  auto names = names_in(src, 10000);
  if (!names) return fail(errc::io, "Failed to read the folder '{}': {}", source, names.err().message);
  for (auto& n : *names) {
    struct stat st {};
    if (::fstatat(src, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
      return fail(errc::invalid_argument, "{}", link_refused(source, n));
  }
  return {};
}

/// What an install copies from the folder `source` (its fd): plugin.toml, the entry and the
/// notes. A symlink at the top of the folder is an error, wherever it points: what is
/// installed is what the admin sees in the folder.
result<std::vector<to_copy>> files_of(int src, const std::string& source, const plugin::manifest& m,
                                      std::vector<std::string>& left_out) {
  auto names = names_in(src, 10000);
  if (!names) return fail(errc::io, "Failed to read the folder '{}': {}", source, names.err().message);
  std::vector<to_copy> out{{"plugin.toml", plugin::max_manifest_bytes}, {m.entry, plugin::max_entry_bytes()}};
  for (auto& n : *names) {
    struct stat st {};
    if (::fstatat(src, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
      return fail(errc::io, "Failed to read '{}/{}': {}", source, n, errno_text());
    if (S_ISLNK(st.st_mode)) return fail(errc::invalid_argument, "{}", link_refused(source, n));
    if (n == "plugin.toml" || n == m.entry || !is_doc(n)) continue;
    if (!S_ISREG(st.st_mode) || static_cast<std::uint64_t>(st.st_size) > max_doc_bytes || out.size() >= 2 + max_docs) {
      left_out.push_back(n);
      continue;
    }
    out.push_back({n, max_doc_bytes});
  }
  return out;
}

/// A plugin folder copied beside its destination, as skill_install.hh stages a skill.
result<staged_skill> stage_plugin(int src, const std::string& plugins_dir, const std::string& name,
                                  const std::vector<to_copy>& files) {
  std::error_code ec;
  fs::create_directories(plugins_dir, ec);
  if (ec) return fail(errc::io, "Failed to create '{}': {}", plugins_dir, ec.message());
  staged_skill s;
  s.target = plugins_dir + "/" + name;
  auto tmpl = plugins_dir + "/." + name + ".install-XXXXXX";
  if (!::mkdtemp(tmpl.data())) return fail(errc::io, "Failed to create a folder in '{}': {}", plugins_dir, errno_text());
  s.path = tmpl;
  auto undo = [&](error e) -> result<staged_skill> {
    discard_staged(s);
    return e;
  };
  ::chmod(s.path.c_str(), 0755);
  unique_fd dst(::open(s.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dst) return undo(fail(errc::io, "Failed to open '{}': {}", s.path, errno_text()));
  for (auto& f : files) {
    if (auto st = copy_one(src, dst.get(), f.rel, f.max); !st) return undo(st.take_error());
    ++s.files;
  }
  if (::fsync(dst.get()) != 0) return undo(fail(errc::io, "Failed to sync '{}': {}", s.path, errno_text()));
  return s;
}

/// Replaces every mention of `from` in `text` with `to` (the staged copy's path with the
/// one the admin named).
std::string relocated(std::string text, const std::string& from, const std::string& to) {
  for (auto p = text.find(from); p != std::string::npos; p = text.find(from, p + to.size())) text.replace(p, from.size(), to);
  return text;
}

/// After a change, the agent's plugin host must read its folder again: restarted when weftd
/// runs it (weftctl restart's control action), else read when it next starts.
struct restart_outcome {
  bool failed = false;
  bool restarted = false;
  std::string note;
};

restart_outcome restart_host(const options& o, const plugin_site& s, const std::string& agent) {
  auto service = "tool-plugins-" + agent;
  if (!s.weftd) return {.note = fmt::format("weftd is not running: the change takes effect when {} starts", service)};
  zmq::context_t ctx(1);
  auto c = service::control_client::connect(ctx, o.runtime_dir);
  if (!c) return {.failed = true, .note = fmt::format("Failed to restart '{}': {}", service, c.err().message)};
  auto st = (*c)->request(sv::status{}, std::chrono::milliseconds(o.timeout_ms));
  if (!st) return {.failed = true, .note = fmt::format("Failed to restart '{}': {}", service, st.err().message)};
  auto reply = st->as<sv::status_reply>();
  if (!reply) return {.failed = true, .note = fmt::format("Failed to restart '{}': {}", service, reply.err().message)};
  bool present = std::any_of(reply->services.begin(), reply->services.end(), [&](auto& x) { return x.name == service; });
  if (!present)
    return {.note = fmt::format("weftd runs no {} (agent '{}' does not list \"plugins\" in its tools families), so "
                                "nothing was restarted",
                                service, agent)};
  auto r = (*c)->request(sv::control{service, "restart"}, std::chrono::milliseconds(o.timeout_ms));
  if (!r) return {.failed = true, .note = fmt::format("Failed to restart '{}': {}", service, r.err().message)};
  return {.restarted = true, .note = fmt::format("restarted {}: the change is in effect", service)};
}

/// Prints the outcome of the restart and gives the command's exit code.
int finish(const options& o, json& doc, const restart_outcome& r) {
  doc["restarted"] = r.restarted;
  doc["restart"] = r.note;
  if (o.json) fmt::print("{}\n", doc.dump(2, ' ', false, json::error_handler_t::replace));
  else if (r.failed) fmt::print(stderr, "{}\n", r.note);
  else fmt::print("{}\n", r.note);
  return r.failed ? 1 : 0;
}

void warn_unless_runs(const plugin_site& s, const std::string& agent, json& doc) {
  if (runs_plugins(s, agent)) return;
  auto w = fmt::format("agent '{}' does not list \"plugins\" in [agents.{}.tools] families: it will not run this "
                       "plugin until it does (add it, then weftctl reload)",
                       agent, agent);
  doc["warnings"].push_back(w);
  fmt::print(stderr, "warning: {}\n", w);
}

}  // namespace

int cmd_plugin_install(const options& o, const plugin_args& a) {
  std::string name = a.path;  // until the manifest names it
  auto failed = [&](const std::string& why) { return failure(fmt::format("Failed to install plugin '{}': {}", name, why)); };
  auto site = find_plugin_site(o);
  if (!site) return failed(site.err().message);
  if (auto st = has_agent(*site, a.agent); !st) return failed(st.err().message);
  unique_fd src(::open(a.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!src) return failed(fmt::format("'{}' is not a plugin folder: {}", a.path, errno_text()));
  if (auto l = refuse_links(src.get(), a.path); !l) return failed(l.err().message);
  // The manifest first, from the folder as named: its errors carry that path's file:line:column.
  auto m = plugin::load_manifest(a.path);
  if (!m) return failed(m.err().message);
  name = m->name;
  std::vector<std::string> left_out;
  auto files = files_of(src.get(), a.path, *m, left_out);
  if (!files) return failed(files.err().message);

  auto dir = service::plugins_dir(site->home, a.agent);
  auto target = dir + "/" + name;
  struct stat st {};
  bool present = ::lstat(target.c_str(), &st) == 0;
  if (present && !a.replace)
    return failed(fmt::format("agent '{}' already has it at '{}' (--replace swaps it for this one)", a.agent, target));

  auto staged = stage_plugin(src.get(), dir, name, *files);
  if (!staged) return failed(staged.err().message);
  auto abandon = [&](const std::string& why) {
    discard_staged(*staged);
    return failed(relocated(why, staged->path, a.path));
  };
  // The staged copy is what is installed: judged as the host will judge it.
  auto copy = plugin::load_manifest(staged->path);
  if (!copy) return abandon(copy.err().message);
  if (copy->name != name) return abandon(fmt::format("'{}' changed while it was copied", a.path));
  auto entry = staged->path + "/" + copy->entry;
  auto policy = policy_for(*site, a.agent);
  auto c = plugin::check_module(std::move(*copy), entry, policy);
  if (!c.ok()) return abandon(fmt::format("weft-plugin-host would refuse it: {}", c.error));

  // The scan, as skill install's: the copy's files, its manifest's descriptions and host
  // functions; findings at or above the install severity refuse it unless forced, and a
  // forced install is on record in the witness chain before it is in place.
  auto threshold_name = a.severity.empty() ? site->cfg.security.install_severity : a.severity;
  auto threshold = scan::parse_severity(threshold_name);
  if (!threshold) return abandon(fmt::format("'{}' is not a severity", threshold_name));
  auto tr = scan::scan_paths({staged->path});
  scan::report rep;
  rep.paths = {a.path};
  rep.files = tr.files;
  rep.bytes = tr.bytes;
  rep.findings = std::move(tr.findings);
  rep.errors = std::move(tr.errors);
  auto pf = plugin_findings(staged->path, *c.manifest, staged->path, rep.findings, rep.errors);
  rep.findings.insert(rep.findings.end(), pf.begin(), pf.end());
  rep.threshold = *threshold;
  relocate(rep.findings, staged->path, a.path);
  for (auto& e : rep.errors) e = relocated(e, staged->path, a.path);
  rep.sort();
  auto blocking = blocking_ids(rep);
  auto hash = tree_hash(staged->path);
  if (!hash) return abandon(hash.err().message);
  if (!o.json) {
    if (!rep.findings.empty()) fmt::print("{}", scan::to_text(rep));
    for (auto& e : rep.errors) fmt::print(stderr, "error: {}\n", e);
  }
  auto refuse = [&](const std::string& why) {
    if (o.json)
      fmt::print("{}\n", json{{"plugin", name}, {"agent", a.agent}, {"source", a.path}, {"installed", false},
                              {"severity", scan::to_string(*threshold)}, {"blocking", blocking}, {"forced", false},
                              {"error", fmt::format("Failed to install plugin '{}': {}", name, why)},
                              {"scan", json::parse(scan::to_json(rep))}}
                             .dump(2, ' ', false, json::error_handler_t::replace));
    return abandon(why);
  };
  if (!rep.errors.empty()) return refuse("the scan could not read every file (see above); nothing was installed");
  if (!blocking.empty() && !a.force)
    return refuse(blocking_refusal(blocking, *threshold));
  std::optional<std::uint64_t> seq;
  if (!blocking.empty()) {
    if (!site->weftd)
      return refuse("weftd is not running, and a forced install must be recorded in the witness chain, which the "
                    "memory service keeps: start weft, then install again");
    mem::plugin_installed rec;
    rec.plugin = name;
    rec.agent = a.agent;
    rec.version = c.manifest->version;
    rec.hash = *hash;
    rec.target = target;
    rec.forced = true;
    rec.severity = scan::to_string(*threshold);
    rec.findings = blocking;
    rec.reason = a.reason;
    rec.os_user = os_user();
    rec.replaced = present;
    auto recorded = record_forced_install(o, mem::plugin_installed::type_name, wire::encode(rec));
    if (!recorded) return refuse(recorded.err().message);
    seq = *recorded;
  }

  // A disabled plugin stays disabled when replaced: the admin enables it, not an upgrade.
  std::optional<plugin::disabled_note> kept_off;
  if (present)
    if ((kept_off = plugin::read_disabled(target)))
      if (auto w = write_file_atomic(fs::path(staged->path) / plugin::disabled_marker, plugin::disabled_text(*kept_off), 0644); !w)
        return abandon(w.err().message);
  auto committed = commit_staged(*staged, a.replace);
  if (!committed) {
    // A forced install on record that did not happen says so.
    auto unrecorded = seq ? fmt::format(" (the witness chain holds the forced install as record {}, which did not happen)", *seq)
                          : std::string();
    if (committed.err().code == errc::invalid_argument)
      return abandon(fmt::format("agent '{}' already has it at '{}' (--replace swaps it for this one){}", a.agent, target,
                                 unrecorded));
    return abandon(committed.err().message + unrecorded);
  }

  std::vector<std::string> tools;
  for (auto& t : c.manifest->tools) tools.push_back(name + "__" + t.name);
  std::vector<std::string> granted, refused;
  for (auto f : c.profile->granted) granted.emplace_back(plugin::name_of(f));
  for (auto& r : c.profile->refused) refused.push_back(r.what + ": " + r.why);
  json doc{{"plugin", name}, {"version", c.manifest->version}, {"agent", a.agent}, {"source", a.path},
           {"folder", target}, {"replaced", *committed}, {"files", staged->files}, {"tools", tools},
           {"granted", granted}, {"refused", refused}, {"explain", plugin::explain(*c.profile)},
           {"disabled", kept_off.has_value()}, {"left_out", left_out}, {"warnings", c.manifest->warnings},
           {"hash", *hash}, {"severity", scan::to_string(*threshold)}, {"blocking", blocking},
           {"forced", seq.has_value()}, {"witness_seq", seq ? json(*seq) : json(nullptr)},
           {"scan", json::parse(scan::to_json(rep))}};
  if (!o.json) {
    fmt::print("installed plugin '{}' {} for agent '{}' in {}{}\n", name, c.manifest->version, a.agent, target,
               *committed ? " (replacing the one there)" : "");
    fmt::print("tools: {}\n\n{}\n", fmt::join(tools, ", "), plugin::explain(*c.profile));
    if (!left_out.empty()) fmt::print("not copied (not a small text file): {}\n", fmt::join(left_out, ", "));
    if (kept_off)
      fmt::print("it stays disabled, as the one it replaced was ({}); weftctl plugin enable {} --agent {} runs it\n",
                 plugin::disabled_message(*kept_off), name, a.agent);
    for (auto& w : c.manifest->warnings) fmt::print(stderr, "{}\n", w);
    if (seq)
      fmt::print("Forced past {} ({} or worse); recorded in the witness chain as record {} (weftctl audit show).\n",
                 fmt::join(blocking, ", "), scan::to_string(*threshold), *seq);
  }
  warn_unless_runs(*site, a.agent, doc);
  return finish(o, doc, restart_host(o, *site, a.agent));
}

int cmd_plugin_remove(const options& o, const plugin_args& a) {
  auto failed = [&](const std::string& why) { return failure(fmt::format("Failed to remove plugin '{}': {}", a.name, why)); };
  auto site = find_plugin_site(o);
  if (!site) return failed(site.err().message);
  auto f = find_one(o, a);
  if (!f) return failed(f.err().message);
  // Renamed to a hidden name first (the host stops seeing it at once), then deleted.
  if (auto st = remove_skill_folder(f->dir); !st) return failed(st.err().message);
  auto data = f->workspace + "/.plugin-data/" + f->name;
  std::error_code ec;
  bool has_data = fs::exists(fs::symlink_status(data, ec));
  json doc{{"plugin", f->name}, {"agent", f->agent}, {"folder", f->dir}, {"data", data}, {"purged", false}};
  if (has_data && a.purge) {
    fs::remove_all(data, ec);  // never follows links: deletes them, not their targets
    if (ec) return failed(fmt::format("its folder is gone, but its data '{}' could not be deleted: {}", data, ec.message()));
    doc["purged"] = true;
  }
  if (!o.json) {
    fmt::print("removed plugin '{}' of agent '{}' ({})\n", f->name, f->agent, f->dir);
    if (has_data && a.purge) fmt::print("deleted its data in {}\n", data);
    else if (has_data) fmt::print("its data in {} is kept (weftctl plugin remove --purge deletes it)\n", data);
  }
  return finish(o, doc, restart_host(o, *site, f->agent));
}

int cmd_plugin_disable(const options& o, const plugin_args& a) {
  auto failed = [&](const std::string& why) { return failure(fmt::format("Failed to disable plugin '{}': {}", a.name, why)); };
  auto site = find_plugin_site(o);
  if (!site) return failed(site.err().message);
  auto f = find_one(o, a);
  if (!f) return failed(f.err().message);
  plugin::disabled_note note{.reason = a.reason, .since = to_rfc3339(utc_now())};
  auto before = plugin::read_disabled(f->dir);
  if (auto w = write_file_atomic(fs::path(f->dir) / plugin::disabled_marker, plugin::disabled_text(note), 0644); !w)
    return failed(w.err().message);
  json doc{{"plugin", f->name}, {"agent", f->agent}, {"folder", f->dir}, {"reason", note.reason}, {"since", note.since},
           {"was_disabled", before.has_value()}};
  if (!o.json)
    fmt::print("{} plugin '{}' of agent '{}': {}\n", before ? "still disabled" : "disabled", f->name, f->agent,
               plugin::disabled_message(note));
  return finish(o, doc, restart_host(o, *site, f->agent));
}

int cmd_plugin_enable(const options& o, const plugin_args& a) {
  auto failed = [&](const std::string& why) { return failure(fmt::format("Failed to enable plugin '{}': {}", a.name, why)); };
  auto site = find_plugin_site(o);
  if (!site) return failed(site.err().message);
  auto f = find_one(o, a);
  if (!f) return failed(f.err().message);
  json doc{{"plugin", f->name}, {"agent", f->agent}, {"folder", f->dir}, {"was_disabled", false}};
  if (!plugin::read_disabled(f->dir)) {
    if (o.json) fmt::print("{}\n", doc.dump(2));
    else fmt::print("plugin '{}' of agent '{}' is not disabled; nothing to do\n", f->name, f->agent);
    return 0;
  }
  auto marker = f->dir + "/" + std::string(plugin::disabled_marker);
  if (::unlink(marker.c_str()) != 0) return failed(fmt::format("Failed to delete '{}': {}", marker, errno_text()));
  unique_fd d(::open(f->dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (d) (void)::fsync(d.get());
  doc["was_disabled"] = true;
  // Enabled is not loaded: say now if the host would refuse it.
  auto c = plugin::check_folder(f->dir, f->name, f->policy);
  doc["loads"] = c.ok();
  if (!c.ok()) doc["error"] = c.error;
  if (!o.json) {
    fmt::print("enabled plugin '{}' of agent '{}'\n", f->name, f->agent);
    if (!c.ok()) fmt::print(stderr, "warning: weft-plugin-host will refuse it: {}\n", c.error);
  }
  return finish(o, doc, restart_host(o, *site, f->agent));
}

}  // namespace weft::ctl
