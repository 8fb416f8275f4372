// [security]: [security.monitor], the security monitor's rules and thresholds, and install_severity,
// the scan severity at which `weftctl skill install` refuses (issue 20).
// The rest of [security] belongs to features not built yet: accepted with a warning.
#include <algorithm>
#include <cctype>

#include "config_check.hh"

namespace weft::service::detail {

namespace {

constexpr std::array<std::pair<std::string_view, monitor_action>, 3> monitor_actions = {
    {{"alert", monitor_action::alert}, {"throttle", monitor_action::throttle}, {"quarantine", monitor_action::quarantine}}};

/// Per-minute thresholds: above this a person meant "off" (0) or made a typo.
constexpr std::uint32_t max_per_minute = 1000000;
/// Sensitive paths, known hosts, interpreters: a person's lists, not data sets.
constexpr std::size_t max_sensitive_paths = 256;
constexpr std::size_t max_known_hosts = 1024;
constexpr std::size_t max_interpreters = 256;
/// The bus keeps one timestamp per call a throttled agent makes within its minute (its limit);
/// a week: longer than that a person meant a quarantine.
constexpr std::uint32_t max_throttle_calls_per_minute = 100000;
constexpr std::uint32_t max_throttle_seconds = 7 * 86400;
/// A day: a fetch longer ago than that is not what a run of an interpreter follows from.
constexpr std::uint32_t max_exec_after_fetch_seconds = 86400;

/// Reads a list of at most `max` strings, each checked by `bad` (its complaint, or empty);
/// errors at the entry's position.
template <class Bad>
std::optional<std::vector<std::string>> read_list(checker& ck, const toml::table& t, const std::string& label,
                                                  std::string_view key, std::size_t max, Bad bad) {
  auto list = ck.read_strings(t, label, key);
  if (!list) return list;
  auto* n = t.get(key);
  if (list->size() > max)
    ck.error(n->source(), fmt::format("{} {} has {} entries; at most {}", label, key, list->size(), max));
  auto* arr = n->as_array();
  for (std::size_t i = 0; i < list->size(); ++i) {
    auto& at = arr && i < arr->size() ? *arr->get(i) : *n;
    if (auto why = bad((*list)[i]); !why.empty())
      ck.error(at.source(), fmt::format("{} {} entry '{}' {}", label, key, clean((*list)[i]), why));
  }
  return list;
}

std::string bad_host(const std::string& h) {
  if (h == "*") return {};
  auto name = std::string_view(h).substr(h.rfind("*.", 0) == 0 ? 2 : 0);
  if (name.empty() || name.size() > 253) return "must be a host name of 1 to 253 bytes, '*.' and a name, or '*'";
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' || c == ':'))
      return "must be a host name (letters, digits, '.', '-', '_', ':'), '*.' and a name, or '*'";
  return {};
}

std::string bad_interpreter(const std::string& w) {
  if (w.empty() || w.size() > 64) return "must be a command name of 1 to 64 bytes";
  for (char c : w)
    if (c == '/' || static_cast<unsigned char>(c) <= ' ') return "must be a command name, without '/' or spaces";
  return {};
}

void read_monitor(checker& ck, const toml::table& t, config& c) {
  const std::string label = "[security.monitor]";
  auto& m = c.security.monitor;
  m.where = ck.where(t.source());
  ck.check_keys(t, label,
                {"enabled", "tool_calls_per_minute", "tool_burst_action", "denials_per_minute", "denial_burst_action",
                 "cost_per_hour_usd", "cost_action", "sensitive_paths", "other_workspaces", "sensitive_path_action",
                 "known_hosts", "new_host_after_calls", "new_host_action", "exec_after_fetch_seconds",
                 "exec_after_fetch_calls", "interpreters", "exec_after_fetch_action", "throttle_calls_per_minute",
                 "throttle_seconds", "notify"});
  m.enabled = ck.read_bool(t, label, "enabled").value_or(m.enabled);
  m.tool_calls_per_minute =
      ck.read_uint<std::uint32_t>(t, label, "tool_calls_per_minute", 0, max_per_minute).value_or(m.tool_calls_per_minute);
  m.denials_per_minute =
      ck.read_uint<std::uint32_t>(t, label, "denials_per_minute", 0, max_per_minute).value_or(m.denials_per_minute);
  m.cost_per_hour_usd = ck.read_non_negative(t, label, "cost_per_hour_usd").value_or(m.cost_per_hour_usd);
  for (auto [key, field] : {std::pair{"tool_burst_action", &m.tool_burst_action},
                            {"denial_burst_action", &m.denial_burst_action}, {"cost_action", &m.cost_action},
                            {"sensitive_path_action", &m.sensitive_path_action},
                            {"new_host_action", &m.new_host_action},
                            {"exec_after_fetch_action", &m.exec_after_fetch_action}})
    *field = ck.read_enum(t, label, key, monitor_actions).value_or(*field);
  m.throttle_calls_per_minute =
      ck.read_uint<std::uint32_t>(t, label, "throttle_calls_per_minute", 1, max_throttle_calls_per_minute)
          .value_or(m.throttle_calls_per_minute);
  m.throttle_seconds =
      ck.read_uint<std::uint32_t>(t, label, "throttle_seconds", 1, max_throttle_seconds).value_or(m.throttle_seconds);
  if (auto n = ck.read_string(t, label, "notify")) {
    auto colon = n->find(':');
    auto channel = std::string_view(*n).substr(0, colon);
    auto chat = colon == std::string::npos ? std::string_view() : std::string_view(*n).substr(colon + 1);
    std::string why;
    if (colon == std::string::npos || channel.empty() || chat.empty())
      why = "must be '<channel>:<chat id>', e.g. 'telegram:12345'";
    else if (channel.size() > 32 || !std::all_of(channel.begin(), channel.end(), [](unsigned char ch) {
               return std::islower(ch) || std::isdigit(ch) || ch == '-' || ch == '_';
             }))
      why = "must start with a channel name (lower-case letters, digits, '-', '_'; at most 32), e.g. 'telegram:12345'";
    else if (chat.size() > 256 || std::any_of(chat.begin(), chat.end(), [](unsigned char ch) { return ch < ' ' || ch == 0x7f; }))
      why = "must end with a chat id of at most 256 printable bytes";
    if (!why.empty()) {
      ck.error(t.get("notify")->source(), fmt::format("{} notify '{}' {}", label, clean(*n), why));
    } else {
      m.notify_channel = std::string(channel);
      m.notify_chat = std::string(chat);
    }
  }
  m.other_workspaces = ck.read_bool(t, label, "other_workspaces").value_or(m.other_workspaces);
  m.new_host_after_calls =
      ck.read_uint<std::uint32_t>(t, label, "new_host_after_calls", 0, max_per_minute).value_or(m.new_host_after_calls);
  m.exec_after_fetch_seconds =
      ck.read_uint<std::uint32_t>(t, label, "exec_after_fetch_seconds", 0, max_exec_after_fetch_seconds)
          .value_or(m.exec_after_fetch_seconds);
  m.exec_after_fetch_calls = ck.read_uint<std::uint32_t>(t, label, "exec_after_fetch_calls", 0, max_per_minute)
                                 .value_or(m.exec_after_fetch_calls);
  if (auto hosts = read_list(ck, t, label, "known_hosts", max_known_hosts, bad_host)) {
    for (auto& h : *hosts)
      std::transform(h.begin(), h.end(), h.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    m.known_hosts = std::move(*hosts);
  }
  if (auto words = read_list(ck, t, label, "interpreters", max_interpreters, bad_interpreter))
    m.interpreters = std::move(*words);
  if (auto paths = ck.read_strings(t, label, "sensitive_paths")) {
    auto* n = t.get("sensitive_paths");
    if (paths->size() > max_sensitive_paths)
      ck.error(n->source(), fmt::format("{} sensitive_paths has {} entries; at most {}", label, paths->size(),
                                        max_sensitive_paths));
    auto* arr = n->as_array();
    for (std::size_t i = 0; i < paths->size(); ++i) {
      auto& p = (*paths)[i];
      auto& at = arr && i < arr->size() ? *arr->get(i) : *n;
      bool home = p == "$WEFT_HOME" || p.rfind("$WEFT_HOME/", 0) == 0;
      if (p.empty() || (!home && p.front() != '/'))
        ck.error(at.source(), fmt::format("{} sensitive_paths entry '{}' must be an absolute path or start with "
                                          "'$WEFT_HOME/'",
                                          label, clean(p)));
      else if (p.find("/../") != std::string::npos || p.ends_with("/.."))
        ck.error(at.source(), fmt::format("{} sensitive_paths entry '{}' must not contain '..'", label, clean(p)));
    }
    m.sensitive_paths = std::move(*paths);
  }
}

}  // namespace

void read_security(checker& ck, const toml::table& t, config& c) {
  for (auto& [k, v] : t) {
    if (k.str() == "install_severity") {
      // The scanner's levels (libs/scan, a tier above this one, names the same five).
      static constexpr std::array<std::pair<std::string_view, std::string_view>, 5> levels = {
          {{"info", "info"}, {"low", "low"}, {"medium", "medium"}, {"high", "high"}, {"critical", "critical"}}};
      if (auto l = ck.read_enum(t, "[security]", "install_severity", levels)) c.security.install_severity = *l;
    } else if (k.str() == "monitor") {
      if (auto* m = v.as_table()) read_monitor(ck, *m, c);
      else ck.error(v.source(), fmt::format("[security.monitor] must be a table, not {}", a_type(v)));
    } else {
      ck.warning(v.source(), fmt::format("'[security] {}' is not supported by this build yet, ignoring.", clean(k.str())));
    }
  }
}

}  // namespace weft::service::detail
