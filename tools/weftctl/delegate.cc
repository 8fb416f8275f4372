// weftctl delegate status: whether an agent's Claude Code delegate can run, asked of its
// process (tool/delegate/<agent>, the unlisted tool 'status'); and route explain --text,
// which [delegation.routing_rules] rule a message text matches (read from the config).
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <weft/ipc/address.hh>
#include <weft/service/config.hh>
#include <weft/service/policy.hh>

#include "commands.hh"
#include "proto/bus_v1.hh"
#include "proto/tool_v1.hh"

namespace weft::ctl {

namespace tool = weft::proto::tool_v1;
using json = nlohmann::json;

int cmd_delegate_status(const options& o, const std::string& agent) {
  zmq::context_t ctx(1);
  auto b = join_bus(ctx, o);
  if (!b) return failure(fmt::format("Failed to join the bus: {}", b.err().message));
  auto process = ipc::addr::tool("delegate", agent);
  ipc::call_options co;
  co.timeout = std::chrono::milliseconds(o.timeout_ms);
  auto r = (*b)->call(ipc::addr::tool_method(process, "status"), tool::call{"status", "{}", "", 0}, co);
  if (!r) {
    if (proto::bus_v1::is(r.err(), proto::bus_v1::error_code::no_such_address))
      return failure(fmt::format("Failed to ask '{}': it is not running. weftd runs it when 'delegate' is among "
                                 "[agents.{}.tools] families, [delegation] claude_enabled is on and Claude Code is "
                                 "there ([delegation] claude_path, else `claude` on weftd's PATH when it last read "
                                 "its config: install it, then `weftctl reload`)",
                                 process, agent));
    return failure(fmt::format("Failed to ask '{}': {}", process, r.err().to_string()));
  }
  auto res = r->as<tool::result>();
  if (!res) return failure(fmt::format("Failed to read the answer of '{}': {}", process, res.err().message));
  auto j = json::parse(res->content, nullptr, false);
  if (!j.is_object()) return failure(fmt::format("Failed to read the answer of '{}': not a JSON object", process));
  j["agent"] = agent;
  if (o.json) {
    fmt::print("{}\n", j.dump(2));
    return j.value("usable", false) ? 0 : 1;
  }
  auto list = [&](const char* k) {
    std::vector<std::string> v = j.value(k, std::vector<std::string>{});
    return v.empty() ? std::string("-") : fmt::format("{}", fmt::join(v, ", "));
  };
  auto or_dash = [](const std::string& s) { return s.empty() ? std::string("-") : s; };
  fmt::print("agent:   {}\n", agent);
  fmt::print("path:    {}\n", or_dash(j.value("path", "")));
  fmt::print("version: {}\n", or_dash(j.value("version", "")));
  fmt::print("auth:    {}\n", j.value("auth", ""));
  fmt::print("network: {}\n", or_dash(j.value("network", "")));
  fmt::print("probed:  {}\n", or_dash(j.value("last_probe", "")));
  fmt::print("usable:  {}\n", j.value("usable", false) ? "yes" : "no");
  fmt::print("error:   {}\n", or_dash(j.value("error", "")));
  fmt::print("allowed tools:    {}\n", list("allowed_tools"));
  fmt::print("disallowed tools: {}\n", list("disallowed_tools"));
  fmt::print("asked tools:      {}\n", list("ask_tools"));
  fmt::print("limits:  {} s per run, {} turns\n", j.value("timeout_ms", 0) / 1000, j.value("max_turns", 0));
  return j.value("usable", false) ? 0 : 1;
}

int cmd_route_explain_text(const options& o, const std::string& text) {
  // The config weftd runs on, else the one it would find.
  std::string file;
  if (auto w = ask_weftd(o)) file = w->config;
  else file = service::find_config("").value_or("");
  auto cfg = service::load_config_or_default(file, /*lenient_env=*/true);
  if (!cfg) return failure(fmt::format("Failed to read the config '{}': {}", file, cfg.err().message));
  service::delegation_router rules(cfg->delegation.routing_rules);
  auto* m = rules.match(text);
  std::string target = m ? m->target : "", why;
  if (!m)
    why = cfg->delegation.routing_rules.empty() ? "there are no [delegation.routing_rules]; the model decides"
                                                : "no [delegation.routing_rules] rule matches; the model decides";
  else if (target == "flow") why = "the message goes to Claude Code (delegate_to_claude), without the model";
  else if (target == "local") why = "the message stays with the agent's model; delegate_to_claude is not offered";
  else why = "handing a message to another agent is not built yet: the model decides";
  if (o.json) {
    fmt::print("{}\n", json{{"text", text},
                            {"rule", m ? m->pattern : ""},
                            {"where", m ? m->where : ""},
                            {"target", target},
                            {"why", why},
                            {"config", file.empty() ? "(built-in default)" : file}}
                           .dump(2));
    return 0;
  }
  if (m) fmt::print("rule:   '{}' = '{}'{}\n", m->pattern, m->target, m->where.empty() ? "" : " (" + m->where + ")");
  else fmt::print("rule:   none\n");
  fmt::print("why:    {}\n", why);
  return 0;
}

}  // namespace weft::ctl
