// weft-test-memory-probe — stands in for an agent in the memory tests (not shipped).
//
// Joins the bus with the credentials weftd gives it (e.g. as agent/a, replacing the real
// agent through [services.agent-a]) and forwards every request it receives to `memory`
// unchanged, answering with memory's reply. So a test can speak to memory *as* that agent,
// with the identity the bus authenticated — nothing in the payload says who is asking.
#include <cstring>

#include <weft/base/log.hh>
#include <weft/service/exit.hh>
#include <weft/service/service_loop.hh>
#include <weft/service/startup.hh>

using namespace weft;

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--help") == 0) {
    fmt::print("usage: weft-test-memory-probe\nForwards every request it receives to 'memory' as itself (tests only).\n");
    return 0;
  }
  int signal_fd = service::block_stop_signals();
  (void)signal_fd;
  log::configure_from_env();
  auto& lg = log::get("probe");
  auto on = service::join_bus_from_env();
  if (!on) return service::exit_with(lg, on.err());
  auto& notify = (*on)->notify;
  auto& b = *(*on)->bus;
  (void)notify.ready();
  for (;;) {
    (void)notify.beat_if_due();
    auto m = b.next(std::chrono::milliseconds(200));
    if (!m || m->env.kind != ipc::bus::kind::request) continue;
    ipc::call_options co;
    co.timeout = std::chrono::seconds(20);
    co.attempt_timeout = co.timeout;
    auto r = b.call("memory", m->env.type, m->payload, co);
    if (!r) (void)b.reply_error(*m, r.err());
    else (void)b.reply(*m, r->env.type, r->payload);
  }
}
