#pragma once
/// The plugins and skills of an agent that declare a network list, each of which gets a
/// socket of its own at the egress proxy ($WEFT_RUNTIME_DIR/egress/<agent>/<file>), where
/// only what its list names may be reached:
///  - a plugin in <home>/plugins/<agent>/<name>/ whose plugin.toml has [permissions.network]
///    hosts (socket plugin-<name>.sock; the plugin host makes its http_fetch requests there);
///  - a skill (built-in, shared <home>/skills or the workspace's skills/) whose SKILL.md has
///    `network:` entries (socket skill-<name>.sock; the shell tool routes the commands it
///    runs for that skill there).
/// Plugins come from the admin's tree and may declare private and loopback addresses. A
/// workspace skill is written by whoever writes the workspace, the agent included: its
/// entries that name a non-public address are dropped with a warning (it can narrow what
/// the agent reaches, never widen it).

#include <memory>
#include <string>
#include <vector>

#include <weft/base/result.hh>
#include <weft/plugin/allowlist.hh>

namespace weft::egress {

struct scope {
  std::string label;  ///< "plugin:<name>" or "skill:<name>", for the audit line
  std::string file;   ///< "plugin-<name>.sock", "skill-<name>.sock"
  std::shared_ptr<const plugin::allowlist> list;
  bool operator==(const scope& o) const;
};

/// Reads the plugin folders and skills of `agent`; problems (an unreadable manifest, an
/// entry that is no host) are lines in `warnings` and leave that scope out — its socket is
/// then missing, so what it runs reaches nothing, never more.
std::vector<scope> scopes_of(const std::string& home, const std::string& agent, const std::string& workspace,
                             std::vector<std::string>& warnings);

/// A skill's `network:` entries as a list. `from_workspace`: entries naming a non-public
/// address are dropped (each a warning). errc::invalid_argument for an entry that is no
/// host entry at all (the whole list is then refused).
result<plugin::allowlist> skill_allowlist(const std::vector<std::string>& entries, bool from_workspace,
                                          std::vector<std::string>& warnings);

}  // namespace weft::egress
