// weftd + bus + echo services as real processes: readiness, restarts, bus restarts,
// authentication, sender stamping and limits.
#include <doctest/doctest.h>

#include <csignal>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <fstream>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include <weft/base/fd.hh>

#include "harness.hh"
#include "tests/echo/echo_v1.hh"

using namespace weft;
using namespace std::chrono_literals;
namespace sv = weft::proto::supervisor_v1;
namespace bus = weft::proto::bus_v1;
namespace echo = weft::proto::echo_v1;

namespace {
const std::string fast_restarts =
    "[supervisor]\nrestart_backoff_initial_ms = 50\nrestart_backoff_max_ms = 1000\n\n";
}

TEST_CASE("weftd starts the bus and 3 echo services; status --json lists them ready") {
  auto s = test::stack::start(fast_restarts + test::echo_services(3));
  auto r = s->weftctl({"status", "--json"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  auto j = nlohmann::json::parse(r.out);
  REQUIRE(j["services"].size() == 4);
  std::set<std::string> names;
  for (auto& svc : j["services"]) {
    CHECK(svc["state"] == "ready");
    CHECK(svc["pid"].get<int>() > 0);
    names.insert(svc["name"].get<std::string>());
  }
  CHECK(names == std::set<std::string>{"bus", "echo-1", "echo-2", "echo-3"});
  CHECK(j["config"] == s->config_path());
  // weftd itself keeps systemd's watchdog fed.
  CHECK(s->wait_notify("WATCHDOG=1", 10s));

  // Each echo service answers through the bus.
  auto b = s->bus_client();
  for (int i = 1; i <= 3; ++i) {
    auto rep = b->call(fmt::format("echo/{}", i), echo::echo{"hi", std::nullopt, false});
    REQUIRE_MESSAGE(rep, (rep ? "" : rep.err().to_string()));
    auto e = rep->as<echo::echo_reply>();
    REQUIRE(e);
    CHECK(e->served_by == fmt::format("echo/{}", i));
    CHECK(e->text == "hi");
  }
  // The table for people names every service too.
  auto t = s->weftctl({"status"});
  CHECK(t.exit_code == 0);
  CHECK(t.out.find("echo-3") != std::string::npos);
}

TEST_CASE("kill -9 of an echo service: weftd restarts it and it answers again") {
  auto s = test::stack::start(fast_restarts + test::echo_services(3));
  auto c = s->control();
  REQUIRE(c->request(sv::watch{}));
  auto old_pid = s->service_pid("echo-2");
  REQUIRE(old_pid > 0);
  REQUIRE(::kill(old_pid, SIGKILL) == 0);
  REQUIRE(s->wait_state(*c, "echo-2", sv::state::ready, 1, 20s));
  auto new_pid = s->service_pid("echo-2");
  CHECK(new_pid != old_pid);
  auto b = s->bus_client();
  auto rep = b->call("echo/2", echo::echo{"back?", std::nullopt, false});
  REQUIRE_MESSAGE(rep, (rep ? "" : rep.err().to_string()));
  CHECK(rep->as<echo::echo_reply>()->pid == static_cast<std::uint32_t>(new_pid));
  auto st = nlohmann::json::parse(s->weftctl({"status", "--json"}).out);
  for (auto& svc : st["services"])
    if (svc["name"] == "echo-2") {
      CHECK(svc["restarts"] == 1);
      CHECK(svc["last_exit"].get<std::string>().find("signal 9") != std::string::npos);
    }
}

TEST_CASE("kill -9 of the bus: services reconnect and no acknowledged message is lost") {
  auto s = test::stack::start(fast_restarts + test::echo_services(3));
  auto c = s->control();
  REQUIRE(c->request(sv::watch{}));
  auto b = s->bus_client();
  ipc::call_options patient;
  patient.timeout = 20s;
  patient.attempt_timeout = 500ms;
  std::map<int, std::vector<std::uint64_t>> acked;
  auto bus_pid = s->service_pid("bus");
  REQUIRE(bus_pid > 0);
  const std::uint64_t total = 600;
  for (std::uint64_t seq = 0; seq < total; ++seq) {
    if (seq == total / 3) REQUIRE(::kill(bus_pid, SIGKILL) == 0);
    int target = static_cast<int>(seq % 3) + 1;
    auto rep = b->call(fmt::format("echo/{}", target), echo::append{seq}, patient);
    REQUIRE_MESSAGE(rep, "seq ", seq, ": ", (rep ? "" : rep.err().to_string()));
    REQUIRE(rep->as<echo::appended>());
    acked[target].push_back(seq);
  }
  CHECK(s->service_pid("bus") != bus_pid);
  for (auto& [target, seqs] : acked) {
    auto rep = b->call(fmt::format("echo/{}", target), echo::missing{seqs}, patient);
    REQUIRE(rep);
    auto m = rep->as<echo::missing_reply>();
    REQUIRE(m);
    CHECK_MESSAGE(m->missing.empty(), "echo/", target, " lost ", m->missing.size(), " acknowledged messages");
  }
  // The echo services were not restarted: they reconnected to the new bus.
  auto st = nlohmann::json::parse(s->weftctl({"status", "--json"}).out);
  for (auto& svc : st["services"]) {
    CHECK(svc["state"] == "ready");
    if (svc["name"] != "bus") CHECK(svc["restarts"] == 0);
  }
}

TEST_CASE("a client with a wrong token is refused and the refusal is audited") {
  auto s = test::stack::start(test::echo_services(1));
  auto r = s->control()->request(sv::issue_token{424242});
  REQUIRE(r);
  auto tok = r->as<sv::token>();
  REQUIRE(tok);
  auto events = ipc::event_subscriber::connect(s->ctx(), tok->events, {std::string(bus::auth_refused::type_name)});
  REQUIRE(events);
  ipc::client_options o;
  o.endpoint = tok->bus;
  o.hello_timeout = 5s;
  // A real token, but for a different address than the one claimed.
  o.address = "weftd";
  o.token = tok->token;
  auto bad = ipc::bus_client::connect(s->ctx(), o);
  // The subscription may not be established before the first Hello: retry the Hello a
  // few times until the audit event is seen (each attempt must be refused).
  std::optional<std::pair<std::string, ipc::message>> ev;
  for (int i = 0; i < 20 && !ev; ++i) {
    REQUIRE_FALSE(bad);
    CHECK(bus::is(bad.err(), bus::error_code::auth_failed));
    ev = (*events)->next(250ms);
    if (!ev) bad = ipc::bus_client::connect(s->ctx(), o);
  }
  REQUIRE(ev);
  auto refused = ev->second.as<bus::auth_refused>();
  REQUIRE(refused);
  CHECK(refused->address == "weftd");
  CHECK(ev->second.env.from == "bus");
  // A garbage token is refused as well.
  o.token = "not-a-token";
  CHECK_FALSE(ipc::bus_client::connect(s->ctx(), o));
}

TEST_CASE("a forged sender is not believed: the bus stamps the authenticated one") {
  auto s = test::stack::start(test::echo_services(1));
  auto good = s->bus_client();  // authenticated as ctl/<n>
  // Speak the wire directly so the header can claim to come from weftd.
  auto r = s->control()->request(sv::issue_token{777001});
  auto tok = r->as<sv::token>();
  REQUIRE(tok);
  zmq::socket_t d(s->ctx(), zmq::socket_type::dealer);
  d.set(zmq::sockopt::linger, 0);
  d.connect(tok->bus);
  auto send = [&](const std::string& h, const std::string& p) {
    d.send(zmq::buffer(h), zmq::send_flags::sndmore);
    d.send(zmq::buffer(p), zmq::send_flags::none);
  };
  auto recv = [&]() {
    zmq::pollitem_t it{d.handle(), 0, ZMQ_POLLIN, 0};
    REQUIRE(zmq::poll(&it, 1, 10s) == 1);
    zmq::message_t h, p;
    REQUIRE(d.recv(h));
    if (h.more()) (void)d.recv(p);
    return ipc::message{*wire::decode<bus::envelope>(h.to_string_view()), p.to_string()};
  };
  send(ipc::encode_header(bus::kind::request, bus::hello::type_name, 1, "bus"),
       wire::encode(bus::hello{tok->address, tok->token, {}}));
  REQUIRE(recv().is(bus::welcome::type_name));
  send(ipc::encode_header(bus::kind::request, echo::echo::type_name, 2, "echo/1", /*from=*/"weftd"),
       wire::encode(echo::echo{"who am I?", std::nullopt, false}));
  auto m = recv();
  REQUIRE_FALSE(m.is_error());
  auto e = m.as<echo::echo_reply>();
  REQUIRE(e);
  CHECK(e->sender == "ctl/777001");
  CHECK(m.env.from == "echo/1");
}

TEST_CASE("a message over the size limit gets TooLarge and the bus keeps serving") {
  auto s = test::stack::start("[bus]\nmax_message_bytes = 65536\n\n" + test::echo_services(1));
  auto b = s->bus_client();
  auto big = b->call("echo/1", echo::echo{std::string(100000, 'x'), std::nullopt, false});
  REQUIRE_FALSE(big);
  CHECK(bus::is(big.err(), bus::error_code::too_large));
  auto small = b->call("echo/1", echo::echo{"still here", std::nullopt, false});
  REQUIRE_MESSAGE(small, (small ? "" : small.err().to_string()));
  CHECK(small->as<echo::echo_reply>()->text == "still here");
}

TEST_CASE("unknown destinations and unknown types give typed errors") {
  auto s = test::stack::start(test::echo_services(1));
  auto b = s->bus_client();
  ipc::call_options once;
  once.retry = false;
  auto r = b->call("echo/99", echo::echo{"x", std::nullopt, false}, once);
  REQUIRE_FALSE(r);
  CHECK(bus::is(r.err(), bus::error_code::no_such_address));
  auto u = b->call("echo/1", "io.weft.test.Echo.v1.Nope", "\x80", once);
  REQUIRE_FALSE(u);
  CHECK(bus::is(u.err(), bus::error_code::unknown_type));
  auto f = b->call("echo/1", echo::echo{"x", std::nullopt, true}, once);
  REQUIRE_FALSE(f);
  CHECK(echo::is(f.err(), echo::error_code::refused));
}

TEST_CASE("weftctl call sends one request and prints the reply; errors exit 1") {
  auto s = test::stack::start(test::echo_services(1));
  auto r = s->weftctl({"call", "echo/1", "io.weft.test.Echo.v1.Echo", R"({"text":"from the shell"})", "--json"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["payload"]["text"] == "from the shell");
  CHECK(j["payload"]["sender"].get<std::string>().rfind("ctl/", 0) == 0);
  auto bad = s->weftctl({"call", "echo/1", "io.weft.test.Echo.v1.Echo", "{not json"});
  CHECK(bad.exit_code == 2);
  auto missing = s->weftctl({"call", "echo/1", "io.weft.test.Echo.v1.Echo", "{}"});
  CHECK(missing.exit_code == 1);
  CHECK(missing.err.find("BadRequest") != std::string::npos);
}

TEST_CASE("a hung service (no heartbeats) is killed and restarted") {
  auto s = test::stack::start(
      "[supervisor]\nheartbeat_interval_ms = 100\nheartbeat_timeout_ms = 600\nrestart_backoff_initial_ms = 50\n\n" +
      test::echo_services(1));
  auto c = s->control();
  REQUIRE(c->request(sv::watch{}));
  auto b = s->bus_client();
  // Sleep blocks the service's only thread, so it stops sending heartbeats.
  REQUIRE(b->send_request("echo/1", echo::sleep{5000}));
  REQUIRE(s->wait_state(*c, "echo-1", sv::state::ready, 1, 20s));
  auto st = nlohmann::json::parse(s->weftctl({"status", "--json"}).out);
  for (auto& svc : st["services"])
    if (svc["name"] == "echo-1") CHECK(svc["last_exit"].get<std::string>().find("signal 9") != std::string::npos);
}

TEST_CASE("stop drains: a request in progress is still answered") {
  auto s = test::stack::start(test::echo_services(1));
  auto b = s->bus_client();
  auto before = s->delivered(*b, "echo/1");
  auto id = b->send_request("echo/1", echo::sleep{300});
  REQUIRE(id);
  // The stop must come while the request is in the service's hands, not before it got there.
  REQUIRE(s->wait_delivered(*b, "echo/1", before + 1, 10s));
  auto r = s->weftctl({"stop", "echo-1"});
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  auto m = b->next(10s);
  REQUIRE(m);
  CHECK(m->env.id == *id);
  CHECK_MESSAGE(!m->is_error(), (m->is_error() ? m->to_error().to_string() : ""));
  auto st = nlohmann::json::parse(s->weftctl({"status", "--json"}).out);
  for (auto& svc : st["services"])
    if (svc["name"] == "echo-1") {
      CHECK(svc["state"] == "stopped");
      CHECK(svc["last_exit"] == "exited with status 0");
    }
  CHECK(s->weftctl({"start", "echo-1"}).exit_code == 0);
  CHECK(b->call("echo/1", echo::echo{"again", std::nullopt, false}));
}

TEST_CASE("reload (SIGHUP and weftctl) starts, stops and restarts only what changed") {
  auto s = test::stack::start(test::echo_services(2));
  auto pid1 = s->service_pid("echo-1");
  auto pid2 = s->service_pid("echo-2");
  {
    std::ofstream f(s->config_path());
    f << test::echo_services(1) << "[services.echo-3]\nexec = \"" << test::echo_exe() << "\"\naddress = \"echo/3\"\n";
  }
  auto r = s->weftctl({"reload", "--json"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["started"] == nlohmann::json::array({"echo-3"}));
  CHECK(j["stopped"] == nlohmann::json::array({"echo-2"}));
  CHECK(j["restarted"].empty());
  auto c = s->control();
  REQUIRE(c->request(sv::watch{}));
  CHECK(s->service_pid("echo-1") == pid1);
  auto b = s->bus_client();
  ipc::call_options patient;
  patient.timeout = 20s;
  CHECK(b->call("echo/3", echo::echo{"new", std::nullopt, false}, patient));
  (void)pid2;

  // A broken edit is refused and changes nothing.
  {
    std::ofstream f(s->config_path());
    f << "[services.echo-1\n";
  }
  auto bad = s->weftctl({"reload"});
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find("clawft.toml:1:") != std::string::npos);
  CHECK(s->service_pid("echo-1") == pid1);

  // SIGHUP does the same as weftctl reload: changing echo-1's env restarts only it.
  {
    std::ofstream f(s->config_path());
    f << test::echo_services(1, "env = { CHANGED = \"1\" }")
      << "[services.echo-3]\nexec = \"" << test::echo_exe() << "\"\naddress = \"echo/3\"\n";
  }
  auto pid3 = s->service_pid("echo-3");
  REQUIRE(::kill(s->pid(), SIGHUP) == 0);
  REQUIRE(s->wait_state(*c, "echo-1", sv::state::ready, 0, 20s));
  CHECK(s->service_pid("echo-1") != pid1);
  CHECK(s->service_pid("echo-3") == pid3);
}

#ifdef WEFT_HAVE_CAF  // -Dcaf=enabled (tools/dev caf)
TEST_CASE("CAF actors receive bus messages through the actor bridge, across a bus restart") {
  auto s = test::stack::start(fast_restarts + "[services.actor-echo]\nexec = \"" + test::echo_exe() +
                              "\"\nargs = [\"--actors\"]\naddress = \"echo/actors\"\n");
  auto b = s->bus_client();
  ipc::call_options patient;
  patient.timeout = 20s;
  patient.attempt_timeout = 500ms;
  auto r = b->call("echo/actors", echo::echo{"to an actor", std::nullopt, false}, patient);
  REQUIRE_MESSAGE(r, (r ? "" : r.err().to_string()));
  CHECK(r->as<echo::echo_reply>()->sender.rfind("ctl/", 0) == 0);
  // Many requests in flight at once are all answered.
  std::set<std::uint64_t> ids;
  for (std::uint64_t i = 0; i < 200; ++i) ids.insert(*b->send_request("echo/actors", echo::append{i}));
  while (!ids.empty()) {
    auto m = b->next(10s);
    REQUIRE(m);
    CHECK_FALSE(m->is_error());
    ids.erase(m->env.id);
  }
  // The bridge's client reconnects to a restarted bus like any other.
  auto bus_pid = s->service_pid("bus");
  REQUIRE(::kill(bus_pid, SIGKILL) == 0);
  auto again = b->call("echo/actors", echo::missing{{0, 1, 199}}, patient);
  REQUIRE_MESSAGE(again, (again ? "" : again.err().to_string()));
  CHECK(again->as<echo::missing_reply>()->missing.empty());
  // Stop drains in actor mode too: the request in progress is answered.
  auto before = s->delivered(*b, "echo/actors");
  auto id = b->send_request("echo/actors", echo::sleep{300});
  REQUIRE(id);
  REQUIRE(s->wait_delivered(*b, "echo/actors", before + 1, 10s));
  CHECK(s->weftctl({"stop", "actor-echo"}).exit_code == 0);
  auto m = b->next(10s);
  REQUIRE(m);
  CHECK(m->env.id == *id);
  CHECK_FALSE(m->is_error());
}

#endif

TEST_CASE("weftctl trace prints decoded traffic; peers lists the bus's peers; restart restarts") {
  auto s = test::stack::start(test::echo_services(2));
  // trace runs as its own process; the bus only copies traffic once its subscription
  // arrives, so keep calling until trace has printed what it was asked for.
  auto out_path = s->dir() + "/trace.out";
  pid_t tracer = ::fork();
  if (tracer == 0) {
    int fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(fd, 1);
    auto ctl = test::build_path("tools/weftctl/weftctl");
    ::execl(ctl.c_str(), ctl.c_str(), "--runtime-dir", s->runtime().c_str(), "trace", "echo-1", "--count", "3",
            "--json", "--timeout", "20000", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  auto b = s->bus_client();
  int ws = 0;
  bool exited = false;
  for (int i = 0; i < 400 && !exited; ++i) {
    REQUIRE(b->call("echo/1", echo::echo{"traced", std::nullopt, false}));
    exited = ::waitpid(tracer, &ws, WNOHANG) == tracer;
  }
  if (!exited) {
    ::kill(tracer, SIGKILL);
    ::waitpid(tracer, &ws, 0);
  }
  REQUIRE(exited);
  CHECK(WEXITSTATUS(ws) == 0);
  std::ifstream f(out_path);
  std::string line;
  std::vector<nlohmann::json> lines;
  while (std::getline(f, line)) lines.push_back(nlohmann::json::parse(line));
  REQUIRE(lines.size() == 3);
  // Tracing may begin between a request and its reply: among three lines there is a
  // whole request and a whole reply, both decoded.
  bool request = false, reply = false;
  for (auto& l : lines) {
    if (l["kind"] == "request" && l["to"] == "echo/1" && l["type"] == "io.weft.test.Echo.v1.Echo" &&
        l["payload"]["text"] == "traced" && l["from"].get<std::string>().rfind("ctl/", 0) == 0)
      request = true;
    if (l["kind"] == "reply" && l["from"] == "echo/1" && l["payload"]["served_by"] == "echo/1") reply = true;
  }
  CHECK(request);
  CHECK(reply);

  auto p = s->weftctl({"peers", "--json"});
  REQUIRE_MESSAGE(p.exit_code == 0, p.err);
  std::set<std::string> addrs;
  for (auto& peer : nlohmann::json::parse(p.out)) addrs.insert(peer["address"].get<std::string>());
  CHECK(addrs.count("echo/1") == 1);
  CHECK(addrs.count("echo/2") == 1);

  auto before = s->service_pid("echo-2");
  auto r = s->weftctl({"restart", "echo-2"});
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.out.find("restarted echo-2") != std::string::npos);
  CHECK(s->service_pid("echo-2") != before);
  // Log levels change at run time, in a service and in the bus.
  auto ll = s->weftctl({"log-level", "echo/1", "debug"});
  CHECK_MESSAGE(ll.exit_code == 0, ll.err);
  CHECK(s->weftctl({"log-level", "bus", "debug,bus=trace"}).exit_code == 0);
  auto bad_ll = s->weftctl({"log-level", "echo/1", "loud"});
  CHECK(bad_ll.exit_code == 1);
  CHECK(bad_ll.err.find("BadRequest") != std::string::npos);
  CHECK(s->log().find("log levels set to 'debug' by 'ctl/") != std::string::npos);
  auto unknown = s->weftctl({"restart", "nope"});
  CHECK(unknown.exit_code == 1);
  CHECK(unknown.err.find("no service named 'nope'") != std::string::npos);
}

TEST_CASE("the ACL from the config decides which service may call which, and audits denials") {
  auto s = test::stack::start(
      "[bus]\ndefault_policy = \"deny\"\n\n"
      "[[bus.acl]]\nfrom = \"echo/1\"\nto = \"echo/2\"\naction = \"allow\"\n\n"
      "[[bus.acl]]\nfrom = \"echo/*\"\nto = \"echo/3\"\ntypes = [\"io.weft.test.Echo.v1.Echo\"]\naction = \"deny\"\n\n" +
      test::echo_services(3));
  auto b = s->bus_client();  // ctl/* is an admin address: it may call every echo
  auto tok = s->control()->request(sv::issue_token{919191})->as<sv::token>();
  REQUIRE(tok);
  auto events = ipc::event_subscriber::connect(s->ctx(), tok->events, {std::string(bus::access_denied::type_name)});
  REQUIRE(events);

  auto ok = b->call("echo/1", echo::relay{"echo/2", "allowed"});
  REQUIRE_MESSAGE(ok, (ok ? "" : ok.err().to_string()));
  auto e = ok->as<echo::echo_reply>();
  REQUIRE(e);
  CHECK(e->served_by == "echo/2");
  CHECK(e->sender == "echo/1");

  // echo/1 → echo/3 matches the deny rule; echo/2 → echo/1 matches no rule (default deny).
  ipc::call_options once;
  once.retry = false;
  std::optional<std::pair<std::string, ipc::message>> audit;
  for (int i = 0; i < 20 && !audit; ++i) {  // until the event subscription is in place
    auto denied = b->call("echo/1", echo::relay{"echo/3", "forbidden"}, once);
    REQUIRE_FALSE(denied);
    CHECK(bus::is(denied.err(), bus::error_code::denied));
    CHECK(denied.err().message.find("bus.acl[1]") != std::string::npos);
    audit = (*events)->next(250ms);
  }
  REQUIRE(audit);
  auto a = audit->second.as<bus::access_denied>();
  REQUIRE(a);
  CHECK(a->from == "echo/1");
  CHECK(a->to == "echo/3");
  CHECK(a->type == "io.weft.test.Echo.v1.Echo");

  auto by_default = b->call("echo/2", echo::relay{"echo/1", "no rule"}, once);
  REQUIRE_FALSE(by_default);
  CHECK(bus::is(by_default.err(), bus::error_code::denied));
  CHECK(by_default.err().message.find("default") != std::string::npos);
}

TEST_CASE("a service of 41 lines on the runtime: requests, a deferred reply, a timer, drain on TERM, a bus restart") {
  auto s = test::stack::start(fast_restarts + "[services.sample]\nexec = \"" + test::build_path("tests/echo/weft-sample") +
                              "\"\nargs = [\"--tick-ms\", \"20\"]\naddress = \"sample/1\"\n");
  auto b = s->bus_client();
  // A deferred reply does not hold the thread: an Echo sent after a long Sleep comes back first.
  auto slow = b->send_request("sample/1", echo::sleep{3000});
  REQUIRE(slow);
  auto fast = b->call("sample/1", echo::echo{"now", std::nullopt, false});
  REQUIRE_MESSAGE(fast, (fast ? "" : fast.err().to_string()));
  CHECK(fast->as<echo::echo_reply>()->text == "now");
  CHECK(b->pending(*slow));
  auto m = b->next(10s);
  REQUIRE(m);
  CHECK(m->env.id == *slow);
  CHECK(m->as<echo::slept>()->ms == 3000);

  // The timer: the tick count in the STATUS line grows.
  auto ticks = [&] {
    auto st = nlohmann::json::parse(s->weftctl({"status", "--json"}).out);
    for (auto& svc : st["services"])
      if (svc["name"] == "sample") {
        auto line = svc["status"].get<std::string>();
        return line.rfind("ticks: ", 0) == 0 ? std::stoull(line.substr(7)) : 0ull;
      }
    return 0ull;
  };
  auto first = ticks();
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (ticks() <= first && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
  CHECK(ticks() > first);

  // A bus restart is transparent: the same process answers afterwards.
  auto pid = s->service_pid("sample");
  REQUIRE(::kill(s->service_pid("bus"), SIGKILL) == 0);
  ipc::call_options patient;
  patient.timeout = 20s;
  auto again = b->call("sample/1", echo::echo{"after", std::nullopt, false}, patient);
  REQUIRE_MESSAGE(again, (again ? "" : again.err().to_string()));
  CHECK(again->as<echo::echo_reply>()->pid == static_cast<std::uint32_t>(pid));

  // Drain: TERM while a Sleep is in hand; it is answered, then the process exits 0.
  auto before = s->delivered(*b, "sample/1");
  auto held = b->send_request("sample/1", echo::sleep{300});
  REQUIRE(held);
  REQUIRE(s->wait_delivered(*b, "sample/1", before + 1, 10s));
  CHECK(s->weftctl({"stop", "sample"}).exit_code == 0);
  auto answer = b->next(10s);
  REQUIRE(answer);
  CHECK(answer->env.id == *held);
  CHECK_MESSAGE(!answer->is_error(), (answer->is_error() ? answer->to_error().to_string() : ""));
  auto st = nlohmann::json::parse(s->weftctl({"status", "--json"}).out);
  for (auto& svc : st["services"])
    if (svc["name"] == "sample") CHECK(svc["last_exit"] == "exited with status 0");
}

TEST_CASE("a service whose port is taken fails at once and weftctl status says why, with a fix hint") {
  // The port is taken by the test itself, as another program would take it.
  weft::unique_fd taken(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(taken.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
  REQUIRE(::listen(taken.get(), 1) == 0);
  socklen_t len = sizeof sa;
  REQUIRE(::getsockname(taken.get(), reinterpret_cast<sockaddr*>(&sa), &len) == 0);
  auto listen = fmt::format("127.0.0.1:{}", ntohs(sa.sin_port));
  // Named chan-web, as the web channel would be: the hint names [channels.web] listen.
  auto s = test::stack::start(fast_restarts + "[services.chan-web]\nexec = \"" +
                              test::build_path("tests/integration/weft-test-listen") + "\"\nargs = [\"--listen\", \"" +
                              listen + "\"]\naddress = \"chan/web\"\n");
  auto st = nlohmann::json::parse(s->weftctl({"status", "--json"}).out);
  bool seen = false;
  for (auto& svc : st["services"])
    if (svc["name"] == "chan-web") {
      seen = true;
      CHECK(svc["state"] == "failed");
      CHECK(svc["restarts"] == 0);  // one attempt: a taken port is not retried
      CHECK(svc["last_exit"] == "exited with status 1");
      auto error = svc["error"].get<std::string>();
      CHECK(error.find("Failed to listen on " + listen + ": address in use") == 0);
      CHECK(error.find("port taken: set [channels.web] listen to another port, then weftctl start chan-web") !=
            std::string::npos);
    }
  CHECK(seen);
  auto table = s->weftctl({"status"});
  CHECK(table.exit_code == 1);  // not every service is ready
  CHECK(table.out.find("address in use") != std::string::npos);
  CHECK(table.out.find("weftctl start chan-web") != std::string::npos);
  // Once the port is free, starting it again works and the error is gone.
  taken.reset();
  auto r = s->weftctl({"start", "chan-web"});
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  st = nlohmann::json::parse(s->weftctl({"status", "--json"}).out);
  for (auto& svc : st["services"])
    if (svc["name"] == "chan-web") {
      CHECK(svc["state"] == "ready");
      CHECK(svc["error"] == "");
    }
}
