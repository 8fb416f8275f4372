// The calendar tools against a real CalDAV server: Debian's radicale, started by the test on
// loopback with two calendars. Create, list, move and delete; a weekly series with one
// occurrence moved (a RECURRENCE-ID override the server stores and gives back); free slots
// across both calendars; times in two zones across a DST change; .ics export and import
// round-trip; an agent without the account is Denied; a wrong password is a clear error.
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include <weft/base/command.hh>
#include <weft/http/fetch.hh>

#include "services/tool-calendar/calendar_tools.hh"
#include "services/tool-code/test_util.hh"
#include "tests/radicale.hh"
#include "tests/temp_dir.hh"
#include "tests/tool_calls.hh"

using namespace weft;
using namespace weft::tools::calendar;
namespace tool = weft::proto::tool_v1;
using json = nlohmann::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

using weft::test::radicale;

struct fixture {
  radicale server;
  std::vector<tools::tool_def> defs;
  std::atomic<bool> flag{false};
  tool::call c{"calendar_list", "{}", "", 0};
  tools::call_context ctx{c, -1, flag};

  fixture() {
    REQUIRE_MESSAGE(server.up, "radicale did not start (tools/dev setup installs Debian's radicale)");
    server.mkcalendar("alice", "work", "Work");
    server.mkcalendar("alice", "home", "Home");
    calendar_settings s;
    s.timezone = "Europe/Berlin";
    account alice;
    alice.name = "alice";
    alice.dav = {server.url() + "alice/", "alice", "secret"};
    alice.agents = {"a"};
    s.accounts["alice"] = alice;
    defs = calendar_tools(s);
    ctx.caller = "agent/a";
  }
  result<tool::result> call(const std::string& name, const json& args) { return test::call_tool(defs, name, args, ctx); }
  json ok(const std::string& name, const json& args) { return test::ok_tool(defs, name, args, ctx); }
  std::vector<std::string> starts(const std::string& cal, const char* from, const char* to, const char* tz = nullptr) {
    json args{{"calendar", cal}, {"from", from}, {"to", to}};
    if (tz) args["timezone"] = tz;
    auto j = ok("calendar_events", args);
    std::vector<std::string> out;
    for (auto& e : j["events"]) out.push_back(e["start"].get<std::string>() + " " + e["summary"].get<std::string>() +
                                               (e.value("moved", false) ? " (moved)" : ""));
    return out;
  }
};

}  // namespace

