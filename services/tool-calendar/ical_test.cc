// Calendar data on libical: weekly series at 10:00 local across the DST changes of two time
// zones, an occurrence moved by an override and one taken out, .ics round trips, free slots
// across two calendars, and bad input as clear errors.
#include <doctest/doctest.h>

#include <algorithm>

#include "services/tool-calendar/ical.hh"
#include "services/tool-code/test_util.hh"

using namespace weft;
using namespace weft::tools::calendar;

namespace {

instant at(const char* text, const char* tz) {
  auto t = parse_time(text, tz);
  REQUIRE_MESSAGE(t, (t ? "" : t.err().message));
  return *t;
}

std::vector<std::string> local_starts(const std::vector<occurrence>& occ, const char* tz) {
  std::vector<std::string> out;
  for (auto& o : occ) out.push_back(format_time(o.start, tz) + (o.moved ? " moved" : ""));
  return out;
}

}  // namespace

TEST_CASE("times: local to UTC and back, offsets, bad input") {
  CHECK(at("2026-12-10T10:00", "Europe/Berlin") == at("2026-12-10T09:00Z", ""));
  CHECK(at("2026-07-10T10:00", "Europe/Berlin") == at("2026-07-10T08:00Z", ""));
  CHECK(at("2026-07-10T10:00+02:00", "") == at("2026-07-10T08:00", "UTC"));
  CHECK(format_time(at("2026-12-10T09:00Z", ""), "Europe/Berlin") == "2026-12-10T10:00:00+01:00");
  CHECK(format_time(at("2026-07-10T12:00Z", ""), "America/New_York") == "2026-07-10T08:00:00-04:00");
  CHECK_FALSE(parse_time("tomorrow", "UTC"));
  CHECK_FALSE(parse_time("2026-07-10T10:00+0530", "UTC"));
  CHECK(parse_time("2026-07-10T10:00+05:30", "UTC"));
  CHECK(valid_rrule("FREQ=WEEKLY;COUNT=10"));
  CHECK_FALSE(valid_rrule("every tuesday"));
  CHECK_FALSE(parse_time("2026-13-01", "UTC"));
  auto zone = parse_time("2026-12-10T10:00", "Mars/Olympus");
  REQUIRE_FALSE(zone);
  CHECK(zone.err().message.find("not a time zone") != std::string::npos);
  CHECK(known_zone("Europe/Berlin"));
  CHECK_FALSE(known_zone("Mars/Olympus"));
}

TEST_CASE("a weekly series stays at 10:00 local across DST in Berlin and New York") {
  event berlin{"b1", "Standup", "", "", at("2026-10-15T10:00", "Europe/Berlin"), at("2026-10-15T10:30", "Europe/Berlin"),
               "Europe/Berlin", false, "FREQ=WEEKLY;COUNT=4", {}, std::nullopt};
  auto occ = expand({berlin}, at("2026-10-01", "UTC"), at("2026-12-01", "UTC"));
  CHECK(local_starts(occ, "Europe/Berlin") == std::vector<std::string>{"2026-10-15T10:00:00+02:00", "2026-10-22T10:00:00+02:00",
                                                                       "2026-10-29T10:00:00+01:00", "2026-11-05T10:00:00+01:00"});
  CHECK(occ[2].start - occ[1].start == 7 * 86400 + 3600);  // the week with the change has an hour more
  event ny{"n1", "Sync", "", "", at("2026-10-29T09:00", "America/New_York"), at("2026-10-29T10:00", "America/New_York"),
           "America/New_York", false, "FREQ=WEEKLY;COUNT=2", {}, std::nullopt};
  auto nocc = expand({ny}, at("2026-10-01", "UTC"), at("2026-12-01", "UTC"));
  CHECK(local_starts(nocc, "America/New_York") == std::vector<std::string>{"2026-10-29T09:00:00-04:00", "2026-11-05T09:00:00-05:00"});
  CHECK(format_time(nocc[1].start, "UTC") == "2026-11-05T14:00:00+00:00");
  // The same instants seen from the other zone: Berlin's 10:00 is New York's 04:00 or 05:00.
  CHECK(format_time(occ[3].start, "America/New_York") == "2026-11-05T04:00:00-05:00");
}

