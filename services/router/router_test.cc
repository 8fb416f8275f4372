// Routing decisions and the journal, without processes.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "journal.hh"
#include "routes.hh"
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
