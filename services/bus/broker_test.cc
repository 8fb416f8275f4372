// The broker's logic, driven without sockets through a recording transport.
#include <doctest/doctest.h>

#include "broker.hh"

#include <fstream>

#include <weft/base/io.hh>
#include <weft/service/policy.hh>

#include "tests/temp_dir.hh"

using namespace weft;
namespace bp = weft::proto::bus_v1;

namespace {

struct sent {
  std::string rid, header, payload;
  bp::envelope env() const { return *wire::decode<bp::envelope>(header); }
};

struct fake_transport : bus::transport {
  std::vector<sent> out;
  std::vector<sent> published;  // rid holds the topic
  std::set<std::string> gone, full;
  send_result send(std::string_view rid, std::string_view h, std::string_view p) override {
    if (gone.count(std::string(rid))) return send_result::unreachable;
    if (full.count(std::string(rid))) return send_result::full;
    out.push_back({std::string(rid), std::string(h), std::string(p)});
    return send_result::ok;
  }
  void publish(std::string_view topic, std::string_view h, std::string_view p) override {
    published.push_back({std::string(topic), std::string(h), std::string(p)});
  }
  sent take() {
    REQUIRE_FALSE(out.empty());
    auto s = out.front();
    out.erase(out.begin());
    return s;
  }
  bool published_type(std::string_view t) const {
    for (auto& p : published)
      if (p.rid == t) return true;
    return false;
  }
};

struct fixture {
  ipc::secret key = ipc::make_secret();
  fake_transport t;
  service::bus_settings settings;
  std::unique_ptr<bus::broker> b;
  std::uint64_t id = 1;

  fixture() { b = std::make_unique<bus::broker>(settings, key, t); }
  void reset(service::bus_settings s) { settings = s; b->configure(s); }

  void send(std::string_view rid, bp::kind k, std::string_view type, std::string_view to,
            const std::string& payload, std::string_view claimed_from = {}) {
    b->on_message(rid, ipc::encode_header(k, type, id++, to, claimed_from), payload);
  }
  void hello(std::string_view rid, std::string_view address, std::string token = {}) {
    if (token.empty()) token = ipc::make_token(key, address);
    send(rid, bp::kind::request, bp::hello::type_name, "bus",
         wire::encode(bp::hello{std::string(address), token, {}}));
  }
  error error_of(const sent& s) {
    ipc::message m{s.env(), s.payload};
    REQUIRE(m.is_error());
    return m.to_error();
  }
};

}  // namespace

TEST_CASE("Hello with the right token is welcomed; a wrong token is refused and audited") {
  fixture f;
  f.hello("r1", "echo/1");
  auto w = f.t.take();
  CHECK(w.rid == "r1");
  CHECK(w.env().type == bp::welcome::type_name);
  CHECK(f.b->peer_count() == 1);

  f.hello("r2", "weftd", ipc::make_token(f.key, "echo/2"));  // a token for another address
  auto e = f.error_of(f.t.take());
  CHECK(bp::is(e, bp::error_code::auth_failed));
  CHECK(f.t.published_type(bp::auth_refused::type_name));
  CHECK(f.b->peer_count() == 1);
}

TEST_CASE("the bus stamps the authenticated sender, whatever the sender claims") {
  fixture f;
  f.hello("r1", "echo/1");
  f.hello("r2", "echo/2");
  f.t.out.clear();
  f.send("r1", bp::kind::request, "io.weft.test.Echo.v1.Echo", "echo/2", "\x80", /*claimed_from=*/"weftd");
  auto fwd = f.t.take();
  CHECK(fwd.rid == "r2");
  CHECK(fwd.env().from == "echo/1");
  CHECK(fwd.payload == "\x80");
}

TEST_CASE("messages from a connection that has not said Hello get NotAuthenticated") {
  fixture f;
  f.send("rX", bp::kind::request, "io.weft.test.Echo.v1.Echo", "echo/2", "\x80");
  auto e = f.error_of(f.t.take());
  CHECK(bp::is(e, bp::error_code::not_authenticated));
}