TEST_CASE("one occurrence moved, one taken out, and the series round-trips through .ics") {
  event series{"w1", "Review", "weekly review", "Room 2", at("2026-12-01T14:00", "Europe/Berlin"),
               at("2026-12-01T15:00", "Europe/Berlin"), "Europe/Berlin", false, "FREQ=WEEKLY;COUNT=5",
               {at("2026-12-22T14:00", "Europe/Berlin")}, std::nullopt};
  event moved{"w1", "Review (moved)", "", "Room 3", at("2026-12-16T16:00", "Europe/Berlin"),
              at("2026-12-16T17:00", "Europe/Berlin"), "Europe/Berlin", false, "", {}, at("2026-12-15T14:00", "Europe/Berlin")};
  auto occ = expand({series, moved}, at("2026-12-01", "UTC"), at("2027-01-31", "UTC"));
  CHECK(local_starts(occ, "Europe/Berlin") == std::vector<std::string>{"2026-12-01T14:00:00+01:00", "2026-12-08T14:00:00+01:00",
                                                                       "2026-12-16T16:00:00+01:00 moved", "2026-12-29T14:00:00+01:00"});
  CHECK(occ[2].summary == "Review (moved)");
  CHECK(occ[2].original_start == at("2026-12-15T14:00", "Europe/Berlin"));
  // Out to .ics and back: the same events.
  auto text = to_ics({series, moved});
  CHECK(text.find("BEGIN:VTIMEZONE") != std::string::npos);
  CHECK(text.find("TZID=Europe/Berlin") != std::string::npos);
  CHECK(text.find("RECURRENCE-ID") != std::string::npos);
  auto back = parse_ics(text, "round trip");
  REQUIRE_MESSAGE(back, (back ? "" : back.err().message));
  REQUIRE(back->size() == 2);
  CHECK((*back)[0] == series);
  CHECK((*back)[1] == moved);
  CHECK(expand(*back, at("2026-12-01", "UTC"), at("2027-01-31", "UTC")).size() == 4);
}

TEST_CASE("iCalendar from elsewhere: DURATION, all-day events, a zone defined in the file") {
  const char* text =
      "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//y//EN\r\n"
      "BEGIN:VTIMEZONE\r\nTZID:Custom/Zone\r\nBEGIN:STANDARD\r\nDTSTART:19700101T000000\r\nTZOFFSETFROM:+0300\r\n"
      "TZOFFSETTO:+0300\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
      "BEGIN:VEVENT\r\nUID:d1\r\nDTSTAMP:20261201T000000Z\r\nDTSTART;TZID=Custom/Zone:20261210T100000\r\n"
      "DURATION:PT90M\r\nSUMMARY:Ninety\r\nEND:VEVENT\r\n"
      "BEGIN:VEVENT\r\nUID:a1\r\nDTSTAMP:20261201T000000Z\r\nDTSTART;VALUE=DATE:20261224\r\nSUMMARY:Holiday\r\nEND:VEVENT\r\n"
      "END:VCALENDAR\r\n";
  auto ev = parse_ics(text, "external");
  REQUIRE_MESSAGE(ev, (ev ? "" : ev.err().message));
  REQUIRE(ev->size() == 2);
  CHECK((*ev)[0].start == at("2026-12-10T07:00Z", ""));
  CHECK((*ev)[0].end - (*ev)[0].start == 90 * 60);
  CHECK((*ev)[1].all_day);
  CHECK((*ev)[1].end - (*ev)[1].start == 86400);
  auto bad = parse_ics("this is not a calendar", "notes.txt");
  REQUIRE_FALSE(bad);
  CHECK(bad.err().message.find("notes.txt") != std::string::npos);
  auto unknown = parse_ics(
      "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:u\r\nDTSTART;TZID=Nowhere/Land:20261210T100000\r\n"
      "END:VEVENT\r\nEND:VCALENDAR\r\n", "u.ics");
  REQUIRE_FALSE(unknown);
  CHECK(unknown.err().message.find("'Nowhere/Land'") != std::string::npos);
  auto nostart = parse_ics("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:n\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", "n.ics");
  REQUIRE_FALSE(nostart);
  CHECK(nostart.err().message.find("has no DTSTART") != std::string::npos);
}

