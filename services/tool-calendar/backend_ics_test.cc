// The calendar tools on local iCalendar files (kind = "ics"): a directory of calendars and a
// one-file account. Create, list, move, delete; a weekly series across the change to winter
// time with one occurrence moved; free slots across both accounts; what else a file holds is
// kept through edits; a damaged file is refused, named, and left byte for byte; names that
// lead out of the directory (paths, links) are refused. And the recurrence rules the Graph
// backend sends, converted from RRULEs (and refused where Graph has no such rule).
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "services/tool-calendar/calendar_tools.hh"
#include "services/tool-calendar/graph.hh"
#include "tests/temp_dir.hh"
#include "tests/tool_calls.hh"

using namespace weft;
using namespace weft::tools::calendar;
namespace tool = weft::proto::tool_v1;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void put(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

/// Someone else's calendar file: an alarm and a property of another program, to be kept.
const std::string home_ics =
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//other//app//EN\r\nX-WR-CALNAME:Home\r\n"
    "BEGIN:VEVENT\r\nUID:dinner-1@other\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20261210T170000Z\r\n"
    "DTEND:20261210T190000Z\r\nSUMMARY:Dinner\r\nX-OTHER-APP-COLOUR:teal\r\n"
    "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Dinner\r\nTRIGGER:-PT30M\r\nEND:VALARM\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n";

struct fixture {
  weft::test::temp_dir tmp{"weft-ics"};
  fs::path dir = tmp.path / "cals";
  fs::path single = tmp.path / "solo" / "travel.ics";
  std::vector<tools::tool_def> defs;
  std::atomic<bool> flag{false};
  tool::call c{"calendar_list", "{}", "", 0};
  tools::call_context ctx{c, -1, flag};

  fixture() {
    fs::create_directories(dir);
    fs::create_directories(single.parent_path());
    put(dir / "work.ics", "");  // a new, empty calendar
    put(dir / "home.ics", home_ics);
    put(dir / "notes.txt", "not a calendar");
    calendar_settings s;
    s.timezone = "Europe/Berlin";
    account local;
    local.name = "local";
    local.kind = "ics";
    local.path = dir.string();
    local.agents = {"a"};
    s.accounts["local"] = local;
    account solo = local;
    solo.name = "solo";
    solo.path = single.string();
    s.accounts["solo"] = solo;
    defs = calendar_tools(s);
    ctx.caller = "agent/a";
  }
  result<tool::result> call(const std::string& name, const json& args) { return test::call_tool(defs, name, args, ctx); }
  json ok(const std::string& name, const json& args) { return test::ok_tool(defs, name, args, ctx); }
  std::vector<std::string> starts(const std::string& cal, const char* from, const char* to) {
    auto j = ok("calendar_events", {{"calendar", cal}, {"from", from}, {"to", to}});
    std::vector<std::string> out;
    for (auto& e : j["events"])
      out.push_back(e["start"].get<std::string>() + " " + e["summary"].get<std::string>() + (e.value("moved", false) ? " (moved)" : ""));
    return out;
  }
  /// The directory holds no temporary file of a write.
  bool no_leftovers() {
    for (auto& e : fs::directory_iterator(dir))
      if (e.path().filename().string()[0] == '.') return false;
    return true;
  }
};

}  // namespace

