// weft-router — maps every inbound chat message to an agent and sees it answered.
//
// Purpose: the router owns the path of a turn (docs/turn.md): channels hand it messages
// (io.weft.Chat.v1.Inbound), it stores each one durably before answering Accepted, picks
// the agent by [[agent_routes]] (most specific match, then [routing] default_agent),
// publishes the decision as an audit event, sends the agent a Turn, stores the reply in
// its outbox and has the channel deliver it — resending each step until it is confirmed,
// also across restarts of itself or of any other process.
//
// Started by weftd (address "router") with $WEFT_BUS, $WEFT_ADDRESS, $WEFT_TOKEN_FD,
// $WEFT_EVENTS, $WEFT_HOME, $WEFT_CONFIG. State: $WEFT_HOME/router/journal.
#include <poll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <fmt/core.h>

#include <weft/base/log.hh>
#include <weft/service/config.hh>
#include <weft/service/exit.hh>
#include <weft/service/notify.hh>
#include <weft/service/paths.hh>
#include <weft/service/service_loop.hh>
#include <weft/service/startup.hh>

#include "router.hh"

using namespace weft;

namespace {

void usage() {
  fmt::print(
      "usage: weft-router [--help]\n"
      "\n"
      "Routes chat messages from channels to agents and replies back, durably: an\n"
      "accepted message is answered exactly once, whatever process restarts meanwhile.\n"
      "Started by weftd; not meant to be run by hand.\n"
      "\n"
      "Environment (set by weftd):\n"
      "  WEFT_BUS, WEFT_ADDRESS, WEFT_TOKEN_FD   bus endpoint and credentials\n"
      "  WEFT_EVENTS                            the bus's event endpoint (peer changes)\n"
      "  WEFT_CONFIG                            config file ([[agent_routes]], [routing])\n"
      "  WEFT_HOME                              state: <home>/router/journal\n");
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--help" || a == "-h") {
      usage();
      return 0;
    }
    return service::usage_error("weft-router", fmt::format("unknown option '{}'", a));
  }
  int signal_fd = service::block_stop_signals();
  log::configure_from_env();
  auto& lg = log::get("router");
  auto cfg = service::load_service_config();
  if (!cfg) return service::exit_with(lg, cfg.err());
  auto on = service::join_bus_from_env();
  if (!on) return service::exit_with(lg, on.err());
  auto& [notify, ctx, bus] = **on;
  std::unique_ptr<ipc::event_subscriber> events;
  if (const char* ep = std::getenv("WEFT_EVENTS"); ep && *ep) {
    auto s = ipc::event_subscriber::connect(ctx, ep, {std::string(proto::bus_v1::peer_changed::type_name)});
    if (s) events = std::move(*s);
    else lg.warning("Failed to subscribe to bus events: {}; resends wait for their timers", s.err().message);
  }
  auto journal_path = service::home_dir(cfg->home) + "/router/journal";
  auto r = router::router::open(*cfg, *bus, journal_path);
  if (!r) {
    lg.error("{}", r.err().message);
    return service::to_int(service::exit_code::failure);
  }
  lg.info("Routing for {} agents with {} routes; journal {}", cfg->agents.size(), cfg->agent_routes.size(),
          journal_path);
  (void)notify.ready();
  bool stopping = false;
  auto wait = (*r)->flush();
  while (!stopping) {
    auto beat = notify.beat_if_due();
    zmq::pollitem_t items[] = {{bus->socket().handle(), 0, ZMQ_POLLIN, 0},
                               {bus->monitor_socket().handle(), 0, ZMQ_POLLIN, 0},
                               {nullptr, signal_fd, ZMQ_POLLIN, 0},
                               {events ? events->socket().handle() : nullptr, events ? 0 : -1, ZMQ_POLLIN, 0}};
    zmq::poll(items, events ? 4 : 3, std::min(wait, beat));
    if (items[2].revents & ZMQ_POLLIN) {
      signalfd_siginfo si;
      while (::read(signal_fd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) stopping = true;
    }
    if (events) {
      while (auto ev = events->next(std::chrono::milliseconds(0))) {
        auto pc = ev->second.as<proto::bus_v1::peer_changed>();
        if (pc && pc->joined) (*r)->on_peer_joined(pc->address);
      }
    }
    bus->process_input();
    // Everything that has arrived is handled before one commit (group commit).
    while (auto m = bus->next(std::chrono::milliseconds(0))) (*r)->on_message(*m);
    wait = (*r)->flush();
  }
  lg.info("router stopping; {} turns in progress are kept in the journal", (*r)->live());
  (void)notify.stopping();
  bus->close(std::chrono::milliseconds(500));
  return 0;
}
