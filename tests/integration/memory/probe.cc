// weft-test-memory-probe — stands in for an agent in the memory tests (not shipped).
//
// Joins the bus with the credentials weftd gives it (e.g. as agent/a, replacing the real
// agent through [services.agent-a]) and forwards every request it receives to `memory`
// unchanged, answering with memory's reply. So a test can speak to memory *as* that agent,
// with the identity the bus authenticated — nothing in the payload says who is asking.
#include <weft/service/main.hh>

using namespace weft;

int main(int argc, char** argv) {
  service::main_spec spec{.program = "weft-test-memory-probe", .log_name = "probe",
                          .help = "usage: weft-test-memory-probe\n"
                                  "Forwards every request it receives to 'memory' as itself (tests only).\n",
                          .config = false};
  return service::run_main(argc, argv, spec, [](service::main_context& m) {
    auto& rt = *m.rt;
    rt.on_other([&](const ipc::message& req, service::responder out) {
      rt.call("memory", req.env.type, req.payload, {.timeout = std::chrono::seconds(20)},
              [out = std::move(out)](result<ipc::message> r) mutable {
                if (!r) return out.fail(r.err());
                out.send(r->env.type, std::move(r->payload));
              });
    });
    return rt.run();
  });
}