TEST_CASE("unknown destinations, full queues and departed peers give typed errors") {
  fixture f;
  f.hello("r1", "echo/1");
  f.hello("r2", "echo/2");
  f.t.out.clear();
  f.send("r1", bp::kind::request, "x.T", "nobody/here", "\x80");
  CHECK(bp::is(f.error_of(f.t.take()), bp::error_code::no_such_address));

  f.t.full.insert("r2");
  f.send("r1", bp::kind::request, "x.T", "echo/2", "\x80");
  CHECK(bp::is(f.error_of(f.t.take()), bp::error_code::queue_full));
  CHECK(f.t.published_type(bp::limit_exceeded::type_name));

  f.t.full.clear();
  f.t.gone.insert("r2");
  f.send("r1", bp::kind::request, "x.T", "echo/2", "\x80");
  CHECK(bp::is(f.error_of(f.t.take()), bp::error_code::no_such_address));
  CHECK(f.b->peer_count() == 1);
}

TEST_CASE("a message over max_message_bytes gets TooLarge and the bus keeps serving") {
  fixture f;
  service::bus_settings s;
  s.max_message_bytes = 1024;
  f.reset(s);
  f.hello("r1", "echo/1");
  f.hello("r2", "echo/2");
  f.t.out.clear();
  f.send("r1", bp::kind::request, "x.T", "echo/2", std::string(2000, 'x'));
  CHECK(bp::is(f.error_of(f.t.take()), bp::error_code::too_large));
  f.send("r1", bp::kind::request, "x.T", "echo/2", "\x80");
  CHECK(f.t.take().rid == "r2");
  // An answer over the limit: its requester gets TooLarge with the request's id.
  f.b->on_message("r2", ipc::encode_header(bp::kind::reply, "x.R", 4242, "echo/1", ""), std::string(2000, 'x'));
  auto told = f.t.take();
  CHECK(told.rid == "r1");
  CHECK(told.env().id == 4242);
  CHECK(bp::is(f.error_of(told), bp::error_code::too_large));
  CHECK(f.t.out.empty());
}

TEST_CASE("the ACL denies with a typed error and an audit event; deny wins over allow") {
  fixture f;
  service::bus_settings s;
  service::acl_rule allow_all;
  allow_all.from = "agent/*";
  allow_all.to = "*";
  allow_all.action = service::acl_action::allow;
  service::acl_rule deny_exec;
  deny_exec.from = "agent/a";
  deny_exec.to = "tool/shell/*";
  deny_exec.types = {"io.weft.Tool.v1.*"};
  deny_exec.action = service::acl_action::deny;
  s.acl = {allow_all, deny_exec};
  s.default_policy = service::acl_action::deny;
  f.reset(s);
  f.hello("ra", "agent/a");
  f.hello("rs", "tool/shell/a");
  f.hello("rx", "echo/9");
  f.t.out.clear();

  f.send("ra", bp::kind::request, "io.weft.Tool.v1.Call", "tool/shell/a", "\x80");
  auto e = f.error_of(f.t.take());
  CHECK(bp::is(e, bp::error_code::denied));
  CHECK(e.message.find("bus.acl[1]") != std::string::npos);
  CHECK(f.t.published_type(bp::access_denied::type_name));

  f.send("ra", bp::kind::request, "io.weft.Other.v1.X", "tool/shell/a", "\x80");
  CHECK(f.t.take().rid == "rs");

  // No rule for echo/9 → default deny.
  f.send("rx", bp::kind::request, "x.T", "tool/shell/a", "\x80");
  CHECK(bp::is(f.error_of(f.t.take()), bp::error_code::denied));
}