TEST_CASE("calendar tools on radicale: create, list, move, delete; a weekly series with one occurrence moved") {
  fixture f;
  auto cals = f.ok("calendar_list", json::object());
  std::vector<std::string> names;
  for (auto& c : cals["calendars"]) names.push_back(c["calendar"]);
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"alice/home", "alice/work"});

  auto one = f.ok("calendar_create", {{"calendar", "alice/work"}, {"summary", "Dentist"}, {"start", "2026-12-10T10:00"},
                                      {"end", "2026-12-10T11:00"}, {"location", "Main St"}});
  CHECK(one["start"] == "2026-12-10T10:00:00+01:00");
  CHECK(f.starts("alice/work", "2026-12-10", "2026-12-11") == std::vector<std::string>{"2026-12-10T10:00:00+01:00 Dentist"});
  f.ok("calendar_move", {{"calendar", "alice/work"}, {"uid", one["uid"]}, {"start", "2026-12-10T15:30"}});
  CHECK(f.starts("alice/work", "2026-12-10", "2026-12-11") == std::vector<std::string>{"2026-12-10T15:30:00+01:00 Dentist"});
  // Writes are conditional: a resource changed by someone else since it was read is not overwritten.
  {
    tools::calendar::caldav dav({f.server.url() + "alice/", "alice", "x"});
    auto href = "/alice/work/" + one["uid"].get<std::string>() + ".ics";
    auto read = dav.get(href);
    REQUIRE(read);
    REQUIRE_FALSE(read->etag.empty());
    auto theirs = read->ics;
    theirs.replace(theirs.find("SUMMARY:Dentist"), 15, "SUMMARY:Dentist!");
    REQUIRE(dav.put(href, theirs, read->etag));   // someone else's change: a new etag
    auto stale = dav.put(href, read->ics, read->etag);
    REQUIRE_FALSE(stale);
    CHECK(stale.err().message.find("it was changed meanwhile") != std::string::npos);
    auto twice = dav.put(href, read->ics, std::nullopt);
    REQUIRE_FALSE(twice);
    CHECK(twice.err().message.find("it exists already") != std::string::npos);
  }
  f.ok("calendar_delete", {{"calendar", "alice/work"}, {"uid", one["uid"]}});
  CHECK(f.starts("alice/work", "2026-12-10", "2026-12-11").empty());
  auto gone = f.call("calendar_delete", {{"calendar", "alice/work"}, {"uid", one["uid"]}});
  REQUIRE_FALSE(gone);
  CHECK(gone.err().message.find("has no event") != std::string::npos);

  // Weekly review on Tuesdays at 14:00 Berlin, five times; the third moved to Wednesday 16:00.
  auto series = f.ok("calendar_create", {{"calendar", "alice/work"}, {"summary", "Review"}, {"start", "2026-12-01T14:00"},
                                         {"end", "2026-12-01T15:00"}, {"rrule", "FREQ=WEEKLY;COUNT=5"}});
  f.ok("calendar_move", {{"calendar", "alice/work"}, {"uid", series["uid"]}, {"occurrence", "2026-12-15T14:00"},
                         {"start", "2026-12-16T16:00"}});
  CHECK(f.starts("alice/work", "2026-12-01", "2027-01-01") ==
        std::vector<std::string>{"2026-12-01T14:00:00+01:00 Review", "2026-12-08T14:00:00+01:00 Review",
                                 "2026-12-16T16:00:00+01:00 Review (moved)", "2026-12-22T14:00:00+01:00 Review",
                                 "2026-12-29T14:00:00+01:00 Review"});
  // The same week seen from New York.
  CHECK(f.starts("alice/work", "2026-12-16", "2026-12-17", "America/New_York") ==
        std::vector<std::string>{"2026-12-16T10:00:00-05:00 Review (moved)"});
  auto bad_occ = f.call("calendar_move", {{"calendar", "alice/work"}, {"uid", series["uid"]}, {"occurrence", "2026-12-17T14:00"},
                                          {"start", "2026-12-18T10:00"}});
  REQUIRE_FALSE(bad_occ);
  CHECK(bad_occ.err().message.find("has no occurrence at") != std::string::npos);
}

