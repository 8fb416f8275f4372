// weft-sample — the smallest complete service on the runtime, shown in docs/architecture.md
// ("Adding a service"). Echo is answered at once, Sleep later by a timer (the thread never
// blocks), a periodic timer counts ticks into the STATUS line weftctl status shows. Drain on
// TERM (a Sleep in hand is answered first) and bus restarts are the runtime's work.
#include <unistd.h>

#include <weft/service/main.hh>

#include "tests/echo/echo_v1.hh"

using namespace weft;
namespace echo = weft::proto::echo_v1;

constexpr std::string_view help = R"(usage: weft-sample [--tick-ms N]
A test service: answers io.weft.test.Echo.v1 Echo at once and Sleep after its delay.
  --tick-ms N   how often the STATUS line's tick count grows (default 1000)
)";

int main(int argc, char** argv) {
  int tick_ms = 1000;
  service::main_spec spec{.program = "weft-sample", .log_name = "sample", .help = help,
                          .options = {{"--tick-ms", "", "N", [&](std::string_view v) -> status {
                                         tick_ms = std::atoi(std::string(v).c_str());
                                         if (tick_ms > 0) return {};
                                         return fail(errc::invalid_argument, "not a positive number");
                                       }}}};
  return service::run_main(argc, argv, spec, [&](service::main_context& m) {
    auto& rt = *m.rt;
    std::uint64_t ticks = 0;
    rt.loop().every(std::chrono::milliseconds(tick_ms), [&] { rt.set_status(fmt::format("ticks: {}", ++ticks)); });
    rt.on<echo::echo>([&](const echo::echo& e, const ipc::message& msg) -> result<echo::echo_reply> {
      return echo::echo_reply{e.text, e.blob, msg.env.from, rt.address(), static_cast<std::uint32_t>(::getpid())};
    });
    rt.on<echo::sleep>([&](echo::sleep s, service::responder r) {
      rt.loop().after(std::chrono::milliseconds(s.ms), [r = std::move(r), ms = s.ms]() mutable {
        r.reply(echo::slept{ms});
      });
    });
    return rt.run();
  });
}