TEST_CASE("only the router, the monitor and ctl/* deliver to channels, whatever the rules allow") {
  fixture f;
  service::bus_settings s;
  service::acl_rule allow_all;
  allow_all.from = "*";
  allow_all.to = "*";
  allow_all.action = service::acl_action::allow;
  s.acl = {allow_all};
  f.reset(s);
  f.hello("rc", "chan/telegram");
  f.hello("rr", "router");
  f.hello("rm", "monitor");
  f.hello("rt", "tool/fs/a");
  f.hello("ra", "agent/a");
  f.hello("rk", "ctl/7");
  f.t.out.clear();
  for (auto from : {"rt", "ra"}) {
    f.send(from, bp::kind::request, "io.weft.Chat.v1.Deliver", "chan/telegram", "\x80");
    auto e = f.error_of(f.t.take());
    CHECK(bp::is(e, bp::error_code::denied));
    CHECK(e.message.find("only the router, the monitor and weftctl deliver to channels") != std::string::npos);
  }
  for (auto from : {"rr", "rm", "rk"}) {
    f.send(from, bp::kind::request, "io.weft.Chat.v1.Deliver", "chan/telegram", "\x80");
    CHECK(f.t.take().rid == "rc");
  }
  // Other messages to a channel are the rules' business.
  f.send("rt", bp::kind::request, "io.weft.Chat.v1.Other", "chan/telegram", "\x80");
  CHECK(f.t.take().rid == "rc");
}

TEST_CASE("agents' tool policies: allow/deny per tool, per-agent processes only for their owner") {
  fixture f;
  service::bus_settings s;
  service::tool_policy ro;
  ro.allow = {"read_file"};
  ro.where = "clawft.toml:9:1";
  service::tool_policy no_shell;
  no_shell.deny = {"exec", "web_*"};
  s.agent_tools = {{"work", ro}, {"home", no_shell}};
  f.reset(s);
  f.hello("rw", "agent/work");
  f.hello("rh", "agent/home");
  f.hello("fw", "tool/fs/work");
  f.hello("sw", "tool/shell/work");
  f.hello("fh", "tool/fs/home");
  f.hello("web", "tool/web");
  f.t.out.clear();
  auto call = [&](std::string_view rid, std::string_view to) { f.send(rid, bp::kind::request, "io.weft.Tool.v1.Call", to, "\x80"); };

  // Allowed: routed to the process that serves <process>/<tool>.
  call("rw", "tool/fs/work/read_file");
  CHECK(f.t.take().rid == "fw");
  // Not in allow: denied with the rule named, and audited.
  f.t.published.clear();
  call("rw", "tool/shell/work/exec");
  auto e = f.error_of(f.t.take());
  CHECK(bp::is(e, bp::error_code::denied));
  CHECK(e.message.find("agents.work.tools.allow (clawft.toml:9:1)") != std::string::npos);
  CHECK(f.t.published_type(bp::access_denied::type_name));
  // Another agent's per-agent process: denied, whatever the tool or message type.
  call("rw", "tool/fs/home/read_file");
  CHECK(bp::is(f.error_of(f.t.take()), bp::error_code::denied));
  f.send("rw", bp::kind::request, "io.weft.Tool.v1.ListTools", "tool/fs/home", "\x80");
  CHECK(bp::is(f.error_of(f.t.take()), bp::error_code::denied));
  // Its own process's tool list is fine.
  f.send("rw", bp::kind::request, "io.weft.Tool.v1.ListTools", "tool/fs/work", "\x80");
  CHECK(f.t.take().rid == "fw");
  // Deny globs win; allow defaults to everything.
  call("rh", "tool/web/web_fetch");
  CHECK(bp::is(f.error_of(f.t.take()), bp::error_code::denied));
  call("rh", "tool/fs/home/write_file");
  CHECK(f.t.take().rid == "fh");
  // A directed event is checked too, and a denied one is dropped silently.
  f.send("rw", bp::kind::event, "io.weft.Tool.v1.Call", "tool/shell/work/exec", "\x80");
  CHECK(f.t.out.empty());
}

