#pragma once
#include <arpa/inet.h>
/// The config checker shared by config.cc (weft, bus, supervisor, services) and the files
/// of the agent-turn sections (config_llm.cc, config_agents.cc, …): it collects
/// every problem with its file:line:column and reads typed, `${ENV}`-substituted values.
/// Private to libs/service.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <toml++/toml.h>

#include <weft/service/config.hh>
#include <weft/service/toml_check.hh>

namespace weft::service::detail {

// The generic checker lives in <weft/service/toml_check.hh>, shared with plugin manifests.
using toml_check::a_type;
using toml_check::alnum;
using toml_check::any_of_chars;
using toml_check::checker;
using toml_check::clean;
using toml_check::contains;
using toml_check::distance;
using toml_check::in_file_order;
using toml_check::keys_of;
using toml_check::lower_alnum;
using toml_check::suggestion;
using toml_check::valid_env_name;

constexpr std::size_t max_name_chars = 64, max_address_chars = 128;

inline bool valid_service_name(std::string_view n) {
  return !n.empty() && n.size() <= max_name_chars && lower_alnum(n[0]) &&
         std::all_of(n.begin(), n.end(), [](char c) { return lower_alnum(c) || c == '-'; });
}

inline bool valid_address(std::string_view a) {
  if (a.empty() || a.size() > max_address_chars) return false;
  std::size_t start = 0;
  for (;;) {
    auto slash = a.find('/', start);
    auto seg = a.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (seg.empty() || !lower_alnum(seg[0]) ||
        !std::all_of(seg.begin(), seg.end(), [](char c) { return lower_alnum(c) || any_of_chars(c, "_.-"); }))
      return false;
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

/// weftd and admin tools (ctl/*) bypass the bus ACL, so no service may take their addresses.
inline bool reserved_address(std::string_view a) { return a == "bus" || a == "weftd" || a.substr(0, 4) == "ctl/"; }

// A pattern with a character no address (or type) has can never match: a deny rule with
// a typo would silently allow everything it was meant to stop.
inline bool valid_address_glob(std::string_view p) {
  return !p.empty() && std::all_of(p.begin(), p.end(), [](char c) { return lower_alnum(c) || any_of_chars(c, "_.-/*"); });
}
inline bool valid_type_glob(std::string_view p) {
  return !p.empty() && std::all_of(p.begin(), p.end(), [](char c) { return alnum(c) || any_of_chars(c, "_.-*"); });
}


/// host:port with a port from 0 to 65535; an IPv6 host is written in brackets.
inline bool valid_listen(std::string_view s) {
  auto colon = s.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  auto host = s.substr(0, colon), port = s.substr(colon + 1);
  if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return false;
  if (std::stoul(std::string(port)) > 65535) return false;
  if (host.front() == '[') return host.size() > 2 && host.back() == ']';
  return host.find(':') == std::string_view::npos &&
         std::all_of(host.begin(), host.end(), [](char c) { return alnum(c) || c == '.' || c == '-'; });
}

inline bool loopback_host(std::string_view listen) {
  auto host = listen.substr(0, listen.rfind(':'));
  return host == "localhost" || host == "[::1]" || host.substr(0, 4) == "127.";
}

/// Tool-name globs: characters a tool name can have, and '*'.
inline bool valid_tool_glob(std::string_view p) {
  return !p.empty() && std::all_of(p.begin(), p.end(), [](char c) { return alnum(c) || any_of_chars(c, "_.-*"); });
}

inline bool valid_header_name(std::string_view n) {
  return !n.empty() && std::all_of(n.begin(), n.end(), [](char c) { return alnum(c) || any_of_chars(c, "-_"); });
}

/// http:// or https:// followed by a host, no spaces or control characters.
inline bool http_url(std::string_view u) {
  auto rest = u.substr(0, 8) == "https://" ? u.substr(8) : u.substr(0, 7) == "http://" ? u.substr(7) : "";
  return !rest.empty() && rest[0] != '/' &&
         std::none_of(u.begin(), u.end(), [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; });
}

/// `key` of `t`, when present, names an entry of `names`; reports it otherwise.
template <class Names>
void check_reference(checker& ck, const toml::table& t, std::string_view label, std::string_view key,
                     const std::string& value, const Names& names, std::string_view what) {
  if (value.empty() || contains(names, value)) return;
  std::vector<std::string_view> list(names.begin(), names.end());
  ck.error(t.get(key)->source(),
           fmt::format("{} {} '{}' is not {}{}{}", label, key, clean(value), what,
                       list.empty() ? std::string(" (there are none)")
                                    : fmt::format(" ({})", fmt::join(list, ", ")),
                       suggestion(value, list)));
}

constexpr std::uint32_t u32_max = std::numeric_limits<std::uint32_t>::max();

/// Channels this build has, and those it names in messages but does not have yet.
constexpr std::array<std::string_view, 2> channel_names = {"telegram", "web"};
constexpr std::array<std::string_view, 3> unsupported_channels = {"slack", "discord", "whatsapp"};
/// Tool processes started once per agent (the others are shared).
constexpr std::array<std::string_view, 7> per_agent_families = {"fs", "shell", "delegate", "git", "cargo", "code", "plugins"};

/// Provider, tier and match-key names: a-z, 0-9, '-' and '_', starting with a letter or digit.
inline bool valid_name(std::string_view n) {
  return !n.empty() && n.size() <= max_name_chars && lower_alnum(n[0]) &&
         std::all_of(n.begin(), n.end(), [](char c) { return lower_alnum(c) || c == '-' || c == '_'; });
}

/// An agent's workspace: its own, else <home>/agents/<id>.
std::string workspace_of(const config& c, const agent_settings& a);

// The sections of the agent turn, one file each: [providers] and [llm] (config_llm.cc),
// [agents] (config_agents.cc), [channels] (config_channels.cc), [[agent_routes]], [routing]
// and [delegation] (config_routes.cc).
void read_providers(checker& ck, const toml::table& t, config& c);
/// Every built-in provider whose key variable is set (or, in a service, that weftd found
/// usable), with the key resolved when it is here; sets [llm] default_provider if unset.
void providers_from_environment(config& c);
void read_llm(checker& ck, const toml::table& t, config& c);
void read_agents(checker& ck, const toml::table& t, config& c);
void read_channels(checker& ck, const toml::table& t, config& c);
void read_routes(checker& ck, const toml::node& n, config& c);
void read_routing(checker& ck, const toml::table& t, config& c);
void read_delegation(checker& ck, const toml::table& t, config& c);

/// An http(s) URL that may carry secrets: https, or http to this machine only (127.0.0.0/8,
/// ::1, localhost) — a client secret, refresh token or password never crosses a network in
/// the clear.
inline bool secure_url(std::string_view u) {
  if (u.rfind("https://", 0) == 0) return true;
  if (u.rfind("http://", 0) != 0) return false;
  auto host = u.substr(7, u.find_first_of("/?#", 7) == std::string_view::npos ? std::string_view::npos : u.find_first_of("/?#", 7) - 7);
  if (auto at = host.rfind('@'); at != std::string_view::npos) host = host.substr(at + 1);
  if (host.rfind("[::1]", 0) == 0) return true;
  host = host.substr(0, host.find(':'));
  if (host == "localhost") return true;
  // A literal 127.x.y.z, not a name that starts like one (127.0.0.1.example.org).
  in_addr a{};
  return ::inet_pton(AF_INET, std::string(host).c_str(), &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

/// The top-level sections the files above (with config_memory.cc and config_mcp.cc) read.
constexpr std::array<std::string_view, 11> agent_sections = {"providers",    "llm",     "agents",     "channels",
                                                             "agent_routes", "routing", "delegation", "memory",
                                                             "mcp",          "tools",   "oauth2"};

/// Reads every section of agent_sections present in `root` into `c`, in dependency order
/// (providers, llm, agents, then what refers to agents), and fills c.bus.agent_tools.
void read_agent_sections(checker& ck, const toml::table& root, config& c);

/// [memory] (config_memory.cc); after [agents], which its shares refer to.
void read_memory(checker& ck, const toml::table& t, config& c);

/// [mcp] and [tools] (config_mcp.cc); after [agents] and [routing], which [mcp] agent refers to.
void read_mcp(checker& ck, const toml::table& t, config& c);
void read_tools(checker& ck, const toml::table& t, config& c);
/// [tools.email] (config_email.cc).
void read_email(checker& ck, const toml::node& n, config& c);

/// [oauth2] (config_oauth2.cc); after [agents], which its grants refer to.
void read_oauth2(checker& ck, const toml::table& t, config& c);
/// [security] (config_security.cc): [security.monitor] and install_severity; other keys warn. After [agents].
void read_security(checker& ck, const toml::table& t, config& c);
/// Completes config::secret_vars once every section is read: providers' key variables join
/// llm's list, empty lists go.
void finish_secret_vars(config& c);

}  // namespace weft::service::detail
