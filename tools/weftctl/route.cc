// weftctl route explain: which agent a message would go to, and why (asks the router).
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <weft/service/exit.hh>

#include "commands.hh"
#include "proto/chat_v1.hh"

namespace weft::ctl {

namespace chat = weft::proto::chat_v1;

int cmd_route_explain(const options& o, const std::vector<std::string>& args) {
  chat::explain ex;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& a = args[i];
    if (a.rfind("--", 0) != 0 || a.size() < 3)
      return service::usage_error("weftctl", fmt::format("route explain: unexpected '{}'; use --channel C --KEY VALUE", a));
    if (i + 1 >= args.size()) return service::usage_error("weftctl", fmt::format("route explain: {} needs a value", a));
    auto key = a.substr(2);
    for (auto& c : key)
      if (c == '-') c = '_';  // --user-id is the match key user_id
    if (key == "channel") ex.channel = args[++i];
    else ex.meta[key] = args[++i];
  }
  if (ex.channel.empty()) return service::usage_error("weftctl", "route explain needs --channel NAME");
  zmq::context_t ctx(1);
  auto b = join_bus(ctx, o);
  if (!b) return failure(fmt::format("Failed to join the bus: {}", b.err().message));
  ipc::call_options co;
  co.timeout = std::chrono::milliseconds(o.timeout_ms);
  auto r = (*b)->call("router", ex, co);
  if (!r) return failure(fmt::format("Failed to explain the route: {}", r.err().message));
  auto e = r->as<chat::explanation>();
  if (!e) return failure(fmt::format("Failed to explain the route: {}", e.err().message));
  if (o.json) {
    fmt::print("{}\n", nlohmann::json{{"channel", e->channel}, {"agent", e->agent}, {"rule", e->rule},
                                      {"reason", e->reason}}.dump(2));
  } else {
    fmt::print("agent: {}\nrule:  {}\nwhy:   {}\n", e->agent, e->rule, e->reason);
  }
  return 0;
}

}  // namespace weft::ctl