TEST_CASE("a process acting as an agent (agent/<id>/mcp): the owner check by <id>, both policies apply") {
  fixture f;
  service::bus_settings s;
  service::tool_policy work;
  work.deny = {"exec"};
  service::tool_policy as_mcp;
  as_mcp.allow = {"read_*", "list_dir", "exec"};
  as_mcp.where = "clawft.toml:20:1";
  s.agent_tools = {{"work", work}, {"work/mcp", as_mcp}};
  f.reset(s);
  f.hello("m", "agent/work/mcp");
  f.hello("fw", "tool/fs/work");
  f.hello("sw", "tool/shell/work");
  f.hello("fh", "tool/fs/home");
  f.t.out.clear();
  auto call = [&](std::string_view to) { f.send("m", bp::kind::request, "io.weft.Tool.v1.Call", to, "\x80"); };
  call("tool/fs/work/read_file");
  CHECK(f.t.take().rid == "fw");
  f.send("m", bp::kind::request, "io.weft.Tool.v1.ListTools", "tool/fs/work", "\x80");
  CHECK(f.t.take().rid == "fw");
  // The MCP policy lacks write_file.
  call("tool/fs/work/write_file");
  auto e = f.error_of(f.t.take());
  CHECK(bp::is(e, bp::error_code::denied));
  CHECK(e.message.find("mcp.allow (clawft.toml:20:1)") != std::string::npos);
  // The agent's own deny wins even though the MCP policy allows exec.
  call("tool/shell/work/exec");
  e = f.error_of(f.t.take());
  CHECK(e.message.find("agents.work.tools.deny") != std::string::npos);
  // Another agent's process stays out of reach.
  call("tool/fs/home/read_file");
  CHECK(f.error_of(f.t.take()).message.find("belongs to agent 'home'") != std::string::npos);
}

TEST_CASE("directed events go to their address; plain events are published") {
  fixture f;
  f.hello("ra", "agent/a");
  f.hello("rc", "chan/web");
  f.t.out.clear();
  f.t.published.clear();
  f.send("ra", bp::kind::event, "io.weft.Chat.v1.Delta", "chan/web", "\x80");
  auto got = f.t.take();
  CHECK(got.rid == "rc");
  CHECK(got.env().from == "agent/a");
  CHECK(f.t.published.empty());
  // Nobody there: dropped, no error reply.
  f.send("ra", bp::kind::event, "io.weft.Chat.v1.Delta", "chan/gone", "\x80");
  CHECK(f.t.out.empty());
}

TEST_CASE("glob matching") {
  CHECK(service::glob_match("*", ""));
  CHECK(service::glob_match("agent/*", "agent/a/b"));
  CHECK(service::glob_match("a*c*e", "abcde"));
  CHECK_FALSE(service::glob_match("agent/*", "agents"));
  CHECK_FALSE(service::glob_match("a*c", "abcd"));
  CHECK(service::glob_match("io.weft.Tool.v1.*", "io.weft.Tool.v1.Call"));
}

TEST_CASE("events are published with the stamped sender; traces only when subscribed") {
  fixture f;
  f.hello("r1", "echo/1");
  f.hello("r2", "echo/2");
  f.t.published.clear();
  f.send("r1", bp::kind::event, "io.weft.test.Thing", "", "\x80", "weftd");
  REQUIRE(f.t.published.size() == 1);
  CHECK(f.t.published[0].env().from == "echo/1");

  f.t.published.clear();
  f.send("r1", bp::kind::request, "x.T", "echo/2", "\x80");
  CHECK(f.t.published.empty());
  f.b->on_subscription("trace:echo/2\n", true);
  f.send("r1", bp::kind::request, "x.T", "echo/2", "\x80");
  REQUIRE(f.t.published.size() == 1);
  CHECK(f.t.published[0].rid == "trace:echo/2\n");
  f.b->on_subscription("trace:echo/2\n", false);
  f.t.published.clear();
  f.send("r1", bp::kind::request, "x.T", "echo/2", "\x80");
  CHECK(f.t.published.empty());
}

TEST_CASE("a reconnecting peer replaces its old connection") {
  fixture f;
  f.hello("old", "echo/1");
  f.hello("r2", "echo/2");
  f.hello("new", "echo/1");
  CHECK(f.b->peer_count() == 2);
  f.t.out.clear();
  f.send("r2", bp::kind::request, "x.T", "echo/1", "\x80");
  CHECK(f.t.take().rid == "new");
  // The old connection is no longer authenticated.
  f.send("old", bp::kind::request, "x.T", "echo/2", "\x80");
  CHECK(bp::is(f.error_of(f.t.take()), bp::error_code::not_authenticated));
}

