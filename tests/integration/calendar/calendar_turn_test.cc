// Calendars in an agent turn: the scripted fake model lists agent main's calendars, creates
// an event and reads the week back (and on Google and Graph moves and updates events), through the real agent, bus and tool-calendar process,
// against Debian's radicale on loopback. The event is on the server; the account's password
// is only in weftd and tool-calendar; an agent whose families lack "calendar" has no tools.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "proto/chat_v1.hh"
#include "proto/oauth_v1.hh"
#include "services/tool-calendar/caldav.hh"
#include "tests/integration/fake_peer.hh"
#include "tests/integration/harness.hh"
#include "tests/integration/oauth2_login.hh"
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

TEST_CASE("Google Calendar in agent turns: tokens from the broker per call, a refused one refreshed once and the call retried") {
  test::fake_peer idp("fake_idp.py", {"--client-secret", "cs", "--interval", "1", "--pending", "0"});
  test::fake_peer gcal("fake_gcal.py");
  test::fake_peer llm("fake_llm.py");
  auto u = idp.url() + "/google";
  auto config = fmt::format(
      "[providers.fake]\nstyle = \"openai\"\nbase_url = \"{url}/v1\"\nmodel = \"fake-model\"\n\n"
      "[llm]\ndefault_provider = \"fake\"\nretries = 0\n\n[memory]\nenabled = false\n\n"
      "[agents.main]\nmax_iterations = 8\ntool_timeout_ms = 20000\n[agents.main.tools]\nfamilies = [\"calendar\"]\n\n"
      "[oauth2.providers.google]\nclient_id = \"weft-test-client\"\nclient_secret = \"cs\"\n"
      "auth_url = \"{u}/o/oauth2/v2/auth\"\ntoken_url = \"{u}/token\"\ndevice_url = \"{u}/device/code\"\n"
      "[oauth2.grants.main]\nwork = [\"calendar\"]\n\n"
      "[tools.calendar]\ntimezone = \"Europe/Berlin\"\n"
      "[tools.calendar.accounts.g]\nkind = \"google\"\nurl = \"{gcal}/calendar/v3\"\noauth2_account = \"work\"\n"
      "agents = [\"main\"]\n",
      fmt::arg("url", llm.url()), fmt::arg("u", u), fmt::arg("gcal", gcal.url()));
  auto s = test::stack::start(config);
  REQUIRE(s);
  auto b = s->bus_client();
  // The account, logged in by the device flow.
  test::device_login(*b, "google", "work", {"calendar"});

  // Turn 1: a weekly series across the change to winter time, one occurrence moved, read back.
  json steps = json::array(
      {call("calendar_list", json::object()),
       call("calendar_create", {{"calendar", "g/primary"}, {"summary", "Standup"}, {"start", "2026-10-22T10:00"},
                                {"end", "2026-10-22T10:15"}, {"rrule", "FREQ=WEEKLY;COUNT=3"}}),
       {{"text", "Created."}}});
  REQUIRE(llm.post("/_script", steps.dump()).status == 200);
  std::vector<std::string> deltas;
  auto r1 = test::streamed_turn(*b, "main", test::web_turn("g1", "g1", "standup weekly"), deltas);
  CHECK(r1.tool_calls == 2);
  std::string uid;
  for (auto& q : json::parse(llm.get("/_requests").body)) {
    auto body = q["body"].dump();
    auto at = body.find("(uid ");
    if (at != std::string::npos) uid = body.substr(at + 5, 16);
  }
  REQUIRE_MESSAGE(uid.size() == 16, llm.get("/_requests").body.substr(0, 2000));
  json steps2 = json::array(
      {call("calendar_move", {{"calendar", "g/primary"}, {"uid", uid}, {"occurrence", "2026-10-29T10:00"},
                              {"start", "2026-10-30T11:00"}}),
       call("calendar_events", {{"calendar", "g/primary"}, {"from", "2026-10-20"}, {"to", "2026-11-10"}}),
       {{"text", "Moved."}}});
  REQUIRE(llm.post("/_script", steps2.dump()).status == 200);
  auto r2 = test::streamed_turn(*b, "main", test::web_turn("g2", "g2", "move the second one"), deltas);
  CHECK(r2.tool_calls == 2);
  std::string seen;
  for (auto& q : json::parse(llm.get("/_requests").body)) seen += q["body"].dump();
  // 10:00 Berlin before and after the change, and the moved one on Friday at 11:00.
  CHECK(seen.find("2026-10-22T10:00:00+02:00") != std::string::npos);
  CHECK(seen.find("2026-10-30T11:00:00+01:00") != std::string::npos);
  CHECK(seen.find("2026-11-05T10:00:00+01:00") != std::string::npos);

  // Turn 2b: the last occurrence renamed and given a room, then the whole series made 30
  // minutes long with a description; read back, each PATCH carrying only what it changes.
  json steps_up = json::array(
      {call("calendar_update", {{"calendar", "g/primary"}, {"uid", uid}, {"occurrence", "2026-11-05T10:00"},
                                {"summary", "Standup (retro)"}, {"location", "Room 7"}}),
       call("calendar_update", {{"calendar", "g/primary"}, {"uid", uid}, {"description", "what we did"},
                                {"end", "2026-10-22T10:30"}}),
       call("calendar_update", {{"calendar", "g/primary"}, {"uid", uid}, {"end", "2026-10-22T09:00"}}),
       call("calendar_events", {{"calendar", "g/primary"}, {"from", "2026-10-20"}, {"to", "2026-11-10"}}),
       {{"text", "Updated."}}});
  REQUIRE(llm.post("/_script", steps_up.dump()).status == 200);
  auto r_up = test::streamed_turn(*b, "main", test::web_turn("g2b", "g2b", "rename the last one, make them 30 minutes"), deltas);
  CHECK(r_up.tool_calls == 4);
  std::string up_seen;
  for (auto& q : json::parse(llm.get("/_requests").body)) up_seen = q["body"].dump();
  CHECK(up_seen.find("updated the occurrence of 2026-11-05T10:00:00+01:00 of 'Standup': summary 'Standup (retro)', "
                     "location 'Room 7'") != std::string::npos);
  CHECK(up_seen.find("not after it starts at 2026-10-22T10:00:00+02:00") != std::string::npos);
  CHECK(up_seen.find("2026-10-22T10:00:00+02:00 – 2026-10-22T10:30:00+02:00  Standup, recurring") != std::string::npos);
  CHECK(up_seen.find("2026-11-05T10:00:00+01:00 – 2026-11-05T10:30:00+01:00  Standup (retro), recurring") != std::string::npos);
  // The occurrence moved in turn 2 keeps its own times.
  CHECK(up_seen.find("2026-10-30T11:00:00+01:00 – 2026-10-30T11:15:00+01:00  Standup, recurring, moved") != std::string::npos);
  std::vector<std::string> patches;
  for (auto& q : json::parse(gcal.get("/_requests").body))
    if (q["method"] == "PATCH") patches.push_back(q["path"].get<std::string>() + " " + q.value("fields", json::array()).dump());
  CHECK(patches == std::vector<std::string>{
                       "/calendar/v3/calendars/primary/events/" + uid + "_20261029T090000Z [\"end\",\"start\"]",
                       "/calendar/v3/calendars/primary/events/" + uid + "_20261105T090000Z [\"location\",\"summary\"]",
                       "/calendar/v3/calendars/primary/events/" + uid + " [\"description\",\"end\"]"});

  // The API stops taking the token: the next call gets a 401, asks the broker for a fresh one
  // (one refresh at the identity provider) and succeeds.
  REQUIRE(gcal.post("/_reject_all", "{}").status == 200);
  json steps3 = json::array(
      {call("calendar_events", {{"calendar", "g/primary"}, {"from", "2026-10-20"}, {"to", "2026-11-10"}}), {{"text", "Read."}}});
  REQUIRE(llm.post("/_script", steps3.dump()).status == 200);
  auto r3 = test::streamed_turn(*b, "main", test::web_turn("g3", "g3", "what is on"), deltas);
  CHECK(r3.tool_calls == 1);
  int refreshes = 0;
  for (auto& q : json::parse(idp.get("/_requests").body))
    if (q["form"].value("grant_type", "") == "refresh_token") ++refreshes;
  CHECK(refreshes == 1);
  // Exactly one 401, and the retry right after it with another token, accepted.
  auto calls = json::parse(gcal.get("/_requests").body);
  std::size_t refused = 0, at = 0;
  for (std::size_t i = 0; i < calls.size(); ++i)
    if (calls[i]["status"] == 401) ++refused, at = i;
  CHECK(refused == 1);
  REQUIRE(at + 1 < calls.size());
  CHECK(calls[at + 1]["status"] == 200);
  CHECK(calls[at + 1]["token"] != calls[at]["token"]);
  CHECK(calls[at + 1]["path"] == calls[at]["path"]);
  std::string last;
  for (auto& q : json::parse(llm.get("/_requests").body)) last = q["body"].dump();
  CHECK(last.find("2026-11-05T10:00:00+01:00") != std::string::npos);
}