TEST_CASE("ics files: list, create, move, delete; the rest of a file kept") {
  fixture f;
  auto cals = f.ok("calendar_list", json::object());
  std::vector<std::string> names;
  for (auto& c : cals["calendars"]) names.push_back(c["calendar"]);
  CHECK(names == std::vector<std::string>{"local/home", "local/work", "solo/travel"});

  auto one = f.ok("calendar_create", {{"calendar", "local/work"}, {"summary", "Dentist"}, {"start", "2026-12-10T10:00"},
                                      {"end", "2026-12-10T11:00"}, {"location", "Main St"}});
  CHECK(f.starts("local/work", "2026-12-10", "2026-12-11") == std::vector<std::string>{"2026-12-10T10:00:00+01:00 Dentist"});
  auto text = slurp(f.dir / "work.ics");
  CHECK(text.find("DTSTART;TZID=Europe/Berlin:20261210T100000") != std::string::npos);
  CHECK(text.find("UID:" + one["uid"].get<std::string>()) != std::string::npos);
  f.ok("calendar_move", {{"calendar", "local/work"}, {"uid", one["uid"]}, {"start", "2026-12-10T15:30"}});
  CHECK(f.starts("local/work", "2026-12-10", "2026-12-11") == std::vector<std::string>{"2026-12-10T15:30:00+01:00 Dentist"});
  f.ok("calendar_delete", {{"calendar", "local/work"}, {"uid", one["uid"]}});
  CHECK(f.starts("local/work", "2026-12-10", "2026-12-11").empty());
  auto gone = f.call("calendar_delete", {{"calendar", "local/work"}, {"uid", one["uid"]}});
  REQUIRE_FALSE(gone);
  CHECK(gone.err().message.find("has no event") != std::string::npos);

  // Someone else's file: an event added beside theirs and theirs moved keep its alarm and property.
  f.ok("calendar_create", {{"calendar", "local/home"}, {"summary", "Call"}, {"start", "2026-12-10T09:00"}, {"end", "2026-12-10T09:30"}});
  f.ok("calendar_move", {{"calendar", "local/home"}, {"uid", "dinner-1@other"}, {"start", "2026-12-10T19:00"}});
  CHECK(f.starts("local/home", "2026-12-10", "2026-12-11") ==
        std::vector<std::string>{"2026-12-10T09:00:00+01:00 Call", "2026-12-10T19:00:00+01:00 Dinner"});
  auto home = slurp(f.dir / "home.ics");
  CHECK(home.find("X-OTHER-APP-COLOUR:teal") != std::string::npos);
  CHECK(home.find("TRIGGER:-PT30M") != std::string::npos);
  CHECK(home.find("X-WR-CALNAME:Home") != std::string::npos);
  CHECK(f.no_leftovers());

  // The one-file account: its file made at the first write.
  CHECK_FALSE(fs::exists(f.single));
  f.ok("calendar_create", {{"calendar", "solo/travel"}, {"summary", "Flight"}, {"start", "2026-12-11T07:00"}, {"end", "2026-12-11T09:00"}});
  CHECK(fs::exists(f.single));
  CHECK(f.starts("solo/travel", "2026-12-11", "2026-12-12") == std::vector<std::string>{"2026-12-11T07:00:00+01:00 Flight"});

  // Export, import into another file: the same occurrences there.
  auto exported = f.call("calendar_export", {{"calendar", "local/home"}});
  REQUIRE(exported);
  put(f.dir / "copy.ics", "");
  CHECK(f.ok("calendar_import", {{"calendar", "local/copy"}, {"ics", exported->content}})["imported"] == 2);
  CHECK(f.starts("local/copy", "2026-12-01", "2027-01-01") == f.starts("local/home", "2026-12-01", "2027-01-01"));
  // The same events again: refused, the file unchanged.
  auto before = slurp(f.dir / "copy.ics");
  auto twice = f.call("calendar_import", {{"calendar", "local/copy"}, {"ics", exported->content}});
  REQUIRE(twice);
  CHECK(twice->is_error);
  CHECK(twice->content.find("is in the calendar already") != std::string::npos);
  CHECK(slurp(f.dir / "copy.ics") == before);
}