TEST_CASE("short-lived admin peers do not pile up in the bus") {
  fixture f;
  f.hello("r-echo", "echo/1");
  for (int i = 0; i < 1000; ++i) f.hello(fmt::format("r{}", i), fmt::format("ctl/{}", i));
  CHECK(f.b->peer_count() == 257);  // echo/1 and the 256 newest ctl/* peers
  f.t.out.clear();
  // The newest admin is still known; the oldest is not.
  f.send("r999", bp::kind::request, "x.T", "echo/1", "\x80");
  CHECK(f.t.take().rid == "r-echo");
  f.send("r0", bp::kind::request, "x.T", "echo/1", "\x80");
  CHECK(bp::is(f.error_of(f.t.take()), bp::error_code::not_authenticated));
}

TEST_CASE("quarantine: only the monitor quarantines, only ctl/* releases; calls from and to the agent are Denied") {
  fixture f;
  f.hello("rm", "monitor");
  f.hello("ra", "agent/a");
  f.hello("fa", "tool/fs/a");
  f.hello("rb", "agent/b");
  f.hello("fb", "tool/fs/b");
  f.hello("rl", "llm");
  f.hello("rc", "ctl/77");
  f.t.out.clear();
  auto bus_call = [&](std::string_view rid, std::string_view type, const std::string& payload) {
    f.send(rid, bp::kind::request, type, "bus", payload);
    return f.t.take();
  };
  auto quarantine = wire::encode(bp::quarantine{"a", "sensitive_path: read_file '/h/keys/k'"});

  // Not the monitor: not an agent, not even an admin tool.
  for (auto rid : {"ra", "rb", "rc", "rl"}) {
    f.t.published.clear();
    auto e = f.error_of(bus_call(rid, bp::quarantine::type_name, quarantine));
    CHECK(bp::is(e, bp::error_code::denied));
    CHECK(f.t.published_type(bp::access_denied::type_name));
  }
  CHECK(f.b->quarantined().empty());

  f.t.published.clear();
  auto r = bus_call("rm", bp::quarantine::type_name, quarantine);
  REQUIRE(r.env().type == bp::quarantine_list::type_name);
  auto list = wire::decode<bp::quarantine_list>(r.payload);
  REQUIRE(list);
  REQUIRE(list->agents.size() == 1);
  CHECK(list->agents[0].agent == "a");
  CHECK(list->agents[0].by == "monitor");
  CHECK(f.t.published_type(bp::agent_quarantined::type_name));

  // From the agent, to its tool process, from its tool process, from admin tools to it: Denied,
  // naming the quarantine; audited with rule quarantine:a.
  auto denied = [&](std::string_view rid, std::string_view to) {
    f.t.published.clear();
    f.send(rid, bp::kind::request, "io.weft.Tool.v1.Call", to, "\x80");
    auto e = f.error_of(f.t.take());
    CHECK(bp::is(e, bp::error_code::denied));
    CHECK(e.message.find("agent 'a' is quarantined by monitor (sensitive_path") != std::string::npos);
    REQUIRE(f.t.published_type(bp::access_denied::type_name));
    auto ev = wire::decode<bp::access_denied>(f.t.published.back().payload);
    REQUIRE(ev);
    CHECK(ev->rule == "quarantine:a");
  };
  denied("ra", "tool/fs/a/read_file");
  denied("ra", "llm");
  denied("fa", "llm");
  denied("rc", "agent/a");
  denied("rc", "tool/fs/a/read_file");
  denied("rb", "agent/a");
  // Replies still pass (nothing in flight waits out its deadline); another agent is unaffected.
  f.send("fa", bp::kind::reply, "io.weft.Tool.v1.Result", "agent/a", "\x80");
  CHECK(f.t.take().rid == "ra");
  f.send("rb", bp::kind::request, "io.weft.Tool.v1.Call", "tool/fs/b/read_file", "\x80");
  CHECK(f.t.take().rid == "fb");
  // Published events of the agent (its ToolCalled) still reach the audit.
  f.t.published.clear();
  f.send("ra", bp::kind::event, "io.weft.Memory.v1.ToolCalled", "", "\x80");
  CHECK(f.t.published_type("io.weft.Memory.v1.ToolCalled"));

  // Listing: the monitor and admin tools; not an agent.
  CHECK(bus_call("rc", bp::list_quarantined::type_name, "\x80").env().type == bp::quarantine_list::type_name);
  CHECK(bp::is(f.error_of(bus_call("rb", bp::list_quarantined::type_name, "\x80")), bp::error_code::denied));

  // Release: not the monitor, not an agent; ctl/* does.
  auto release = wire::encode(bp::release{"a"});
  CHECK(bp::is(f.error_of(bus_call("rm", bp::release::type_name, release)), bp::error_code::denied));
  CHECK(bp::is(f.error_of(bus_call("ra", bp::release::type_name, release)), bp::error_code::denied));
  CHECK(f.b->quarantined().size() == 1);
  f.t.published.clear();
  auto done = wire::decode<bp::quarantine_list>(bus_call("rc", bp::release::type_name, release).payload);
  REQUIRE(done);
  CHECK(done->agents.empty());
  REQUIRE(f.t.published_type(bp::agent_released::type_name));
  CHECK(wire::decode<bp::agent_released>(f.t.published.back().payload)->by == "ctl/77");
  f.send("ra", bp::kind::request, "io.weft.Tool.v1.Call", "tool/fs/a/read_file", "\x80");
  CHECK(f.t.take().rid == "fa");
  // A malformed Quarantine is BadRequest, not a crash.
  CHECK(bp::is(f.error_of(bus_call("rm", bp::quarantine::type_name, wire::encode(bp::quarantine{"", "x"}))),
               bp::error_code::bad_request));
  CHECK(bp::is(f.error_of(bus_call("rm", bp::quarantine::type_name, "\xc1")), bp::error_code::bad_request));
}

