// weft-router — maps every inbound chat message to an agent and sees it answered.
//
// Purpose: the router owns the path of a turn (docs/turn.md): channels hand it messages
// (io.weft.Chat.v1.Inbound), it stores each one durably before answering Accepted, picks
// the agent by [[agent_routes]] (most specific match, then [routing] default_agent),
// publishes the decision as an audit event, sends the agent a Turn, stores the reply in
// its outbox and has the channel deliver it — resending each step until it is confirmed,
// also across restarts of itself or of any other process. The turns of one session run one
// at a time, and their replies are delivered, in the order the messages were accepted.
//
// Options: --help, --version.
// Serves: io.weft.Chat.v1 Inbound, Explain at bus address `router`.
// Calls: Chat.v1 Turn at agent/<id>, Deliver at chan/<name>; publishes Chat.v1 Explanation.
//
// Started by weftd (address "router") with $WEFT_BUS, $WEFT_ADDRESS, $WEFT_TOKEN_FD,
// $WEFT_EVENTS, $WEFT_HOME, $WEFT_CONFIG. State: $WEFT_HOME/router/journal.
//
// Example config:
//   [routing]
//   default_agent = "main"
//   [[agent_routes]]
//   channel = "telegram"
//   match = { user_id = 111 }
//   agent = "work-agent"
#include <weft/service/main.hh>
#include <weft/service/paths.hh>

#include "router.hh"

using namespace weft;

namespace {

constexpr std::string_view help = R"(usage: weft-router [--help] [--version]

Routes chat messages from channels to agents and replies back, durably: an
accepted message is answered exactly once, whatever process restarts meanwhile.
Started by weftd; not meant to be run by hand.

Environment (set by weftd):
  WEFT_BUS, WEFT_ADDRESS, WEFT_TOKEN_FD   bus endpoint and credentials
  WEFT_EVENTS                            the bus's event endpoint (peer changes)
  WEFT_CONFIG                            config file ([[agent_routes]], [routing])
  WEFT_HOME                              state: <home>/router/journal
)";

}  // namespace

int main(int argc, char** argv) {
  return service::run_main(argc, argv, {.program = "weft-router", .log_name = "router", .help = help},
                           [](service::main_context& m) {
                             auto journal_path = service::home_dir(m.cfg.home) + "/router/journal";
                             auto r = router::router::open(*m.rt, m.cfg, journal_path);
                             if (!r) return m.fail(r.err());
                             m.log.info("Routing for {} agents with {} routes; journal {}", m.cfg.agents.size(),
                                        m.cfg.agent_routes.size(), journal_path);
                             int rc = m.rt->run();
                             m.log.info("router stopping; {} turns in progress are kept in the journal",
                                        (*r)->live());
                             return rc;
                           });
}