TEST_CASE("free slots across two calendars") {
  auto day = [](const char* hm) { return at((std::string("2026-12-10T") + hm).c_str(), "Europe/Berlin"); };
  std::vector<interval> busy = {{day("09:00"), day("10:00")},   // calendar A
                                {day("09:30"), day("11:00")},   // calendar B, overlapping
                                {day("12:00"), day("12:20")},   // A
                                {day("12:40"), day("14:00")}};  // B
  auto slots = free_slots(busy, day("09:00"), day("17:00"), 30 * 60);
  CHECK(slots == std::vector<interval>{{day("11:00"), day("12:00")}, {day("14:00"), day("17:00")}});
  CHECK(free_slots(busy, day("09:00"), day("17:00"), 4 * 3600).empty());
  CHECK(free_slots({}, day("09:00"), day("10:00"), 60) == std::vector<interval>{{day("09:00"), day("10:00")}});
}

TEST_CASE("moving edits the calendar in place: attendees, alarms and other properties are kept") {
  const char* text =
      "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//other//client//EN\r\n"
      "BEGIN:VEVENT\r\nUID:s1\r\nDTSTAMP:20261201T000000Z\r\nDTSTART;TZID=Europe/Berlin:20261201T140000\r\n"
      "DTEND;TZID=Europe/Berlin:20261201T150000\r\nRRULE:FREQ=WEEKLY;COUNT=4\r\nSUMMARY:Review\r\n"
      "EXDATE;TZID=Europe/Berlin:20261222T140000\r\n"
      "ATTENDEE;CN=Bob:mailto:bob@example.org\r\nX-CUSTOM:keep me\r\n"
      "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:soon\r\nTRIGGER:-PT10M\r\nEND:VALARM\r\nEND:VEVENT\r\n"
      "BEGIN:VEVENT\r\nUID:s1\r\nDTSTAMP:20261201T000000Z\r\nRECURRENCE-ID;TZID=Europe/Berlin:20261208T140000\r\n"
      "DTSTART;TZID=Europe/Berlin:20261209T090000\r\nDTEND;TZID=Europe/Berlin:20261209T100000\r\nSUMMARY:Review moved\r\n"
      "END:VEVENT\r\nEND:VCALENDAR\r\n";
  // One occurrence (the 15th) moved: a new override, the rest untouched.
  auto one = move_in_ics(text, "s1", at("2026-12-16T16:00", "Europe/Berlin"), at("2026-12-15T14:00", "Europe/Berlin"));
  REQUIRE_MESSAGE(one, (one ? "" : one.err().message));
  CHECK(one->find("ATTENDEE;CN=Bob:mailto:bob@example.org") != std::string::npos);
  CHECK(one->find("X-CUSTOM:keep me") != std::string::npos);
  CHECK(one->find("TRIGGER:-PT10M") != std::string::npos);
  CHECK(one->find("RECURRENCE-ID;TZID=Europe/Berlin:20261215T140000") != std::string::npos);
  auto ev = parse_ics(*one, "moved");
  REQUIRE(ev);
  CHECK(local_starts(expand(*ev, at("2026-12-01", "UTC"), at("2027-01-01", "UTC")), "Europe/Berlin") ==
        std::vector<std::string>{"2026-12-01T14:00:00+01:00", "2026-12-09T09:00:00+01:00 moved", "2026-12-16T16:00:00+01:00 moved"});
  // The whole series a day later: its EXDATE and its overrides' RECURRENCE-IDs move with it.
  auto all = move_in_ics(text, "s1", at("2026-12-02T14:00", "Europe/Berlin"), std::nullopt);
  REQUIRE(all);
  CHECK(all->find("DTSTART;TZID=Europe/Berlin:20261202T140000") != std::string::npos);
  CHECK(all->find("EXDATE;TZID=Europe/Berlin:20261223T140000") != std::string::npos);
  CHECK(all->find("RECURRENCE-ID;TZID=Europe/Berlin:20261209T140000") != std::string::npos);
  CHECK(all->find("ATTENDEE;CN=Bob") != std::string::npos);
  auto moved = parse_ics(*all, "moved");
  REQUIRE(moved);
  CHECK(local_starts(expand(*moved, at("2026-12-01", "UTC"), at("2027-01-01", "UTC")), "Europe/Berlin") ==
        std::vector<std::string>{"2026-12-02T14:00:00+01:00", "2026-12-09T09:00:00+01:00 moved", "2026-12-16T14:00:00+01:00"});
  CHECK_FALSE(move_in_ics(text, "nope", 0, std::nullopt));
}