TEST_CASE("Microsoft Graph calendars in agent turns: a series across the change to winter time, one occurrence moved, "
          "paged views, a 401 refreshed once, an agent without a grant Denied") {
  test::fake_peer idp("fake_idp.py", {"--client-secret", "cs", "--interval", "1", "--pending", "0"});
  test::fake_peer graph("fake_graph.py", {"--page-size", "3"});
  test::fake_peer llm("fake_llm.py");
  auto u = idp.url() + "/microsoft/common/oauth2/v2.0";
  auto config = fmt::format(
      "[providers.fake]\nstyle = \"openai\"\nbase_url = \"{url}/v1\"\nmodel = \"fake-model\"\n\n"
      "[llm]\ndefault_provider = \"fake\"\nretries = 0\n\n[memory]\nenabled = false\n\n"
      "[agents.main]\nmax_iterations = 8\ntool_timeout_ms = 20000\n[agents.main.tools]\nfamilies = [\"calendar\"]\n\n"
      "[agents.other]\nmax_iterations = 8\ntool_timeout_ms = 20000\n[agents.other.tools]\nfamilies = [\"calendar\"]\n\n"
      "[oauth2.providers.microsoft]\nclient_id = \"weft-test-client\"\nclient_secret = \"cs\"\n"
      "auth_url = \"{u}/authorize\"\ntoken_url = \"{u}/token\"\ndevice_url = \"{u}/devicecode\"\n"
      "[oauth2.grants.main]\nwork = [\"calendar\"]\n\n"
      "[tools.calendar]\ntimezone = \"Europe/Berlin\"\n"
      "[tools.calendar.accounts.o]\nkind = \"graph\"\nurl = \"{graph}/v1.0\"\noauth2_account = \"work\"\n"
      "agents = [\"main\", \"other\"]\n",
      fmt::arg("url", llm.url()), fmt::arg("u", u), fmt::arg("graph", graph.url()));
  auto s = test::stack::start(config);
  REQUIRE(s);
  auto b = s->bus_client();
  test::device_login(*b, "microsoft", "work", {"calendar"});
  auto bodies = [&] {
    std::vector<std::string> out;
    for (auto& q : json::parse(llm.get("/_requests").body)) out.push_back(q["body"].dump());
    return out;
  };

  // Turn 1: a weekly series on Thursdays at 10:00 Berlin across 25 October, and a lunch; the
  // calendar named as Graph names it.
  json steps = json::array(
      {call("calendar_list", json::object()),
       call("calendar_create", {{"calendar", "o/Calendar"}, {"summary", "Standup"}, {"start", "2026-10-22T10:00"},
                                {"end", "2026-10-22T10:15"}, {"rrule", "FREQ=WEEKLY;COUNT=3"}}),
       call("calendar_create", {{"calendar", "o/Calendar"}, {"summary", "Lunch"}, {"start", "2026-11-06T12:00"},
                                {"end", "2026-11-06T13:00"}}),
       {{"text", "Created."}}});
  REQUIRE(llm.post("/_script", steps.dump()).status == 200);
  std::vector<std::string> deltas;
  auto r1 = test::streamed_turn(*b, "main", test::web_turn("m1", "m1", "standup weekly, lunch on Friday"), deltas);
  CHECK(r1.tool_calls == 3);
  std::string uid, lunch;
  for (auto& body : bodies()) {
    for (auto at = body.find("created '"); at != std::string::npos; at = body.find("created '", at + 1)) {
      auto open = body.find("(uid ", at), close = body.find(')', open);
      REQUIRE(open != std::string::npos);
      auto id = body.substr(open + 5, close - open - 5);
      (body.compare(at, 16, "created 'Standup") == 0 ? uid : lunch) = id;
    }
  }
  REQUIRE_MESSAGE(!uid.empty(), bodies().back().substr(0, 2000));
  REQUIRE(!lunch.empty());

  // Turn 2: the second occurrence (29 October, winter time) moved to Friday 11:00, the weeks read back.
  json steps2 = json::array(
      {call("calendar_move", {{"calendar", "o/Calendar"}, {"uid", uid}, {"occurrence", "2026-10-29T10:00"},
                              {"start", "2026-10-30T11:00"}}),
       call("calendar_events", {{"calendar", "o/Calendar"}, {"from", "2026-10-20"}, {"to", "2026-11-10"}}),
       {{"text", "Moved."}}});
  REQUIRE(llm.post("/_script", steps2.dump()).status == 200);
  auto r2 = test::streamed_turn(*b, "main", test::web_turn("m2", "m2", "move the second one"), deltas);
  CHECK(r2.tool_calls == 2);
  auto seen = bodies().back();
  // 10:00 Berlin before and after the change, the moved one on Friday at 11:00, and the
  // lunch — the fourth of four, on the view's second page.
  CHECK(seen.find("4 events in o/Calendar") != std::string::npos);
  CHECK(seen.find("2026-10-22T10:00:00+02:00") != std::string::npos);
  CHECK(seen.find("2026-10-30T11:00:00+01:00") != std::string::npos);
  CHECK(seen.find("2026-11-05T10:00:00+01:00") != std::string::npos);
  CHECK(seen.find("2026-11-06T12:00:00+01:00") != std::string::npos);
  CHECK(seen.find("2026-10-29T10:00:00+01:00 – ") == std::string::npos);
  bool paged = false, patched_occurrence = false;
  for (auto& q : json::parse(graph.get("/_requests").body)) {
    auto path = q["path"].get<std::string>();
    if (path.find("/calendarView") != std::string::npos) {
      CHECK(q["prefer"] == "outlook.timezone=\"UTC\"");
      if (q["query"].contains("$skiptoken")) paged = true;
    }
    if (q["method"] == "PATCH") patched_occurrence = path.find("/v1.0/me/events/occ-") == 0;
  }
  CHECK(paged);
  CHECK(patched_occurrence);

  // Turn 2b: the last occurrence renamed and given a room; the lunch given a place, a note and
  // a later end; an end before the start refused. Read back; each PATCH carries only what it changes.
  auto patches_before = json::parse(graph.get("/_requests").body).size();
  json steps_up = json::array(
      {call("calendar_update", {{"calendar", "o/Calendar"}, {"uid", uid}, {"occurrence", "2026-11-05T10:00"},
                                {"summary", "Standup (retro)"}, {"location", "Room 7"}}),
       call("calendar_update", {{"calendar", "o/Calendar"}, {"uid", lunch}, {"location", "Canteen"},
                                {"description", "with the new team"}, {"end", "2026-11-06T13:30"}}),
       call("calendar_update", {{"calendar", "o/Calendar"}, {"uid", lunch}, {"end", "2026-11-06T11:00"}}),
       call("calendar_events", {{"calendar", "o/Calendar"}, {"from", "2026-10-20"}, {"to", "2026-11-10"}}),
       {{"text", "Updated."}}});
  REQUIRE(llm.post("/_script", steps_up.dump()).status == 200);
  auto r_up = test::streamed_turn(*b, "main", test::web_turn("m2b", "m2b", "rename the last standup, lunch in the canteen"), deltas);
  CHECK(r_up.tool_calls == 4);
  auto up_seen = bodies().back();
  CHECK(up_seen.find("updated the occurrence of 2026-11-05T10:00:00+01:00 of 'Standup': summary 'Standup (retro)', "
                     "location 'Room 7'") != std::string::npos);
  CHECK(up_seen.find("not after it starts at 2026-11-06T12:00:00+01:00") != std::string::npos);
  CHECK(up_seen.find("2026-11-05T10:00:00+01:00 – 2026-11-05T10:15:00+01:00  Standup (retro), recurring") != std::string::npos);
  CHECK(up_seen.find("2026-10-22T10:00:00+02:00 – 2026-10-22T10:15:00+02:00  Standup, recurring") != std::string::npos);
  CHECK(up_seen.find("2026-11-06T12:00:00+01:00 – 2026-11-06T13:30:00+01:00  Lunch (uid") != std::string::npos);
  std::vector<std::string> patches;
  auto after_up = json::parse(graph.get("/_requests").body);
  for (auto i = patches_before; i < after_up.size(); ++i)
    if (after_up[i]["method"] == "PATCH") {
      auto path = after_up[i]["path"].get<std::string>();
      patches.push_back((path.find("/v1.0/me/events/occ-") == 0 ? "occurrence" : path) + " " + after_up[i]["fields"].dump());
    }
  CHECK(patches == std::vector<std::string>{"occurrence [\"location\",\"subject\"]",
                                            "/v1.0/me/events/" + lunch + " [\"body\",\"end\",\"location\"]"});

  // Turn 3: the API refuses the next call once (as for an expired token): one refresh at the
  // identity provider, the call retried once with the new token; the lunch deleted.
  auto refreshes = [&] {
    int n = 0;
    for (auto& q : json::parse(idp.get("/_requests").body))
      if (q["form"].value("grant_type", "") == "refresh_token") ++n;
    return n;
  };
  int before = refreshes();
  auto calls_before = json::parse(graph.get("/_requests").body).size();
  REQUIRE(graph.post("/_unauthorized_once", "{}").status == 200);
  json steps3 = json::array({call("calendar_delete", {{"calendar", "o/Calendar"}, {"uid", lunch}}),
                             call("calendar_events", {{"calendar", "o/Calendar"}, {"from", "2026-10-20"}, {"to", "2026-11-10"}}),
                             {{"text", "Deleted."}}});
  REQUIRE(llm.post("/_script", steps3.dump()).status == 200);
  auto r3 = test::streamed_turn(*b, "main", test::web_turn("m3", "m3", "drop the lunch"), deltas);
  CHECK(r3.tool_calls == 2);
  CHECK(refreshes() == before + 1);
  auto calls = json::parse(graph.get("/_requests").body);
  std::size_t refused = 0, at = 0;
  for (std::size_t i = calls_before; i < calls.size(); ++i)
    if (calls[i]["status"] == 401) ++refused, at = i;
  CHECK(refused == 1);
  REQUIRE(at + 1 < calls.size());
  CHECK(calls[at + 1]["status"] == 200);
  CHECK(calls[at + 1]["token"] != calls[at]["token"]);
  CHECK(calls[at + 1]["path"] == calls[at]["path"]);
  bool deleted = false;
  for (auto& q : calls)
    if (q["method"] == "DELETE" && q["path"] == "/v1.0/me/events/" + lunch) deleted = true;
  CHECK(deleted);
  auto last = bodies().back();
  CHECK(last.find("3 events in o/Calendar") != std::string::npos);
  CHECK(last.find("Lunch") == std::string::npos);

  // An agent the account lists but [oauth2.grants] does not: the broker gives it no token, and
  // its calendar call is Denied.
  json steps4 = json::array({call("calendar_events", {{"calendar", "o/Calendar"}, {"from", "2026-10-20"}, {"to", "2026-11-10"}}),
                             {{"text", "No."}}});
  REQUIRE(llm.post("/_script", steps4.dump()).status == 200);
  auto calls_before_other = json::parse(graph.get("/_requests").body).size();
  auto r4 = test::streamed_turn(*b, "other", test::web_turn("x1", "x1", "what is on"), deltas);
  CHECK(r4.tool_calls == 1);
  auto denied = bodies().back();
  CHECK(denied.find("io.weft.Tool.v1.Denied") != std::string::npos);
  CHECK(denied.find("Standup") == std::string::npos);
  CHECK(json::parse(graph.get("/_requests").body).size() == calls_before_other);
}
