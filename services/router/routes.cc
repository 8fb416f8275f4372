#include "routes.hh"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "proto/chat_v1.hh"

namespace weft::router {

namespace chat = weft::proto::chat_v1;

std::optional<std::string> default_agent(const service::config& cfg) {
  if (!cfg.routing.default_agent.empty()) return cfg.routing.default_agent;
  if (cfg.agents.count("main")) return std::string("main");
  if (cfg.agents.size() == 1) return cfg.agents.begin()->first;
  return std::nullopt;
}

result<decision> route(const service::config& cfg, const std::string& channel,
                       const std::map<std::string, std::string>& meta) {
  int best = -1;
  std::size_t best_score = 0;
  for (std::size_t i = 0; i < cfg.agent_routes.size(); ++i) {
    auto& r = cfg.agent_routes[i];
    if (r.channel != "*" && r.channel != channel) continue;
    bool all = true;
    for (auto& [k, v] : r.match) {
      auto it = meta.find(k);
      if (it == meta.end() || it->second != v) {
        all = false;
        break;
      }
    }
    if (!all) continue;
    // More keys is more specific; naming the channel beats "*".
    std::size_t score = r.match.size() * 2 + (r.channel == "*" ? 0 : 1);
    if (best < 0 || score > best_score) best = static_cast<int>(i), best_score = score;
  }
  if (best >= 0) {
    auto& r = cfg.agent_routes[static_cast<std::size_t>(best)];
    std::vector<std::string> keys;
    for (auto& [k, v] : r.match) keys.push_back(fmt::format("{} = {}", k, v));
    auto reason = keys.empty() ? fmt::format("channel = {}", channel) : fmt::format("{}", fmt::join(keys, ", "));
    return decision{r.agent, fmt::format("agent_routes[{}]{}", best, r.where.empty() ? "" : " (" + r.where + ")"),
                    reason};
  }
  if (auto d = default_agent(cfg))
    return decision{*d, "default agent",
                    cfg.routing.default_agent.empty() ? "no route matched; the default agent"
                                                      : "no route matched; [routing] default_agent"};
  return chat::make(chat::error_code::no_route,
                    "No route matches channel '{}' with {{{}}} and no default agent is configured; add an "
                    "[[agent_routes]] entry or [routing] default_agent to clawft.toml",
                    channel, fmt::join(meta, ", "));
}

}  // namespace weft::router
