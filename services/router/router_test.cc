// Routing decisions and the journal, without processes.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "journal.hh"
#include "routes.hh"
#include "session_fifo.hh"
#include "tests/temp_dir.hh"

using namespace weft;

namespace {

service::config three_agents() {
  service::config c;
  for (auto id : {"work-agent", "personal-agent", "main"}) c.agents[id].id = id;
  c.agent_routes.push_back({"telegram", {{"user_id", "111"}}, "work-agent", "t.toml:1:1"});
  c.agent_routes.push_back({"telegram", {{"user_id", "222"}}, "personal-agent", "t.toml:5:1"});
  c.agent_routes.push_back({"telegram", {{"user_id", "111"}, {"chat_id", "-5"}}, "personal-agent", "t.toml:9:1"});
  c.agent_routes.push_back({"*", {{"user_id", "333"}}, "work-agent", "t.toml:13:1"});
  return c;
}

}  // namespace

TEST_CASE("routes: the most specific match wins, then the first; then the default agent") {
  auto c = three_agents();
  auto d = router::route(c, "telegram", {{"user_id", "111"}, {"chat_id", "111"}});
  REQUIRE(d);
  CHECK(d->agent == "work-agent");
  CHECK(d->rule == "agent_routes[0] (t.toml:1:1)");
  CHECK(d->reason == "user_id = 111");
  // Two keys beat one.
  d = router::route(c, "telegram", {{"user_id", "111"}, {"chat_id", "-5"}});
  REQUIRE(d);
  CHECK(d->agent == "personal-agent");
  CHECK(d->rule.rfind("agent_routes[2]", 0) == 0);
  d = router::route(c, "telegram", {{"user_id", "222"}});
  CHECK(d->agent == "personal-agent");
  // "*" matches any channel.
  d = router::route(c, "web", {{"user_id", "333"}});
  CHECK(d->agent == "work-agent");
  // A route for another channel does not apply.
  d = router::route(c, "web", {{"user_id", "111"}});
  CHECK(d->agent == "main");
  CHECK(d->rule == "default agent");
  c.routing.default_agent = "personal-agent";
  CHECK(router::route(c, "web", {{"user_id", "9"}})->agent == "personal-agent");
}

TEST_CASE("routes: no match and no default agent is NoRoute with advice") {
  auto c = three_agents();
  c.agents.erase("main");
  auto d = router::route(c, "web", {{"user_id", "9"}});
  REQUIRE_FALSE(d);
  CHECK(d.err().code == "NoRoute");
  CHECK(d.err().message.find("[[agent_routes]]") != std::string::npos);
  c.agents.erase("personal-agent");
  CHECK(router::route(c, "web", {})->agent == "work-agent");  // the only agent
}

TEST_CASE("journal: records survive a reopen; a torn tail is cut; corrupt lines are skipped") {
  weft::test::temp_dir dir{"weft-router-test"};
  auto path = (dir.path / "journal").string();
  {
    auto j = router::journal::open(path, [](router::record) { FAIL("empty journal replayed a record"); });
    REQUIRE(j);
    (*j)->append({router::record::kind::inbound, "telegram:1", "main", "telegram:42", "", std::string("\x81\xa1" "a\x01", 4)});
    (*j)->append({router::record::kind::reply, "telegram:1", "", "", "", std::string("\x80\x00\xff", 3)});
    (*j)->append({router::record::kind::delivered, "telegram:1", "", "", "", ""});
    REQUIRE((*j)->commit());
  }
  {
    std::ofstream f(path, std::ios::app);
    f << "{\"t\":\"bogus\",\"id\":\"x\"}\n";  // corrupt but complete
    f << "{\"t\":\"in\",\"id\":\"tele";      // torn
  }
  std::vector<router::record> got;
  auto j = router::journal::open(path, [&](router::record r) { got.push_back(std::move(r)); });
  REQUIRE(j);
  REQUIRE(got.size() == 3);
  CHECK(got[0].agent == "main");
  CHECK(got[0].message == std::string("\x81\xa1" "a\x01", 4));
  CHECK(got[1].message == std::string("\x80\x00\xff", 3));  // binary survives
  CHECK(got[2].k == router::record::kind::delivered);
  // The torn tail was cut off, so appends continue on a clean line.
  (*j)->append({router::record::kind::seen, "web:2", "", "", "", ""});
  REQUIRE((*j)->commit());
  got.clear();
  j = router::journal::open(path, [&](router::record r) { got.push_back(std::move(r)); });
  REQUIRE(got.size() == 4);
  CHECK(got[3].id == "web:2");
  // Compaction keeps exactly what it is given.
  REQUIRE((*j)->rewrite({got[3]}));
  got.clear();
  j = router::journal::open(path, [&](router::record r) { got.push_back(std::move(r)); });
  REQUIRE(got.size() == 1);
}

