// weftctl llm policy …: the llm service's runtime tier-routing policy (io.weft.Llm.v1
// GetPolicy/SetPolicy), persisted by llm in $WEFT_HOME/llm/policy.json.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <weft/base/time.hh>
#include <weft/service/exit.hh>

#include "commands.hh"
#include "proto/llm_v1.hh"

namespace weft::ctl {

namespace lv = weft::proto::llm_v1;
using json = nlohmann::json;

namespace {

constexpr const char* llm_help =
    "usage: weftctl llm policy [set --agent ID (--tier NAME | --disable TIER…) | clear --agent ID]\n"
    "\n"
    "The llm service's runtime tier-routing policy: per-agent overrides that take precedence\n"
    "over the agent's configured tier (or model), below a tier or model named in a request\n"
    "itself. The llm service keeps it in $WEFT_HOME/llm/policy.json, so it survives restarts.\n"
    "\n"
    "Commands:\n"
    "  policy                         show the overrides, and any problem loading them\n"
    "  policy set --agent ID [--tier NAME] [--disable TIER]…\n"
    "                                 route the agent's requests to tier NAME; --disable (repeatable)\n"
    "                                 keeps tiers from ever being chosen for it, also by the\n"
    "                                 context-size fallback. Replaces the agent's previous override.\n"
    "  policy clear --agent ID        remove the agent's override (back to the configuration)\n"
    "\n"
    "Tiers are the [[llm.tiers]] of the configuration; an unknown tier or agent is refused.\n"
    "Global options (before 'llm'): --json, --timeout MS, --runtime-dir DIR.\n";

void print_policy(const options& o, const lv::policy& p) {
  if (o.json) {
    json list = json::array();
    for (auto& ov : p.overrides)
      list.push_back({{"agent", ov.agent},
                      {"tier", ov.tier},
                      {"disabled_tiers", ov.disabled_tiers},
                      {"set_by", ov.set_by},
                      {"set_at", ov.set_at ? to_rfc3339(*ov.set_at) : ""},
                      {"problem", ov.problem}});
    fmt::print("{}\n", json{{"path", p.path}, {"overrides", list}, {"warnings", p.warnings}}.dump(2));
    return;
  }
  if (p.overrides.empty()) {
    fmt::print("no routing overrides (every agent routes as configured)\n");
  } else {
    std::size_t wa = 5, wt = 4, wd = 8;
    for (auto& ov : p.overrides) {
      wa = std::max(wa, ov.agent.size());
      wt = std::max(wt, ov.tier.size());
      wd = std::max(wd, fmt::format("{}", fmt::join(ov.disabled_tiers, ",")).size());
    }
    fmt::print("{:<{}}  {:<{}}  {:<{}}  {}\n", "AGENT", wa, "TIER", wt, "DISABLED", wd, "SET");
    for (auto& ov : p.overrides) {
      auto disabled = fmt::format("{}", fmt::join(ov.disabled_tiers, ","));
      auto set = ov.set_at ? to_rfc3339(*ov.set_at) : std::string("-");
      if (!ov.set_by.empty()) set += " by " + ov.set_by;
      fmt::print("{:<{}}  {:<{}}  {:<{}}  {}\n", ov.agent, wa, ov.tier.empty() ? "-" : ov.tier, wt,
                 disabled.empty() ? "-" : disabled, wd, set);
      if (!ov.problem.empty()) fmt::print("  not applied: {}\n", ov.problem);
    }
  }
  if (!p.path.empty()) fmt::print("stored in {}\n", p.path);
  for (auto& w : p.warnings) fmt::print(stderr, "warning: {}\n", w);
}

}  // namespace

int cmd_llm(const options& o, const std::vector<std::string>& args) {
  for (auto& a : args)
    if (a == "-h" || a == "--help") {
      fmt::print("{}", llm_help);
      return 0;
    }
  if (args.empty() || args[0] != "policy")
    return service::usage_error("weftctl", args.empty() ? std::string("llm needs a command: policy")
                                                        : fmt::format("llm: unknown command '{}'", args[0]));
  std::string verb = args.size() > 1 ? args[1] : "";
  if (!verb.empty() && verb != "set" && verb != "clear" && verb != "show")
    return service::usage_error("weftctl", fmt::format("llm policy: unknown command '{}'", verb));

  lv::set_policy req;
  req.clear = verb == "clear";
  for (std::size_t i = 2; i < args.size(); ++i) {
    const auto& a = args[i];
    auto value = [&]() -> const std::string* { return i + 1 < args.size() ? &args[++i] : nullptr; };
    if (verb != "set" && verb != "clear")
      return service::usage_error("weftctl", fmt::format("llm policy: unexpected '{}'", a));
    if (a == "--agent") {
      auto v = value();
      if (!v || v->empty()) return service::usage_error("weftctl", "llm policy: --agent needs an agent id");
      req.agent = *v;
    } else if (a == "--tier" && verb == "set") {
      auto v = value();
      if (!v || v->empty()) return service::usage_error("weftctl", "llm policy set: --tier needs a tier name");
      req.tier = *v;
    } else if (a == "--disable" && verb == "set") {
      auto v = value();
      if (!v || v->empty()) return service::usage_error("weftctl", "llm policy set: --disable needs a tier name");
      req.disabled_tiers.push_back(*v);
    } else {
      return service::usage_error("weftctl", fmt::format("llm policy {}: unexpected '{}'", verb, a));
    }
  }
  bool change = verb == "set" || verb == "clear";
  if (change && req.agent.empty())
    return service::usage_error("weftctl", fmt::format("llm policy {} needs --agent ID", verb));
  if (verb == "set" && req.tier.empty() && req.disabled_tiers.empty())
    return service::usage_error("weftctl", "llm policy set needs --tier NAME or --disable TIER");

  zmq::context_t ctx(1);
  auto b = join_bus(ctx, o);
  if (!b) return failure(fmt::format("Failed to join the bus: {}", b.err().message));
  ipc::call_options co;
  co.timeout = std::chrono::milliseconds(o.timeout_ms);
  auto r = change ? (*b)->call("llm", req, co) : (*b)->call("llm", lv::get_policy{}, co);
  auto what = !change ? std::string("read the llm routing policy")
                      : fmt::format("{} the llm routing policy for agent '{}'", verb == "set" ? "set" : "clear", req.agent);
  if (!r) return failure(fmt::format("Failed to {}: {}", what, r.err().message));
  auto p = r->as<lv::policy>();
  if (!p) return failure(fmt::format("Failed to {}: {}", what, p.err().message));
  print_policy(o, *p);
  return 0;
}

}  // namespace weft::ctl
