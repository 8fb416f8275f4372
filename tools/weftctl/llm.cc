// weftctl llm policy …: the llm service's runtime tier-routing policy (io.weft.Llm.v1
// GetPolicy/SetPolicy), persisted by llm in $WEFT_HOME/llm/policy.json.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <weft/base/time.hh>

#include "commands.hh"
#include "proto/llm_v1.hh"

namespace weft::ctl {

namespace lv = weft::proto::llm_v1;
using json = nlohmann::json;

namespace {

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

/// Sends `req` (GetPolicy or SetPolicy) to llm and prints the policy it answers with.
template <class Req>
int ask(const options& o, const Req& req, const std::string& what) {
  zmq::context_t ctx(1);
  auto b = join_bus(ctx, o);
  if (!b) return failure(fmt::format("Failed to join the bus: {}", b.err().message));
  ipc::call_options co;
  co.timeout = std::chrono::milliseconds(o.timeout_ms);
  auto r = (*b)->call("llm", req, co);
  if (!r) return failure(fmt::format("Failed to {}: {}", what, r.err().message));
  auto p = r->template as<lv::policy>();
  if (!p) return failure(fmt::format("Failed to {}: {}", what, p.err().message));
  print_policy(o, *p);
  return 0;
}

}  // namespace

int cmd_llm_policy_show(const options& o) { return ask(o, lv::get_policy{}, "read the llm routing policy"); }

int cmd_llm_policy_set(const options& o, const llm_policy_args& a) {
  lv::set_policy req;
  req.agent = a.agent;
  req.tier = a.tier;
  req.disabled_tiers = a.disable;
  return ask(o, req, fmt::format("set the llm routing policy for agent '{}'", a.agent));
}

int cmd_llm_policy_clear(const options& o, const llm_policy_args& a) {
  lv::set_policy req;
  req.agent = a.agent;
  req.clear = true;
  return ask(o, req, fmt::format("clear the llm routing policy for agent '{}'", a.agent));
}

}  // namespace weft::ctl
