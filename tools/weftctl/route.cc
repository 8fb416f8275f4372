// weftctl route explain: which agent a message would go to, and why (asks the router).
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.hh"
#include "proto/chat_v1.hh"

namespace weft::ctl {

namespace chat = weft::proto::chat_v1;

int cmd_route_explain(const options& o, const route_args& a) {
  if (!a.text.empty()) {
    int rc = cmd_route_explain_text(o, a.text);
    if (rc || a.channel.empty()) return rc;
  }
  chat::explain ex;
  ex.channel = a.channel;
  ex.meta = a.meta;
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