TEST_CASE("ics files: a weekly series across the change to winter time, one occurrence moved; free slots across two accounts") {
  fixture f;
  // Thursdays 10:00 Berlin from 15 October 2026, four times (winter time from 25 October).
  auto series = f.ok("calendar_create", {{"calendar", "local/work"}, {"summary", "Standup"}, {"start", "2026-10-15T10:00"},
                                         {"end", "2026-10-15T10:15"}, {"rrule", "FREQ=WEEKLY;COUNT=4"}});
  f.ok("calendar_move", {{"calendar", "local/work"}, {"uid", series["uid"]}, {"occurrence", "2026-10-29T10:00"},
                         {"start", "2026-10-30T11:00"}});
  CHECK(f.starts("local/work", "2026-10-01", "2026-12-01") ==
        std::vector<std::string>{"2026-10-15T10:00:00+02:00 Standup", "2026-10-22T10:00:00+02:00 Standup",
                                 "2026-10-30T11:00:00+01:00 Standup (moved)", "2026-11-05T10:00:00+01:00 Standup"});
  auto text = slurp(f.dir / "work.ics");
  CHECK(text.find("RECURRENCE-ID;TZID=Europe/Berlin:20261029T100000") != std::string::npos);
  auto bad_occ = f.call("calendar_move", {{"calendar", "local/work"}, {"uid", series["uid"]}, {"occurrence", "2026-10-28T10:00"},
                                          {"start", "2026-10-28T12:00"}});
  REQUIRE_FALSE(bad_occ);
  CHECK(bad_occ.err().message.find("has no occurrence at") != std::string::npos);

  // Free 45 minutes on 10 December 09:00-13:00 across local/work and the one-file account.
  for (auto [cal, s, e] : {std::tuple{"local/work", "2026-12-10T09:00", "2026-12-10T10:00"},
                           std::tuple{"solo/travel", "2026-12-10T09:30", "2026-12-10T11:00"},
                           std::tuple{"local/work", "2026-12-10T12:00", "2026-12-10T13:00"}})
    f.ok("calendar_create", {{"calendar", cal}, {"summary", "busy"}, {"start", s}, {"end", e}});
  auto free = f.ok("calendar_free", {{"calendars", {"local/work", "solo/travel"}}, {"from", "2026-12-10T09:00"},
                                     {"to", "2026-12-10T13:00"}, {"minutes", 45}});
  std::vector<std::string> slots;
  for (auto& sl : free["slots"]) slots.push_back(sl["start"].get<std::string>() + "/" + sl["end"].get<std::string>());
  CHECK(slots == std::vector<std::string>{"2026-12-10T11:00:00+01:00/2026-12-10T12:00:00+01:00"});
}

TEST_CASE("ics files: update an event's fields and one occurrence of a series; the file replaced whole, the rest kept") {
  fixture f;
  auto inode = [&](const fs::path& p) {
    struct stat st{};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    return st.st_ino;
  };
  // Someone else's event: renamed, given a place and a later end; its alarm and property stay.
  auto before = inode(f.dir / "home.ics");
  f.ok("calendar_update", {{"calendar", "local/home"}, {"uid", "dinner-1@other"}, {"summary", "Dinner with Ann"},
                           {"location", "Lumen"}, {"end", "2026-12-10T20:30"}});
  auto home = slurp(f.dir / "home.ics");
  CHECK(home.find("SUMMARY:Dinner with Ann") != std::string::npos);
  CHECK(home.find("LOCATION:Lumen") != std::string::npos);
  CHECK(home.find("DTEND:20261210T193000Z") != std::string::npos);  // in UTC, as it was written
  CHECK(home.find("DTSTART:20261210T170000Z") != std::string::npos);
  CHECK(home.find("X-OTHER-APP-COLOUR:teal") != std::string::npos);
  CHECK(home.find("TRIGGER:-PT30M") != std::string::npos);
  CHECK(home.find("X-WR-CALNAME:Home") != std::string::npos);
  CHECK(inode(f.dir / "home.ics") != before);  // a new file renamed over the old, not rewritten in place
  CHECK(f.no_leftovers());
  // Refused, the file byte for byte as it was: an end before the start, an unknown uid, nothing to change.
  auto early = f.call("calendar_update", {{"calendar", "local/home"}, {"uid", "dinner-1@other"}, {"end", "2026-12-10T17:00"}});
  REQUIRE_FALSE(early);
  CHECK(tool::is(early.err(), tool::error_code::bad_arguments));
  CHECK(early.err().message.find("Failed to update event 'dinner-1@other': it would end at") != std::string::npos);
  auto unknown = f.call("calendar_update", {{"calendar", "local/home"}, {"uid", "nope"}, {"summary", "x"}});
  REQUIRE_FALSE(unknown);
  CHECK(tool::is(unknown.err(), tool::error_code::bad_arguments));
  CHECK(unknown.err().message.find("has no event 'nope'") != std::string::npos);
  CHECK_FALSE(f.call("calendar_update", {{"calendar", "local/home"}, {"uid", "dinner-1@other"}}));
  CHECK(slurp(f.dir / "home.ics") == home);

  // A weekly series across the change to winter time: the third occurrence (29 October) renamed.
  auto series = f.ok("calendar_create", {{"calendar", "local/work"}, {"summary", "Standup"}, {"start", "2026-10-15T10:00"},
                                         {"end", "2026-10-15T10:15"}, {"rrule", "FREQ=WEEKLY;COUNT=4"}});
  f.ok("calendar_update", {{"calendar", "local/work"}, {"uid", series["uid"]}, {"occurrence", "2026-10-29T10:00"},
                           {"summary", "Standup (demo)"}, {"description", "show the calendar tools"}});
  CHECK(f.starts("local/work", "2026-10-01", "2026-12-01") ==
        std::vector<std::string>{"2026-10-15T10:00:00+02:00 Standup", "2026-10-22T10:00:00+02:00 Standup",
                                 "2026-10-29T10:00:00+01:00 Standup (demo)", "2026-11-05T10:00:00+01:00 Standup"});
  auto text = slurp(f.dir / "work.ics");
  CHECK(text.find("RECURRENCE-ID;TZID=Europe/Berlin:20261029T100000") != std::string::npos);
  CHECK(text.find("DESCRIPTION:show the calendar tools") != std::string::npos);
  // And then moved: the override is the one edited, keeping its new name.
  f.ok("calendar_move", {{"calendar", "local/work"}, {"uid", series["uid"]}, {"occurrence", "2026-10-29T10:00"},
                         {"start", "2026-10-30T11:00"}});
  CHECK(f.starts("local/work", "2026-10-28", "2026-11-01") == std::vector<std::string>{"2026-10-30T11:00:00+01:00 Standup (demo) (moved)"});
  CHECK(f.no_leftovers());
}

