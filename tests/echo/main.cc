// weft-echo — test-only bus service (not installed).
//
// Purpose: a real service for integration tests and benchmarks. It answers
// io.weft.test.Echo.v1 requests: Echo (returns the text and the sender the bus stamped),
// Append/Missing (records sequence numbers, to prove acknowledged messages survive
// restarts), Sleep (blocks its only thread: tests draining and hung-child detection) and
// Relay (asks another echo service, answered when that one answers).
//
// Started by weftd with $WEFT_BUS, $WEFT_ADDRESS, $WEFT_TOKEN_FD and $WEFT_NOTIFY_FD.
// Options:
//   --actors   handle requests in CAF actors through ipc::actor_bridge (builds with
//              -Dcaf=enabled only; see docs/architecture.md)
//   --help, --version
//
// Example config:
//   [services.echo-1]
//   exec = "/path/to/build/tests/echo/weft-echo"
//   address = "echo/1"
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <map>

#include <mutex>
#include <set>
#include <thread>

#include <weft/service/main.hh>
#include <weft/service/startup.hh>
#ifdef WEFT_HAVE_CAF
#include <weft/ipc/actor_bridge.hh>
#endif

#include "tests/echo/echo_v1.hh"

namespace echo = weft::proto::echo_v1;
using namespace weft;

namespace {

constexpr std::string_view help = R"(usage: weft-echo [--actors]
A test-only echo service started by weftd (io.weft.test.Echo.v1).
  --actors   handle requests in CAF actors through ipc::actor_bridge (needs a build
             configured with -Dcaf=enabled)
)";

/// The state and answers of the echo service, shared by both modes (actor mode may run
/// handlers on several scheduler threads, hence the lock).
struct echo_state {
  std::string self;
  std::uint32_t pid = static_cast<std::uint32_t>(::getpid());
  std::mutex mu;
  std::set<std::uint64_t> seen;

  result<echo::echo_reply> on_echo(const echo::echo& r, const ipc::message& m) {
    if (r.fail) return echo::make(echo::error_code::refused, "asked to fail");
    return echo::echo_reply{r.text, r.blob, m.env.from, self, pid};
  }
  result<echo::appended> on_append(const echo::append& r, const ipc::message&) {
    std::lock_guard lock(mu);
    seen.insert(r.seq);
    return echo::appended{seen.size()};
  }
  result<echo::missing_reply> on_missing(const echo::missing& r, const ipc::message&) {
    echo::missing_reply out;
    std::lock_guard lock(mu);
    for (auto s : r.seqs)
      if (!seen.count(s)) out.missing.push_back(s);
    return out;
  }
  result<echo::slept> on_sleep(const echo::sleep& r, const ipc::message&) {
    auto ms = std::min<std::uint32_t>(r.ms, 60000);
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    return echo::slept{ms};
  }
};