TEST_CASE("calendar tools on radicale: DST in two zones, free slots across two calendars, .ics round trip, refusals") {
  fixture f;
  // 09:00 New York every week across the US change (1 November 2026).
  f.ok("calendar_create", {{"calendar", "alice/home"}, {"summary", "Call"}, {"start", "2026-10-29T09:00"},
                           {"end", "2026-10-29T09:30"}, {"rrule", "FREQ=WEEKLY;COUNT=2"}, {"timezone", "America/New_York"}});
  CHECK(f.starts("alice/home", "2026-10-28", "2026-11-07", "America/New_York") ==
        std::vector<std::string>{"2026-10-29T09:00:00-04:00 Call", "2026-11-05T09:00:00-05:00 Call"});
  // And in Berlin, whose change came a week earlier: 14:00, then 15:00.
  CHECK(f.starts("alice/home", "2026-10-28", "2026-11-07") ==
        std::vector<std::string>{"2026-10-29T14:00:00+01:00 Call", "2026-11-05T15:00:00+01:00 Call"});

  // Free slots of 45 minutes on 10 December, 09:00-17:00, across work and home.
  for (auto [cal, s, e] : {std::tuple{"alice/work", "2026-12-10T09:00", "2026-12-10T10:00"},
                           std::tuple{"alice/home", "2026-12-10T09:30", "2026-12-10T11:00"},
                           std::tuple{"alice/work", "2026-12-10T12:00", "2026-12-10T12:30"},
                           std::tuple{"alice/home", "2026-12-10T13:00", "2026-12-10T16:30"}})
    f.ok("calendar_create", {{"calendar", cal}, {"summary", "busy"}, {"start", s}, {"end", e}});
  auto free = f.ok("calendar_free", {{"calendars", {"alice/work", "alice/home"}}, {"from", "2026-12-10T09:00"},
                                     {"to", "2026-12-10T17:00"}, {"minutes", 45}});
  std::vector<std::string> slots;
  for (auto& sl : free["slots"]) slots.push_back(sl["start"].get<std::string>() + "/" + sl["end"].get<std::string>());
  CHECK(slots == std::vector<std::string>{"2026-12-10T11:00:00+01:00/2026-12-10T12:00:00+01:00"});

  // Export home, import it into work: the same occurrences there.
  auto exported = f.call("calendar_export", {{"calendar", "alice/home"}});
  REQUIRE(exported);
  CHECK(exported->content.find("BEGIN:VCALENDAR") == 0);
  CHECK(exported->content.find("RRULE:FREQ=WEEKLY;COUNT=2") != std::string::npos);
  auto before = f.starts("alice/home", "2026-10-01", "2027-01-01");
  f.server.mkcalendar("alice", "copy", "Copy");
  auto imported = f.ok("calendar_import", {{"calendar", "alice/copy"}, {"ics", exported->content}});
  CHECK(imported["imported"] == 3);
  CHECK(f.starts("alice/copy", "2026-10-01", "2027-01-01") == before);

  // Refusals: another agent, an unknown calendar, bad times, garbage .ics.
  f.ctx.caller = "agent/b";
  auto other = f.call("calendar_events", {{"calendar", "alice/work"}, {"from", "2026-12-01"}, {"to", "2026-12-02"}});
  REQUIRE_FALSE(other);
  CHECK(tool::is(other.err(), tool::error_code::denied));
  f.ctx.caller = "tool/shell/a";
  CHECK_FALSE(f.call("calendar_list", json::object()));
  f.ctx.caller = "agent/a";
  auto unknown = f.call("calendar_events", {{"calendar", "alice/nope"}, {"from", "2026-12-01"}, {"to", "2026-12-02"}});
  REQUIRE_FALSE(unknown);
  CHECK(unknown.err().message.find("has no calendar 'nope'") != std::string::npos);
  auto when = f.call("calendar_create", {{"calendar", "alice/work"}, {"summary", "x"}, {"start", "soon"}, {"end", "later"}});
  REQUIRE_FALSE(when);
  CHECK(tool::is(when.err(), tool::error_code::bad_arguments));
  // A uid that would name another resource is refused before any request.
  auto escape = f.call("calendar_delete", {{"calendar", "alice/work"}, {"uid", "../home/x"}});
  REQUIRE_FALSE(escape);
  CHECK(escape.err().message.find("is not an event uid") != std::string::npos);
  // Hrefs of another origin are read as paths on the account's server (its password stays there).
  tools::calendar::caldav dav({"http://127.0.0.1:1/alice/", "alice", "x"});
  CHECK(dav.url_of("http://evil.example:8/steal/x.ics") == "http://127.0.0.1:1/steal/x.ics");
  CHECK(dav.url_of("/alice/work/") == "http://127.0.0.1:1/alice/work/");
  auto junk = f.call("calendar_import", {{"calendar", "alice/work"}, {"ics", "not a calendar"}});
  REQUIRE_FALSE(junk);
  CHECK(tool::is(junk.err(), tool::error_code::bad_arguments));
}