TEST_CASE("ics files: a damaged file is refused, named, and left as it was") {
  fixture f;
  // Cut short in the middle of an event, and text that is no calendar at all.
  const std::string cut = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:x@y\r\nDTSTART:20261201T100000Z\r\nSUMMARY:Plan\r\n";
  const std::string junk = "hello, this is no calendar\n";
  put(f.dir / "cut.ics", cut);
  put(f.dir / "junk.ics", junk);
  for (auto [name, reason] : {std::pair{"cut", "it is cut short: VEVENT is not closed"}, std::pair{"junk", "comes before BEGIN:VCALENDAR"}}) {
    CAPTURE(name);
    auto file = (f.dir / (std::string(name) + ".ics")).string();
    auto before = slurp(file);
    auto add = f.call("calendar_create", {{"calendar", std::string("local/") + name}, {"summary", "x"},
                                          {"start", "2026-12-10T10:00"}, {"end", "2026-12-10T11:00"}});
    REQUIRE(add);
    CHECK(add->is_error);
    CHECK(add->content.find("Failed to read calendar file '" + file + "'") != std::string::npos);
    CAPTURE(add->content);
    CHECK(add->content.find(reason) != std::string::npos);
    auto read = f.call("calendar_events", {{"calendar", std::string("local/") + name}, {"from", "2026-12-01"}, {"to", "2026-12-31"}});
    REQUIRE(read);
    CHECK(read->is_error);
    auto del = f.call("calendar_delete", {{"calendar", std::string("local/") + name}, {"uid", "x@y"}});
    CHECK((!del || del->is_error));
    auto imp = f.call("calendar_import", {{"calendar", std::string("local/") + name}, {"ics", home_ics}});
    REQUIRE(imp);
    CHECK(imp->is_error);
    CHECK(slurp(file) == before);
  }
  CHECK(f.no_leftovers());
  // The other calendars still work.
  CHECK(f.starts("local/home", "2026-12-10", "2026-12-11") == std::vector<std::string>{"2026-12-10T18:00:00+01:00 Dinner"});
}

