#pragma once
/// Calendar data on libical (Debian libical 3): iCalendar text to events and back, recurring
/// events expanded into occurrences (RRULE in the event's own time zone, so a weekly 10:00
/// stays at 10:00 local across a DST change; EXDATEs skipped; an occurrence moved by an
/// override with RECURRENCE-ID shown where it was moved to), and free slots between busy
/// intervals. Times are UTC seconds; a time zone is an IANA name ("Europe/Berlin").
/// Pure functions over text: the calendar tools fetch and store it.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <weft/base/result.hh>

namespace weft::tools::calendar {

using instant = std::int64_t;  ///< seconds since the epoch, UTC

struct event {
  std::string uid, summary, description, location;
  instant start = 0, end = 0;
  std::string tzid;                       ///< the zone its times are written in; "": UTC
  bool all_day = false;
  std::string rrule;                      ///< "FREQ=WEEKLY;COUNT=10"; "": not recurring
  std::vector<instant> exdates;           ///< occurrences taken out (their original starts)
  std::optional<instant> recurrence_id;   ///< set: this overrides the occurrence that started then
  bool operator==(const event&) const = default;
};

struct occurrence {
  std::string uid, summary, location;
  instant start = 0, end = 0;
  std::string tzid;
  bool all_day = false;
  bool recurring = false;
  std::optional<instant> original_start;  ///< for an occurrence of a series: where the rule put it
  bool moved = false;                     ///< an override moved it from original_start
};

/// Every VEVENT of a VCALENDAR (masters and overrides). Malformed text is an error naming
/// what is wrong; a TZID that is neither defined in the text nor a known zone is an error.
result<std::vector<event>> parse_ics(std::string_view text, std::string_view shown);

/// One VCALENDAR with the events and a VTIMEZONE for each zone they use.
std::string to_ics(const std::vector<event>& events);

/// Moves event `uid` of the VCALENDAR `text` to `start` (keeping its length; its EXDATEs and
/// the RECURRENCE-IDs of its overrides move with it), or with `occurrence` only that
/// occurrence of its series (an override with RECURRENCE-ID, made or updated). Edits the
/// calendar in place: everything else in it (attendees, alarms, other properties, its time
/// zones) is kept as it was.
result<std::string> move_in_ics(std::string_view text, std::string_view uid, instant start,
                                std::optional<instant> occurrence);

/// What an update of an event changes; a field left empty is kept as it is.
struct event_changes {
  std::optional<std::string> summary, location, description;  ///< "": the property removed
  std::optional<instant> end;  ///< the new end (of a series: of its first occurrence, so its length)
  bool empty() const { return !summary && !location && !description && !end; }
};

/// Changes SUMMARY, LOCATION, DESCRIPTION and the end (DTEND, or DURATION where the event has
/// that) of event `uid` of the VCALENDAR `text`, or with `occurrence` only of that occurrence
/// of its series (an override with RECURRENCE-ID, made or edited). A whole series' overrides
/// that still had the series' old value (or length) get the new one; those that had their own
/// keep it. Edits the calendar in place, as move_in_ics does. An end not after the start is
/// errc::invalid_argument.
result<std::string> update_in_ics(std::string_view text, std::string_view uid, const event_changes& changes,
                                  std::optional<instant> occurrence);

/// The VCALENDAR `text` with `events` added (and a VTIMEZONE for each zone they use that it
/// does not define); all else in it kept. Empty text: a new calendar.
result<std::string> add_to_ics(std::string_view text, const std::vector<event>& events);

/// The VCALENDAR `text` without event `uid` (its overrides with it); errc::not_found when
/// it holds no such event.
result<std::string> remove_from_ics(std::string_view text, std::string_view uid);

/// The occurrences overlapping [from, to), sorted by start; at most `max`.
std::vector<occurrence> expand(const std::vector<event>& events, instant from, instant to, std::size_t max = 2000);

struct interval {
  instant start = 0, end = 0;
  bool operator==(const interval&) const = default;
};

/// The gaps of at least `min_seconds` in [from, to) that no busy interval covers.
std::vector<interval> free_slots(std::vector<interval> busy, instant from, instant to, std::int64_t min_seconds);

/// Is `rule` an RRULE libical reads ("FREQ=WEEKLY;COUNT=10")?
bool valid_rrule(std::string_view rule);

/// Is `tzid` a time zone libical knows — an IANA name, a Windows name (Outlook, Exchange,
/// Graph: "W. Europe Standard Time"), or an IANA name behind a publisher's prefix
/// ("/mozilla.org/20050126_1/Europe/Berlin")?
bool known_zone(std::string_view tzid);

/// The IANA name of a known zone named another way ("W. Europe Standard Time" →
/// "Europe/Berlin"); any other name as it is.
std::string canonical_zone(std::string_view tzid);

/// The IANA zone of a Windows time zone name (windows_zones.cc, after CLDR), or "".
std::string_view iana_of_windows_zone(std::string_view name);
/// The whole table, for tests.
std::vector<std::pair<std::string_view, std::string_view>> windows_zone_table();

/// "2026-12-10T10:00" (or with seconds, or "2026-12-10" for midnight; a trailing "Z" or
/// "+01:00" is honoured) as a time in `tzid` ("" or "UTC": UTC) → UTC seconds.
result<instant> parse_time(std::string_view text, std::string_view tzid);

/// `t` in `tzid` as "2026-12-10T10:00:00+01:00".
std::string format_time(instant t, std::string_view tzid);

}  // namespace weft::tools::calendar
