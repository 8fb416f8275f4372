// Calendars in an agent turn: the scripted fake model lists agent main's calendars, creates
// an event and reads the week back, through the real agent, bus and tool-calendar process,
// against Debian's radicale on loopback. The event is on the server; the account's password
// is only in weftd and tool-calendar; an agent whose families lack "calendar" has no tools.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "proto/chat_v1.hh"
#include "services/tool-calendar/caldav.hh"
#include "tests/integration/fake_peer.hh"
#include "tests/integration/harness.hh"
#include "tests/integration/turn_client.hh"
#include "tests/radicale.hh"
#include "tests/temp_dir.hh"

using namespace weft;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

json call(const std::string& name, json args) { return {{"tool_calls", json::array({{{"name", name}, {"arguments", args}}})}}; }

}  // namespace

TEST_CASE("calendar in an agent turn: list, create, read back; the password only in tool-calendar") {
  weft::test::radicale server;
  REQUIRE_MESSAGE(server.up, "radicale did not start (tools/dev setup installs Debian's radicale)");
  server.mkcalendar("alice", "work", "Work");
  test::fake_peer llm("fake_llm.py");
  const std::string password = "cal-secret-2718";
  auto config = fmt::format(
      "[providers.fake]\nstyle = \"openai\"\nbase_url = \"{url}/v1\"\nmodel = \"fake-model\"\n\n"
      "[llm]\ndefault_provider = \"fake\"\nretries = 0\n\n[memory]\nenabled = false\n\n"
      "[agents.main]\nmax_iterations = 8\ntool_timeout_ms = 20000\n[agents.main.tools]\nfamilies = [\"calendar\"]\n\n"
      "[agents.other]\n[agents.other.tools]\nfamilies = [\"fs\"]\n\n"
      "[tools.calendar]\ntimezone = \"Europe/Berlin\"\n"
      "[tools.calendar.accounts.alice]\nurl = \"{dav}alice/\"\nusername = \"alice\"\npassword = \"${{WEFT_TEST_CAL_PASSWORD}}\"\n"
      "agents = [\"main\"]\n",
      fmt::arg("url", llm.url()), fmt::arg("dav", server.url()));
  ::setenv("WEFT_TEST_CAL_PASSWORD", password.c_str(), 1);
  auto s = test::stack::start(config);
  ::unsetenv("WEFT_TEST_CAL_PASSWORD");
  REQUIRE(s);
  json steps = json::array({call("calendar_list", json::object()),
                            call("calendar_create", {{"calendar", "alice/work"}, {"summary", "Planning"},
                                                     {"start", "2026-12-14T09:00"}, {"end", "2026-12-14T10:30"}}),
                            call("calendar_events", {{"calendar", "alice/work"}, {"from", "2026-12-14"}, {"to", "2026-12-21"}}),
                            {{"text", "Planning is on Monday at 09:00."}}});
  REQUIRE(llm.post("/_script", steps.dump()).status == 200);
  auto b = s->bus_client();
  std::vector<std::string> deltas;
  auto r = test::streamed_turn(*b, "main", test::web_turn("c1", "c1", "put planning on Monday 9:00"), deltas);
  CHECK(r.tool_calls == 3);
  CHECK(r.reply.parts.at(0).text.value_or("") == "Planning is on Monday at 09:00.");
  // What the model got back from the tools: the calendar, and the event in Berlin time.
  std::string to_model;
  for (auto& q : json::parse(llm.get("/_requests").body)) to_model += q["body"].dump();
  CHECK(to_model.find("alice/work") != std::string::npos);
  CHECK(to_model.find("2026-12-14T09:00:00+01:00") != std::string::npos);
  CHECK(to_model.find(password) == std::string::npos);
  // The server has it.
  tools::calendar::caldav dav({server.url() + "alice/", "alice", "x"});
  auto stored = dav.events("/alice/work/", 1796000000, 1799000000);
  REQUIRE(stored);
  REQUIRE(stored->size() == 1);
  CHECK((*stored)[0].ics.find("SUMMARY:Planning") != std::string::npos);
  CHECK((*stored)[0].ics.find("DTSTART;TZID=Europe/Berlin:20261214T090000") != std::string::npos);
  // The password: in weftd (it read it) and tool-calendar (given it), nowhere else.
  for (auto& e : fs::directory_iterator("/proc")) {
    auto name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    auto pid = std::stoi(name);
    std::ifstream env(e.path() / "environ"), cmd(e.path() / "cmdline");
    std::string text((std::istreambuf_iterator<char>(env)), {});
    text += std::string((std::istreambuf_iterator<char>(cmd)), {});
    if (text.find(password) != std::string::npos)
      CHECK_MESSAGE((pid == s->pid() || pid == s->service_pid("tool-calendar")), "pid " << pid << " holds the password");
  }
}
