#pragma once
/// What weftctl's plugin commands share (plugin.cc): where an agent's plugins are, the
/// policy weft-plugin-host applies to them, and finding one installed plugin.

#include <string>

#include <weft/base/result.hh>
#include <weft/plugin/profile.hh>
#include <weft/service/config.hh>

#include "commands.hh"

namespace weft::ctl {

/// The installation plugins are read from and installed into: the one weftd runs (its
/// config and home) or, when weftd is not running, the one weftd would use.
struct plugin_site {
  std::string config;  ///< "" for the built-in default
  std::string home;
  service::config cfg;
  bool weftd = false;  ///< weftd answered
};
result<plugin_site> find_plugin_site(const options& o);

/// errc::not_found naming the config and its agents when `agent` is not one of them.
status has_agent(const plugin_site& s, const std::string& agent);
std::string workspace_of(const plugin_site& s, const std::string& agent);
/// Whether the agent's [agents.<id>.tools] families lists "plugins" (weftd runs its host).
bool runs_plugins(const plugin_site& s, const std::string& agent);
/// The policy weft-plugin-host applies for the agent: host_options' granted host functions,
/// the network as weftd sets $WEFT_NETWORK for tool-plugins-<agent>.
plugin::agent_policy policy_for(const plugin_site& s, const std::string& agent);

/// One installed plugin folder.
struct found {
  std::string agent, workspace, dir, name;
  plugin::agent_policy policy;
};
/// The plugin folder `a.name` of `a.agent` (or of the one agent that has it).
result<found> find_one(const options& o, const plugin_args& a);

}  // namespace weft::ctl
