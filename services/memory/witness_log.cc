#include "services/memory/witness_log.hh"

#include <fmt/ranges.h>

#include <weft/base/log.hh>
#include <weft/ipc/address.hh>
#include <weft/witness/writer.hh>

#include "proto/bus_v1.hh"
#include "proto/chat_v1.hh"
#include "proto/memory_v1.hh"
#include "proto/monitor_v1.hh"

namespace weft::memory {

namespace fs = std::filesystem;

namespace {
/// A SkillInstalled's texts together (reason, target, findings …).
constexpr std::size_t max_install_record_bytes = 16u << 10;
}  // namespace

struct witness_log::impl {
  std::unique_ptr<witness::writer> w;
  log::logger& lg = log::get("memory");
  bool dirty = false;
  std::uint64_t failures = 0;
};

witness_log::witness_log(std::unique_ptr<impl> p) : _impl(std::move(p)) {}
witness_log::~witness_log() {
  if (_impl->w) (void)_impl->w->checkpoint();
}

result<std::unique_ptr<witness_log>> witness_log::open(const fs::path& home) {
  auto p = std::make_unique<impl>();
  auto w = witness::writer::open(home / "audit", home / "keys" / "witness.key");
  if (!w) return fail(errc::io, "Failed to open the witness chain in '{}': {}", (home / "audit").string(),
                      w.err().message);
  p->w = std::move(*w);
  auto& rec = p->w->recovery();
  if (rec.key_generated) p->lg.info("Witness signing key generated: {}", (home / "keys" / "witness.key").string());
  if (rec.torn_bytes)
    p->lg.warning("Witness chain: cut {} bytes ({} records) of an interrupted write off the open segment",
                  rec.torn_bytes, rec.torn_records);
  return std::unique_ptr<witness_log>(new witness_log(std::move(p)));
}

void witness_log::record(std::string_view actor, std::string_view kind, std::string_view subject,
                         std::string detail) {
  auto r = _impl->w->append(witness::entry{utc_now(), std::string(actor), std::string(kind), std::string(subject),
                                           std::move(detail)});
  if (!r) {
    if (_impl->failures++ % 1000 == 0)
      _impl->lg.error("Failed to append to the witness chain ({} failures): {}", _impl->failures, r.err().message);
    return;
  }
  _impl->dirty = true;
}

std::vector<std::string_view> witness_log::topics() {
  return {proto::chat_v1::explanation::type_name, proto::bus_v1::access_denied::type_name,
          proto::memory_v1::tool_called::type_name, proto::memory_v1::mail_sent::type_name,
          proto::memory_v1::plugin_event::type_name,
          proto::monitor_v1::alert::type_name, proto::bus_v1::agent_released::type_name};
}

void witness_log::on_event(const ipc::message& m) {
  namespace chat = proto::chat_v1;
  namespace bus = proto::bus_v1;
  namespace mem = proto::memory_v1;
  // Any peer may publish any event type: record each kind only from the process that
  // decides it (the sender is stamped by the bus), so nobody can put words in another's mouth.
  if (m.is(chat::explanation::type_name)) {
    if (m.env.from != "router") return;
    if (auto e = m.as<chat::explanation>())
      record(m.env.from, "route", ipc::addr::agent(e->agent),
             fmt::format("message {} on {} (session {}): {} — {}", e->message_id, e->channel, e->session, e->rule,
                         e->reason));
  } else if (m.is(bus::access_denied::type_name)) {
    if (m.env.from != "bus") return;  // memory records its own denials where they happen
    if (auto e = m.as<bus::access_denied>())
      record(e->from, "access_denied", e->to,
             fmt::format("{} refused by {} (reported by {})", e->type, e->rule, m.env.from));
  } else if (m.is(mem::tool_called::type_name)) {
    if (m.env.from.rfind("agent/", 0) != 0) return;
    if (auto e = m.as<mem::tool_called>())
      record(m.env.from, "tool_call", e->tool,
             fmt::format("call {} {}{}{}", e->call_id, e->ok ? "ok" : "failed",
                         e->arguments_sha256.empty() ? "" : ", arguments sha256 " + e->arguments_sha256,
                         e->detail.empty() ? "" : "; " + e->detail));
  } else if (m.is(proto::monitor_v1::alert::type_name)) {
    if (m.env.from != "monitor") return;  // only the monitor says what it did
    if (auto e = m.as<proto::monitor_v1::alert>())
      record(m.env.from, "monitor_" + e->action, ipc::addr::agent(e->agent), fmt::format("{}: {}", e->rule, e->detail));
  } else if (m.is(bus::agent_released::type_name)) {
    if (m.env.from != "bus") return;  // the bus lifted it, on the admin's authenticated word
    if (auto e = m.as<bus::agent_released>())
      record(e->by, "quarantine_released", ipc::addr::agent(e->agent), fmt::format("released by {} at the bus", e->by));
  } else if (m.is(mem::plugin_event::type_name)) {
    // Only a plugin host says what it did, and only of its own agent's plugins: the agent
    // is the last segment of its bus-stamped address.
    constexpr std::string_view prefix = "tool/plugins/";
    if (m.env.from.rfind(prefix, 0) != 0 || m.env.from.size() == prefix.size()) return;
    auto agent = m.env.from.substr(prefix.size());
    if (agent.find('/') != std::string::npos) return;
    if (auto e = m.as<mem::plugin_event>()) {
      auto detail = e->detail.substr(0, 1024);
      record(m.env.from, "plugin_" + e->kind.substr(0, 32), fmt::format("plugin/{}/{}", agent, e->plugin),
             fmt::format("{}{}{}", e->tool.empty() ? std::string() : "tool " + e->tool + ": ",
                         e->code.empty() ? std::string() : e->code + ": ", detail));
    }
  } else if (m.is(mem::mail_sent::type_name)) {
    if (m.env.from != "tool/email") return;  // only the process that sends mail says it did
    if (auto e = m.as<mem::mail_sent>())
      record(ipc::addr::agent(e->agent), "mail_sent", fmt::format("email/{}", e->account),
             fmt::format("message <{}> to {}{}", e->message_id, fmt::join(e->recipients, ", "),
                         e->subject_sha256.empty() ? "" : ", subject sha256 " + e->subject_sha256));
  }
}

namespace {

/// What a skill and a plugin install record have in common.
struct install_record {
  std::string_view message, kind, subject, target, hash, severity, reason, os_user;
  const std::vector<std::string>& findings;
  bool forced, replaced;
  std::size_t extra_bytes;  ///< the names and versions besides
};

result<std::uint64_t> record_install(witness_log::impl& p, std::string_view from, const install_record& e) {
  namespace mem = proto::memory_v1;
  // weftctl is the one that installs skills and plugins; an agent or service naming itself
  // installer would put words in the admin's mouth.
  if (from.substr(0, 4) != "ctl/")
    return mem::make(mem::error_code::denied, "only weftctl (ctl/*) records {} installs, not '{}'",
                     e.kind == "skill_installed" ? "skill" : "plugin", from);
  // One record stays far below the chain's 64 KiB limit.
  std::size_t bytes = e.extra_bytes + e.hash.size() + e.target.size() + e.reason.size() + e.os_user.size();
  for (auto& f : e.findings) bytes += f.size() + 2;
  if (bytes > max_install_record_bytes)
    return mem::make(mem::error_code::too_large, "{} of {} bytes; at most {}", e.message, bytes, max_install_record_bytes);
  auto detail = fmt::format("{} into '{}'{}, {}", e.forced ? "forced install" : "install", e.target,
                            e.replaced ? " (replacing the installed one)" : "", e.hash);
  if (!e.findings.empty())
    detail += fmt::format("; findings at or above {}: {}", e.severity.empty() ? "the install severity" : e.severity,
                          fmt::join(e.findings, ", "));
  if (!e.reason.empty()) detail += fmt::format("; reason: '{}'", e.reason);
  if (!e.os_user.empty()) detail += fmt::format("; OS user '{}'", e.os_user);
  auto seq = p.w->append(
      witness::entry{utc_now(), std::string(from), std::string(e.kind), std::string(e.subject), std::move(detail)});
  if (!seq) return mem::make(mem::error_code::storage, "Failed to append to the witness chain: {}", seq.err().message);
  p.dirty = true;
  if (auto s = p.w->sync(); !s)
    return mem::make(mem::error_code::storage, "Failed to sync the witness chain: {}", s.err().message);
  p.dirty = false;
  return *seq;
}

}  // namespace

result<std::uint64_t> witness_log::record_skill_installed(std::string_view from,
                                                         const proto::memory_v1::skill_installed& e) {
  namespace mem = proto::memory_v1;
  if (from.substr(0, 4) == "ctl/" && (e.skill.empty() || e.hash.empty() || e.target.empty()))
    return mem::make(mem::error_code::bad_request, "SkillInstalled needs skill, hash and target");
  auto subject = fmt::format("skill/{}", e.skill);
  return record_install(*_impl, from, {"SkillInstalled", "skill_installed", subject, e.target, e.hash, e.severity, e.reason,
                               e.os_user, e.findings, e.forced, e.replaced, e.skill.size()});
}

result<std::uint64_t> witness_log::record_plugin_installed(std::string_view from,
                                                          const proto::memory_v1::plugin_installed& e) {
  namespace mem = proto::memory_v1;
  if (from.substr(0, 4) == "ctl/" && (e.plugin.empty() || e.agent.empty() || e.hash.empty() || e.target.empty()))
    return mem::make(mem::error_code::bad_request, "PluginInstalled needs plugin, agent, hash and target");
  // The subject names the agent too: the same plugin may be installed for several.
  auto subject = fmt::format("plugin/{}/{}{}", e.agent, e.plugin, e.version.empty() ? "" : "@" + e.version);
  return record_install(*_impl, from, {"PluginInstalled", "plugin_installed", subject, e.target, e.hash, e.severity, e.reason,
                               e.os_user, e.findings, e.forced, e.replaced, subject.size()});
}

bool witness_log::dirty() const { return _impl->dirty; }

void witness_log::sync() {
  if (!_impl->dirty) return;
  if (auto s = _impl->w->sync(); !s) _impl->lg.error("Failed to sync the witness chain: {}", s.err().message);
  _impl->dirty = false;
}

}  // namespace weft::memory
