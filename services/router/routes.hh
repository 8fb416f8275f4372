#pragma once
/// Which agent gets a message: [[agent_routes]] (most specific match wins, then the first
/// in the file), then [routing] default_agent. Pure, so weftctl route explain and the
/// router give the same answer.

#include <map>
#include <optional>
#include <string>

#include <weft/base/result.hh>
#include <weft/service/config.hh>

namespace weft::router {

struct decision {
  std::string agent;
  std::string rule;    ///< "agent_routes[1] (clawft.toml:7:1)" or "default agent"
  std::string reason;  ///< "user_id = 12345" / "no route matched; [routing] default_agent"
};

/// The agent for a message from `channel` with identifiers `meta`; NoRoute (Chat.v1)
/// when nothing matches and there is no default agent.
result<decision> route(const service::config& cfg, const std::string& channel,
                       const std::map<std::string, std::string>& meta);

/// The agent used when no route matches: [routing] default_agent, else "main" when
/// configured, else the only agent; nullopt otherwise.
std::optional<std::string> default_agent(const service::config& cfg);

}  // namespace weft::router