TEST_CASE("calendar tools on radicale: update an event's fields, and one occurrence of a weekly series") {
  fixture f;
  tools::calendar::caldav dav({f.server.url() + "alice/", "alice", "x"});
  auto stored = [&](const json& uid) {
    auto r = dav.get("/alice/work/" + uid.get<std::string>() + ".ics");
    REQUIRE(r);
    return r->ics;
  };
  auto one = f.ok("calendar_create", {{"calendar", "alice/work"}, {"summary", "Dentist"}, {"start", "2026-12-10T10:00"},
                                      {"end", "2026-12-10T11:00"}, {"location", "Main St"}});
  // Someone else's client adds an attendee and a property of its own: an update keeps them.
  {
    auto href = "/alice/work/" + one["uid"].get<std::string>() + ".ics";
    auto read = dav.get(href);
    REQUIRE(read);
    auto theirs = read->ics;
    auto at = theirs.find("END:VEVENT");
    REQUIRE(at != std::string::npos);
    theirs.insert(at, "ATTENDEE;CN=Bob:mailto:bob@example.org\r\nX-OTHER-CLIENT:keep\r\n");
    REQUIRE(dav.put(href, theirs, read->etag));
  }
  auto up = f.ok("calendar_update", {{"calendar", "alice/work"}, {"uid", one["uid"]}, {"summary", "Dentist (Dr Lee)"},
                                     {"location", "High St 4"}, {"description", "bring the card"}, {"end", "2026-12-10T11:30"}});
  CHECK(up["uid"] == one["uid"]);
  auto events = f.ok("calendar_events", {{"calendar", "alice/work"}, {"from", "2026-12-10"}, {"to", "2026-12-11"}});
  REQUIRE(events["events"].size() == 1);
  CHECK(events["events"][0]["summary"] == "Dentist (Dr Lee)");
  CHECK(events["events"][0]["location"] == "High St 4");
  CHECK(events["events"][0]["start"] == "2026-12-10T10:00:00+01:00");
  CHECK(events["events"][0]["end"] == "2026-12-10T11:30:00+01:00");
  auto ics = stored(one["uid"]);
  CHECK(ics.find("DESCRIPTION:bring the card") != std::string::npos);
  CHECK(ics.find("ATTENDEE;CN=Bob:mailto:bob@example.org") != std::string::npos);
  CHECK(ics.find("X-OTHER-CLIENT:keep") != std::string::npos);
  // Refusals, the event unchanged: an end before the start, nothing to change, an unknown uid.
  auto early = f.call("calendar_update", {{"calendar", "alice/work"}, {"uid", one["uid"]}, {"end", "2026-12-10T09:00"}});
  REQUIRE_FALSE(early);
  CHECK(tool::is(early.err(), tool::error_code::bad_arguments));
  CHECK(early.err().message.find("not after it starts at 2026-12-10T10:00:00+01:00") != std::string::npos);
  auto nothing = f.call("calendar_update", {{"calendar", "alice/work"}, {"uid", one["uid"]}});
  REQUIRE_FALSE(nothing);
  CHECK(tool::is(nothing.err(), tool::error_code::bad_arguments));
  CHECK(nothing.err().message.find("at least one of") != std::string::npos);
  auto unknown = f.call("calendar_update", {{"calendar", "alice/work"}, {"uid", "nope@weft"}, {"summary", "x"}});
  REQUIRE_FALSE(unknown);
  CHECK(tool::is(unknown.err(), tool::error_code::bad_arguments));
  CHECK(unknown.err().message.find("'nope@weft'") != std::string::npos);
  CHECK(stored(one["uid"]) == ics);

  // A weekly series: the third occurrence renamed and made longer; only it changed.
  auto series = f.ok("calendar_create", {{"calendar", "alice/work"}, {"summary", "Review"}, {"start", "2026-12-01T14:00"},
                                         {"end", "2026-12-01T15:00"}, {"rrule", "FREQ=WEEKLY;COUNT=4"}, {"location", "Room 2"}});
  f.ok("calendar_update", {{"calendar", "alice/work"}, {"uid", series["uid"]}, {"occurrence", "2026-12-15T14:00"},
                           {"summary", "Review with Carol"}, {"end", "2026-12-15T16:00"}});
  auto week = [&] {
    std::vector<std::string> out;
    auto j = f.ok("calendar_events", {{"calendar", "alice/work"}, {"from", "2026-12-01"}, {"to", "2027-01-01"}});
    for (auto& e : j["events"])
      if (e["uid"] == series["uid"])
        out.push_back(e["start"].get<std::string>() + "–" + e["end"].get<std::string>().substr(11, 5) + " " +
                      e["summary"].get<std::string>() + " @" + e.value("location", ""));
    return out;
  };
  CHECK(week() == std::vector<std::string>{"2026-12-01T14:00:00+01:00–15:00 Review @Room 2",
                                           "2026-12-08T14:00:00+01:00–15:00 Review @Room 2",
                                           "2026-12-15T14:00:00+01:00–16:00 Review with Carol @Room 2",
                                           "2026-12-22T14:00:00+01:00–15:00 Review @Room 2"});
  CHECK(stored(series["uid"]).find("RECURRENCE-ID;TZID=Europe/Berlin:20261215T140000") != std::string::npos);
  // Then the whole series moved to another room: the edited occurrence keeps its own name.
  f.ok("calendar_update", {{"calendar", "alice/work"}, {"uid", series["uid"]}, {"location", "Room 3"}});
  CHECK(week() == std::vector<std::string>{"2026-12-01T14:00:00+01:00–15:00 Review @Room 3",
                                           "2026-12-08T14:00:00+01:00–15:00 Review @Room 3",
                                           "2026-12-15T14:00:00+01:00–16:00 Review with Carol @Room 3",
                                           "2026-12-22T14:00:00+01:00–15:00 Review @Room 3"});
  auto bad_occ = f.call("calendar_update", {{"calendar", "alice/work"}, {"uid", series["uid"]}, {"occurrence", "2026-12-16T14:00"},
                                            {"summary", "x"}});
  REQUIRE_FALSE(bad_occ);
  CHECK(bad_occ.err().message.find("has no occurrence at") != std::string::npos);
}