#ifdef WEFT_HAVE_CAF
/// Actor mode: the bus is served by ipc::actor_bridge on its own thread and each request
/// is handled by a CAF actor; the main thread only sends heartbeats and waits for TERM.
int run_with_actors(service::main_context& m, echo_state& st) {
  auto on = service::join_bus_from_env();
  if (!on) return m.fail(on.err());
  auto& notify = (*on)->notify;
  using answer = result<std::pair<std::string, std::string>>;
  std::map<std::string, std::function<answer(const ipc::message&)>, std::less<>> table;
  auto add = [&](auto type_tag, auto fn) {
    using T = typename decltype(type_tag)::type;
    table[std::string(T::type_name)] = [fn](const ipc::message& msg) -> answer {
      auto req = msg.as<T>();
      if (!req) return req.err();
      auto r = fn(*req, msg);
      if (!r) return r.err();
      return std::pair{std::string(std::decay_t<decltype(*r)>::type_name), wire::encode(*r)};
    };
  };
  add(std::type_identity<echo::echo>{}, [&](auto& r, auto& msg) { return st.on_echo(r, msg); });
  add(std::type_identity<echo::append>{}, [&](auto& r, auto& msg) { return st.on_append(r, msg); });
  add(std::type_identity<echo::missing>{}, [&](auto& r, auto& msg) { return st.on_missing(r, msg); });
  add(std::type_identity<echo::sleep>{}, [&](auto& r, auto& msg) { return st.on_sleep(r, msg); });
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  ipc::actor_bridge bridge(std::move((*on)->bus));
  using drain_atom = caf::atom_constant<caf::atom("drain")>;
  auto handler = sys.spawn([&bridge, &table, &st](caf::event_based_actor* self) -> caf::behavior {
    return {[&bridge, &table, &st](ipc::bus_request_atom, const ipc::bus_message& msg) {
              if (msg->env.kind != proto::bus_v1::kind::request) return;
              auto it = table.find(msg->env.type);
              if (it == table.end())
                return bridge.reply_error(*msg, proto::bus_v1::make(proto::bus_v1::error_code::unknown_type,
                                                                    "'{}' does not handle '{}' in actor mode",
                                                                    st.self, msg->env.type));
              auto r = it->second(*msg);
              if (r) bridge.reply(*msg, r->first, std::move(r->second));
              else bridge.reply_error(*msg, r.err());
            },
            // Queued behind every request already delivered: quitting here drains.
            [self](drain_atom) { self->quit(); }};
  });
  bridge.start(handler);
  (void)notify.ready();
  // TERM and INT are blocked (run_main): wait for one here, beating meanwhile.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  for (;;) {
    auto wait = notify.beat_if_due();
    timespec ts{static_cast<time_t>(wait.count() / 1000), static_cast<long>(wait.count() % 1000) * 1000000};
    if (sigtimedwait(&set, nullptr, &ts) > 0) break;
  }
  (void)notify.stopping();
  bridge.refuse_new();
  caf::anon_send(handler, drain_atom::value);
  sys.await_all_actors_done();  // requests already delivered are answered
  bridge.stop();                // then the replies are sent
  return 0;
}
#endif

/// Whether argv asks for actor mode (decided before run_main joins the bus for loop mode).
bool wants_actors(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::string_view(argv[i]) == "--actors") return true;
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  bool actors = wants_actors(argc, argv);
  service::main_spec spec{.program = "weft-echo", .log_name = "echo", .help = help,
                          .options = {{"--actors", "", "", [](std::string_view) -> status {
#ifdef WEFT_HAVE_CAF
                                         return {};
#else
                                         return fail(errc::invalid_argument,
                                                     "this build has no CAF (configure with -Dcaf=enabled)");
#endif
                                       }}},
                          .bus = !actors};
  return service::run_main(argc, argv, spec, [&](service::main_context& m) {
    echo_state st;
#ifdef WEFT_HAVE_CAF
    if (actors) {
      const char* a = std::getenv("WEFT_ADDRESS");
      st.self = a ? a : "";
      return run_with_actors(m, st);
    }
#endif
    st.self = m.address;
    auto& rt = *m.rt;
    rt.on<echo::echo>([&](const echo::echo& r, const ipc::message& msg) { return st.on_echo(r, msg); });
    rt.on<echo::append>([&](const echo::append& r, const ipc::message& msg) { return st.on_append(r, msg); });
    rt.on<echo::missing>([&](const echo::missing& r, const ipc::message& msg) { return st.on_missing(r, msg); });
    rt.on<echo::sleep>([&](const echo::sleep& r, const ipc::message& msg) { return st.on_sleep(r, msg); });
    rt.on<echo::relay>([&](echo::relay r, service::responder out) {
      // Answered when the other service answers; an error (e.g. Denied by the bus) is passed on as is.
      rt.call(r.to, echo::echo{r.text, std::nullopt, false}, {.retry = false},
              [out = std::move(out)](result<ipc::message> a) mutable {
                if (!a) return out.fail(a.err());
                out.answer(a->as<echo::echo_reply>());
              });
    });
    return rt.run();
  });
}