TEST_CASE("journal: decode refuses malformed records") {
  CHECK_FALSE(router::journal::decode("not json"));
  CHECK_FALSE(router::journal::decode("{\"t\":\"in\",\"id\":\"x\"}"));          // no message
  CHECK_FALSE(router::journal::decode("{\"t\":\"in\",\"id\":\"x\",\"msg\":\"@@\"}"));  // not base64
  CHECK_FALSE(router::journal::decode("{\"t\":\"done\"}"));
  CHECK(router::journal::decode("{\"t\":\"done\",\"id\":\"x\"}"));
}

TEST_CASE("session_fifo: one turn at a time per session, replies delivered in acceptance order") {
  router::session_fifo f;
  for (auto id : {"a1", "a2", "a3"}) f.push("A", id, false);
  f.push("B", "b1", false);
  auto is = [](const std::string* p, const char* want) { return p && *p == want; };
  // Sessions are independent: each has its oldest message's turn to run.
  CHECK(is(f.next_turn("A"), "a1"));
  CHECK(is(f.next_turn("B"), "b1"));
  CHECK(f.next_delivery("A") == nullptr);
  CHECK(f.next_turn("C") == nullptr);
  // a1 answered: its reply may go out, and a2's turn may run; a3 still waits.
  f.answered("a1");
  CHECK(is(f.next_delivery("A"), "a1"));
  CHECK(is(f.next_turn("A"), "a2"));
  // a2 answered before a1 was delivered: a2's reply waits for a1's.
  f.answered("a2");
  CHECK(is(f.next_delivery("A"), "a1"));
  CHECK(is(f.next_turn("A"), "a3"));
  f.remove("a1");
  CHECK(is(f.next_delivery("A"), "a2"));
  f.remove("a2");
  CHECK(f.next_delivery("A") == nullptr);
  CHECK(is(f.next_turn("A"), "a3"));
  CHECK(f.session_of("a3") == "A");
  CHECK(f.size() == 2);
  f.answered("a3");
  f.remove("a3");
  CHECK(f.next_turn("A") == nullptr);
  CHECK(f.session_of("a3").empty());
  // A journal replayed after a restart: answered ones first in line are delivered first.
  router::session_fifo g;
  g.push("S", "s1", true);
  g.push("S", "s2", false);
  g.push("S", "s2", false);  // pushed twice: counted once
  CHECK(g.size() == 2);
  CHECK(is(g.next_delivery("S"), "s1"));
  CHECK(is(g.next_turn("S"), "s2"));
}

TEST_CASE("journal: compaction keeps the order it is given, and appends continue after it") {
  weft::test::temp_dir dir{"weft-router-test"};
  auto path = (dir.path / "journal").string();
  auto j = router::journal::open(path, [](router::record) {});
  REQUIRE(j);
  for (auto id : {"t:3", "t:1", "t:2"})
    (*j)->append({router::record::kind::inbound, id, "main", "t:9", "", std::string("\x80", 1)});
  REQUIRE((*j)->commit());
  std::vector<router::record> got;
  auto reopen = [&] {
    got.clear();
    j = router::journal::open(path, [&](router::record r) { got.push_back(std::move(r)); });
    REQUIRE(j);
  };
  reopen();
  REQUIRE(got.size() == 3);
  CHECK(got[0].id == "t:3");
  CHECK(got[2].id == "t:2");
  REQUIRE((*j)->rewrite({got[2], got[0]}));
  (*j)->append({router::record::kind::seen, "t:4", "", "", "", ""});
  REQUIRE((*j)->commit());
  reopen();
  REQUIRE(got.size() == 3);
  CHECK(got[0].id == "t:2");
  CHECK(got[1].id == "t:3");
  CHECK(got[2].id == "t:4");
}