TEST_CASE("updating edits the calendar in place: a series' fields, one occurrence's by an override, the rest kept") {
  const char* text =
      "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//other//client//EN\r\n"
      "BEGIN:VEVENT\r\nUID:s1\r\nDTSTAMP:20261201T000000Z\r\nDTSTART;TZID=Europe/Berlin:20261201T140000\r\n"
      "DTEND;TZID=Europe/Berlin:20261201T150000\r\nRRULE:FREQ=WEEKLY;COUNT=4\r\nSUMMARY:Review\r\nLOCATION:Room 2\r\n"
      "ATTENDEE;CN=Bob:mailto:bob@example.org\r\nX-CUSTOM:keep me\r\n"
      "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:soon\r\nTRIGGER:-PT10M\r\nEND:VALARM\r\nEND:VEVENT\r\n"
      "BEGIN:VEVENT\r\nUID:s1\r\nDTSTAMP:20261201T000000Z\r\nRECURRENCE-ID;TZID=Europe/Berlin:20261208T140000\r\n"
      "DTSTART;TZID=Europe/Berlin:20261209T090000\r\nDTEND;TZID=Europe/Berlin:20261209T100000\r\nSUMMARY:Review\r\n"
      "LOCATION:Room 9\r\nEND:VEVENT\r\n"
      "BEGIN:VEVENT\r\nUID:d1\r\nDTSTAMP:20261201T000000Z\r\nDTSTART:20261210T090000Z\r\nDURATION:PT1H\r\n"
      "SUMMARY:Lone\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
  auto kept = [](const std::string& t) {
    CHECK(t.find("ATTENDEE;CN=Bob:mailto:bob@example.org") != std::string::npos);
    CHECK(t.find("X-CUSTOM:keep me") != std::string::npos);
    CHECK(t.find("TRIGGER:-PT10M") != std::string::npos);
    CHECK(t.find("DESCRIPTION:soon") != std::string::npos);  // the alarm's, not the event's
    CHECK(t.find("PRODID:-//other//client//EN") != std::string::npos);
  };
  auto summaries = [](const std::string& t) {
    auto ev = parse_ics(t, "updated");
    REQUIRE_MESSAGE(ev, (ev ? "" : ev.err().message));
    std::vector<std::string> out;
    for (auto& o : expand(*ev, at("2026-12-01", "UTC"), at("2027-01-01", "UTC")))
      if (o.uid == "s1") out.push_back(format_time(o.start, "Europe/Berlin") + " " + o.summary + " @" + o.location);
    return out;
  };

  // One occurrence (the 15th): an override made with its RECURRENCE-ID, the others as they were.
  event_changes one;
  one.summary = "Review, with Carol";
  one.end = at("2026-12-15T15:30", "Europe/Berlin");
  auto occ = update_in_ics(text, "s1", one, at("2026-12-15T14:00", "Europe/Berlin"));
  REQUIRE_MESSAGE(occ, (occ ? "" : occ.err().message));
  kept(*occ);
  CHECK(occ->find("RECURRENCE-ID;TZID=Europe/Berlin:20261215T140000") != std::string::npos);
  CHECK(occ->find("DTEND;TZID=Europe/Berlin:20261215T153000") != std::string::npos);
  CHECK(summaries(*occ) == std::vector<std::string>{"2026-12-01T14:00:00+01:00 Review @Room 2",
                                                    "2026-12-09T09:00:00+01:00 Review @Room 9",
                                                    "2026-12-15T14:00:00+01:00 Review, with Carol @Room 2",
                                                    "2026-12-22T14:00:00+01:00 Review @Room 2"});
  auto ev = parse_ics(*occ, "updated");
  REQUIRE(ev);
  auto carol = std::find_if(ev->begin(), ev->end(), [](auto& e) { return e.summary == "Review, with Carol"; });
  REQUIRE(carol != ev->end());
  CHECK(carol->end - carol->start == 90 * 60);
  // The same occurrence again: its override edited, not a second one made.
  event_changes again;
  again.location = "Room 5";
  auto twice = update_in_ics(*occ, "s1", again, at("2026-12-15T14:00", "Europe/Berlin"));
  REQUIRE(twice);
  std::size_t overrides = 0;
  for (auto at = twice->find("RECURRENCE-ID"); at != std::string::npos; at = twice->find("RECURRENCE-ID", at + 1)) ++overrides;
  CHECK(overrides == 2);
  CHECK(summaries(*twice)[2] == "2026-12-15T14:00:00+01:00 Review, with Carol @Room 5");

  // The whole series: its overrides that had its old value follow, the one with its own keeps it.
  event_changes all;
  all.summary = "Design review";
  all.location = "Room 3";
  all.description = "bring the drafts";
  all.end = at("2026-12-01T14:45", "Europe/Berlin");
  auto series = update_in_ics(text, "s1", all, std::nullopt);
  REQUIRE_MESSAGE(series, (series ? "" : series.err().message));
  kept(*series);
  CHECK(series->find("DESCRIPTION:bring the drafts") != std::string::npos);
  CHECK(series->find("DTEND;TZID=Europe/Berlin:20261201T144500") != std::string::npos);
  CHECK(series->find("RRULE:FREQ=WEEKLY;COUNT=4") != std::string::npos);
  CHECK(summaries(*series) == std::vector<std::string>{"2026-12-01T14:00:00+01:00 Design review @Room 3",
                                                       "2026-12-09T09:00:00+01:00 Design review @Room 9",
                                                       "2026-12-15T14:00:00+01:00 Design review @Room 3",
                                                       "2026-12-22T14:00:00+01:00 Design review @Room 3"});
  auto sev = parse_ics(*series, "updated");
  REQUIRE(sev);
  for (auto& e : *sev)
    if (e.uid == "s1") CHECK(e.end - e.start == 45 * 60);  // the override's length followed the series'

  // A DURATION stays a DURATION; an empty text takes the property out.
  event_changes lone;
  lone.end = at("2026-12-10T11:30Z", "");
  lone.summary = "";
  auto d = update_in_ics(text, "d1", lone, std::nullopt);
  REQUIRE(d);
  CHECK(d->find("DURATION:PT2H30M") != std::string::npos);
  CHECK(d->find("SUMMARY:Lone") == std::string::npos);

  // A zone named the Windows way, with no VTIMEZONE in the text: the end is its wall clock.
  const char* outlook =
      "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:w1\r\nDTSTAMP:20261201T000000Z\r\n"
      "DTSTART;TZID=\"W. Europe Standard Time\":20261210T100000\r\nDTEND;TZID=\"W. Europe Standard Time\":20261210T103000\r\n"
      "SUMMARY:Jour fixe\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
  event_changes longer;
  longer.end = at("2026-12-10T11:00", "Europe/Berlin");
  auto w = update_in_ics(outlook, "w1", longer, std::nullopt);
  REQUIRE_MESSAGE(w, (w ? "" : w.err().message));
  auto wev = parse_ics(*w, "outlook");
  REQUIRE(wev);
  CHECK((*wev)[0].start == at("2026-12-10T10:00", "Europe/Berlin"));
  CHECK((*wev)[0].end == at("2026-12-10T11:00", "Europe/Berlin"));
  // 09:15 UTC: after the start (09:00 UTC), though not after 10:00 read as UTC.
  longer.end = at("2026-12-10T10:15", "Europe/Berlin");
  CHECK(update_in_ics(outlook, "w1", longer, std::nullopt));

  // Refused: an end not after the start, an unknown event.
  event_changes early;
  early.end = at("2026-12-01T14:00", "Europe/Berlin");
  auto bad = update_in_ics(text, "s1", early, std::nullopt);
  REQUIRE_FALSE(bad);
  CHECK(bad.err().is(errc::domain, errc::invalid_argument));
  auto none = update_in_ics(text, "nope", all, std::nullopt);
  REQUIRE_FALSE(none);
  CHECK(none.err().message.find("'nope'") != std::string::npos);
}