TEST_CASE("rate_window: at most the rate in any 60 s; refused calls do not count; a lower rate applies at once") {
  bus::rate_window w(3);
  CHECK(w.admit(1000));
  CHECK(w.admit(1500));
  CHECK(w.admit(2000));
  CHECK(w.wait_ms(2000) == 59000);  // the first ages out at 61000
  CHECK_FALSE(w.admit(2001));
  CHECK_FALSE(w.admit(60999));  // 1000 is still within (60999 - 60000, 60999]
  CHECK(w.wait_ms(60999) == 1);
  CHECK(w.admit(61000));        // 1000 is out
  CHECK_FALSE(w.admit(61001));  // 1500, 2000, 61000 are in
  CHECK(w.admit(61500));
  CHECK(w.admit(62000));
  CHECK_FALSE(w.admit(62000));
  // The refused calls between did not push the window: 61000, 61500, 62000 age out on time.
  CHECK(w.admit(121000));
  w.set_rate(1);
  CHECK_FALSE(w.admit(121001));  // 61500, 62000, 121000 are within: over 1
  CHECK(w.wait_ms(121001) == 61500 + 60000 - 121001);
  CHECK_FALSE(w.admit(180999));  // 121000 is within
  CHECK(w.admit(181000));        // it is out
}

namespace {

/// A fixture whose broker keeps its state in `file` and runs on a clock the test moves.
struct clocked : fixture {
  utc_time now = utc_now();
  clocked() {
    b->set_clock([this] { return now; });
  }
  void peers() {
    hello("rm", "monitor");
    hello("ra", "agent/a");
    hello("fa", "tool/fs/a");
    hello("rb", "agent/b");
    hello("fb", "tool/fs/b");
    hello("rl", "llm");
    hello("rc", "ctl/77");
    t.out.clear();
  }
  sent bus_call(std::string_view rid, std::string_view type, const std::string& payload) {
    send(rid, bp::kind::request, type, "bus", payload);
    return t.take();
  }
  /// A's tool call: where it went (the tool process's rid), or the error it got.
  sent tool_call(std::string_view rid = "ra", std::string_view to = "tool/fs/a/read_file") {
    send(rid, bp::kind::request, "io.weft.Tool.v1.Call", to, "\x80");
    return t.take();
  }
};

}  // namespace