TEST_CASE("ics files: names that lead out of the directory are refused") {
  fixture f;
  auto outside = f.tmp.path / "outside.ics";
  put(outside, home_ics);
  fs::create_symlink(outside, f.dir / "evil.ics");
  // A link that leads out is no calendar of the account.
  auto cals = f.ok("calendar_list", json::object());
  for (auto& c : cals["calendars"]) CHECK(c["calendar"] != "local/evil");
  auto evil = f.call("calendar_events", {{"calendar", "local/evil"}, {"from", "2026-12-01"}, {"to", "2026-12-31"}});
  REQUIRE_FALSE(evil);
  CHECK(evil.err().message.find("has no calendar 'evil'") != std::string::npos);
  // The backend itself refuses paths, dot files, links out and other files than its own.
  auto be = ics_backend(f.dir.string());
  for (auto name : {"../outside.ics", "/etc/passwd", "..", ".hidden.ics", "evil.ics", "notes.txt", "sub/x.ics"}) {
    CAPTURE(name);
    auto r = be->create(name, event{.summary = "x", .start = 1796893200, .end = 1796896800});
    REQUIRE_FALSE(r);
    CHECK(r.err().message.find("Failed to use calendar") != std::string::npos);
  }
  CHECK(slurp(outside) == home_ics);
  CHECK_FALSE(fs::exists(f.dir / ".hidden.ics"));
  auto solo = ics_backend((f.tmp.path / "solo" / "travel.ics").string());
  auto other = solo->create("other.ics", event{.summary = "x", .start = 1796893200, .end = 1796896800});
  REQUIRE_FALSE(other);
  CHECK(other.err().message.find("it is not the account's file") != std::string::npos);
}

TEST_CASE("Graph recurrence: RRULEs Graph can express, converted both ways; the rest refused saying why") {
  // Thursday 22 October 2026, 10:00 Berlin.
  auto start = *parse_time("2026-10-22T10:00", "Europe/Berlin");
  auto weekly = graph_recurrence("FREQ=WEEKLY;COUNT=3", start, "Europe/Berlin");
  REQUIRE(weekly);
  CHECK(*weekly == json::parse(R"({"pattern":{"type":"weekly","interval":1,"daysOfWeek":["thursday"],"firstDayOfWeek":"monday"},
    "range":{"type":"numbered","numberOfOccurrences":3,"startDate":"2026-10-22","recurrenceTimeZone":"Europe/Berlin"}})"));
  CHECK(*rrule_of(*weekly, "Europe/Berlin") == "FREQ=WEEKLY;BYDAY=TH;WKST=MO;COUNT=3");
  auto monthly = graph_recurrence("FREQ=MONTHLY;BYDAY=-1FR;INTERVAL=2;UNTIL=20271231T225959Z", start, "Europe/Berlin");
  REQUIRE(monthly);
  CHECK((*monthly)["pattern"] == json::parse(R"({"type":"relativeMonthly","interval":2,"daysOfWeek":["friday"],"index":"last"})"));
  CHECK((*monthly)["range"]["endDate"] == "2027-12-31");
  CHECK(*rrule_of(*monthly, "Europe/Berlin") == "FREQ=MONTHLY;BYDAY=-1FR;INTERVAL=2;UNTIL=20271231T225959Z");
  auto yearly = graph_recurrence("FREQ=YEARLY", start, "Europe/Berlin");
  REQUIRE(yearly);
  CHECK((*yearly)["pattern"] == json::parse(R"({"type":"absoluteYearly","interval":1,"dayOfMonth":22,"month":10})"));
  CHECK((*yearly)["range"]["type"] == "noEnd");
  auto second_tue = graph_recurrence("FREQ=MONTHLY;BYDAY=TU;BYSETPOS=2", start, "UTC");
  REQUIRE(second_tue);
  CHECK((*second_tue)["pattern"]["index"] == "second");
  for (auto [rule, why] : {std::pair{"FREQ=HOURLY;COUNT=3", "not HOURLY"}, std::pair{"FREQ=DAILY;BYHOUR=9,17", "has no BYHOUR"},
                           std::pair{"FREQ=MONTHLY;BYMONTHDAY=1,15", "one day of the month"},
                           std::pair{"FREQ=MONTHLY;BYDAY=5MO", "first to fourth, or last"},
                           std::pair{"FREQ=MONTHLY;BYDAY=1MO,2TU", "first to fourth, or last"},
                           std::pair{"FREQ=WEEKLY;BYDAY=1MO", "have no position"}}) {
    CAPTURE(rule);
    auto r = graph_recurrence(rule, start, "Europe/Berlin");
    REQUIRE_FALSE(r);
    CHECK(r.err().is(errc::domain, errc::invalid_argument));
    CHECK(r.err().message.find(std::string("Microsoft Graph cannot express the rule '") + rule + "'") != std::string::npos);
    CHECK(r.err().message.find(why) != std::string::npos);
  }
}