TEST_CASE("zones named the Windows way (Outlook, Exchange, Graph) or behind a publisher's prefix") {
  // Every Windows name maps to a zone libical knows.
  for (auto [windows, iana] : windows_zone_table()) {
    INFO(windows, " -> ", iana);
    CHECK(known_zone(iana));
    CHECK(known_zone(windows));
  }
  CHECK(iana_of_windows_zone("W. Europe Standard Time") == "Europe/Berlin");
  CHECK(iana_of_windows_zone("Mars Standard Time").empty());
  CHECK(known_zone("/mozilla.org/20050126_1/Europe/Berlin"));
  CHECK_FALSE(known_zone("/mozilla.org/20050126_1/Nowhere/Land"));

  // An Outlook export: its TZID is a Windows name, its VTIMEZONE a rule of its own; a weekly
  // series at 10:00 stays at 10:00 Berlin time across the change to winter time on 25 October.
  const char* outlook =
      "BEGIN:VCALENDAR\r\nPRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN\r\nVERSION:2.0\r\n"
      "BEGIN:VTIMEZONE\r\nTZID:W. Europe Standard Time\r\n"
      "BEGIN:STANDARD\r\nDTSTART:16011028T030000\r\nRRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10\r\nTZOFFSETFROM:+0200\r\n"
      "TZOFFSETTO:+0100\r\nEND:STANDARD\r\n"
      "BEGIN:DAYLIGHT\r\nDTSTART:16010325T020000\r\nRRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3\r\nTZOFFSETFROM:+0100\r\n"
      "TZOFFSETTO:+0200\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n"
      "BEGIN:VEVENT\r\nUID:outlook-1\r\nDTSTAMP:20261001T000000Z\r\nSUMMARY:Jour fixe\r\n"
      "DTSTART;TZID=\"W. Europe Standard Time\":20261015T100000\r\nDTEND;TZID=\"W. Europe Standard Time\":20261015T110000\r\n"
      "RRULE:FREQ=WEEKLY;COUNT=4\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
  auto ev = parse_ics(outlook, "outlook.ics");
  REQUIRE_MESSAGE(ev, (ev ? "" : ev.err().message));
  auto occ = expand(*ev, at("2026-10-01T00:00Z", ""), at("2026-11-30T00:00Z", ""), 100);
  CHECK(local_starts(occ, "Europe/Berlin") == std::vector<std::string>{"2026-10-15T10:00:00+02:00", "2026-10-22T10:00:00+02:00",
                                                                      "2026-10-29T10:00:00+01:00", "2026-11-05T10:00:00+01:00"});
  CHECK(occ[0].end - occ[0].start == 3600);
  CHECK((*ev)[0].tzid == "Europe/Berlin");  // written back under its IANA name, with that zone's rules
  auto written = to_ics(*ev);
  CHECK(written.find("DTSTART;TZID=Europe/Berlin:20261015T100000") != std::string::npos);
  CHECK(written.find("TZID:Europe/Berlin") != std::string::npos);
  CHECK(canonical_zone("W. Europe Standard Time") == "Europe/Berlin");
  CHECK(canonical_zone("Custom/Zone") == "Custom/Zone");

  // Without a VTIMEZONE in the file, a Windows or prefixed name is still a known zone.
  for (const char* tzid : {"W. Europe Standard Time", "/mozilla.org/20050126_1/Europe/Berlin"}) {
    auto text = std::string("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:w\r\nDTSTART;TZID=\"") + tzid +
                "\":20261210T100000\r\nDTEND;TZID=\"" + tzid + "\":20261210T103000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    auto one = parse_ics(text, "w.ics");
    REQUIRE_MESSAGE(one, (one ? "" : one.err().message));
    CHECK((*one)[0].start == at("2026-12-10T09:00Z", ""));
    CHECK((*one)[0].end == at("2026-12-10T09:30Z", ""));
  }
}