TEST_CASE("throttle: only the monitor throttles; calls over the rate are Throttled, naming it; the end and release lift it") {
  clocked f;
  f.peers();
  auto throttle = wire::encode(bp::throttle{"a", "tool_burst: 300 tool calls in the last minute", 2, 300});
  for (auto rid : {"ra", "rc", "rl"}) {
    f.t.published.clear();
    CHECK(bp::is(f.error_of(f.bus_call(rid, bp::throttle::type_name, throttle)), bp::error_code::denied));
    CHECK(f.t.published_type(bp::access_denied::type_name));
  }
  CHECK(f.b->throttled().empty());
  for (auto bad : {bp::throttle{"a", "x", 0, 300}, bp::throttle{"a", "x", 2, 0}, bp::throttle{"", "x", 2, 300},
                   bp::throttle{"a/b", "x", 2, 300}, bp::throttle{"a", "x", bus::broker::max_throttle_rate + 1, 300}})
    CHECK(bp::is(f.error_of(f.bus_call("rm", bp::throttle::type_name, wire::encode(bad))), bp::error_code::bad_request));

  auto r = wire::decode<bp::quarantine_list>(f.bus_call("rm", bp::throttle::type_name, throttle).payload);
  REQUIRE(r);
  CHECK(r->agents.empty());
  REQUIRE(r->throttled.size() == 1);
  CHECK(r->throttled[0].agent == "a");
  CHECK(r->throttled[0].by == "monitor");
  CHECK(r->throttled[0].calls_per_minute == 2);
  CHECK(r->throttled[0].until == f.now + std::chrono::seconds(300));

  // Two calls a minute pass; the third is Throttled, naming the throttle, its end and the release.
  CHECK(f.tool_call().rid == "fa");
  f.now += std::chrono::seconds(1);
  CHECK(f.tool_call().rid == "fa");
  f.t.published.clear();
  auto e = f.error_of(f.tool_call());
  CHECK(bp::is(e, bp::error_code::throttled));
  CHECK(e.message.find("agent 'a' is throttled by monitor to 2 tool calls a minute until " +
                       to_rfc3339(r->throttled[0].until) + " (tool_burst: 300") == 0);
  CHECK(e.message.find("the next is let through in 59 s") != std::string::npos);
  CHECK(e.message.find("'weftctl security release a'") != std::string::npos);
  REQUIRE(f.t.published_type(bp::access_denied::type_name));
  CHECK(wire::decode<bp::access_denied>(f.t.published.back().payload)->rule == "throttle:a");
  // Not throttled: its turns and LLM calls, another agent's tool calls, replies to it.
  f.send("ra", bp::kind::request, "io.weft.Llm.v1.Complete", "llm", "\x80");
  CHECK(f.t.take().rid == "rl");
  CHECK(f.tool_call("rb", "tool/fs/b/read_file").rid == "fb");
  f.send("fa", bp::kind::reply, "io.weft.Tool.v1.Result", "agent/a", "\x80");
  CHECK(f.t.take().rid == "ra");
  // A minute after the first call, one more passes.
  f.now += std::chrono::seconds(59);
  CHECK(f.tool_call().rid == "fa");
  CHECK(bp::is(f.error_of(f.tool_call()), bp::error_code::throttled));

  // At its end it lifts by itself: every call passes.
  f.now = r->throttled[0].until;
  for (int i = 0; i < 5; ++i) CHECK(f.tool_call().rid == "fa");
  CHECK(f.b->throttled().empty());

  // Throttled again; Release (ctl/* only) lifts it, with AgentReleased.
  f.bus_call("rm", bp::throttle::type_name, throttle);
  CHECK(f.tool_call().rid == "fa");
  CHECK(f.tool_call().rid == "fa");
  CHECK(bp::is(f.error_of(f.tool_call()), bp::error_code::throttled));
  auto release = wire::encode(bp::release{"a"});
  CHECK(bp::is(f.error_of(f.bus_call("rm", bp::release::type_name, release)), bp::error_code::denied));
  f.t.published.clear();
  auto done = wire::decode<bp::quarantine_list>(f.bus_call("rc", bp::release::type_name, release).payload);
  REQUIRE(done);
  CHECK(done->throttled.empty());
  CHECK(f.t.published_type(bp::agent_released::type_name));
  CHECK(f.tool_call().rid == "fa");
}

TEST_CASE("quarantine file: a new broker on the same file refuses what the old one did; release empties it") {
  test::temp_dir d{"weft-bus"};
  auto file = (d.path / "bus" / "quarantine.json").string();
  utc_time until;
  {
    clocked f;
    REQUIRE(f.b->open_state(file));  // no file yet: nothing
    f.peers();
    f.bus_call("rm", bp::quarantine::type_name, wire::encode(bp::quarantine{"a", "sensitive_path: read_file k"}));
    auto l = wire::decode<bp::quarantine_list>(
        f.bus_call("rm", bp::throttle::type_name, wire::encode(bp::throttle{"b", "tool_burst: 99", 1, 300})).payload);
    REQUIRE(l->throttled.size() == 1);
    until = l->throttled[0].until;
    CHECK(std::filesystem::exists(file));
    CHECK((std::filesystem::status(file).permissions() & std::filesystem::perms::others_read) ==
          std::filesystem::perms::none);
  }
  {
    // The bus restarted (a broker with nothing in memory): the same refusals, by the file.
    clocked f;
    f.now = until - std::chrono::seconds(100);
    REQUIRE(f.b->open_state(file));
    f.peers();
    REQUIRE(f.b->quarantined().size() == 1);
    CHECK(f.b->quarantined().at("a").reason == "sensitive_path: read_file k");
    CHECK(f.b->quarantined().at("a").by == "monitor");
    auto e = f.error_of(f.tool_call());
    CHECK(bp::is(e, bp::error_code::denied));
    CHECK(e.message.find("agent 'a' is quarantined by monitor (sensitive_path: read_file k)") == 0);
    CHECK(f.tool_call("rb", "tool/fs/b/read_file").rid == "fb");
    auto t = f.error_of(f.tool_call("rb", "tool/fs/b/read_file"));
    CHECK(bp::is(t, bp::error_code::throttled));
    CHECK(t.message.find("until " + to_rfc3339(until)) != std::string::npos);
    // Release lifts both, in the file too.
    f.bus_call("rc", bp::release::type_name, wire::encode(bp::release{"a"}));
    f.bus_call("rc", bp::release::type_name, wire::encode(bp::release{"b"}));
  }
  {
    clocked f;
    REQUIRE(f.b->open_state(file));
    f.peers();
    CHECK(f.b->quarantined().empty());
    CHECK(f.b->throttled().empty());
    CHECK(f.tool_call().rid == "fa");
  }
  // A file that does not read is an error naming it, not a bus that forgot its quarantines.
  for (auto bad : {std::string("{not json"), std::string(R"({"quarantined": [{"agent": "", "since": "x"}]})"),
                   std::string(R"({"quarantined": 3})"),
                   std::string(R"({"throttled": [{"agent": "a", "since": "2026-01-01T00:00:00Z", "until": )"
                               R"("2026-01-01T00:05:00Z", "calls_per_minute": 0}]})")}) {
    REQUIRE(write_file_atomic(file, bad));
    clocked f;
    auto st = f.b->open_state(file);
    REQUIRE_FALSE(st);
    CHECK(st.err().message.find("Failed to read the quarantine file '" + file + "'") == 0);
    CHECK(st.err().message.find("remove it to lift every quarantine") != std::string::npos);
  }
}
