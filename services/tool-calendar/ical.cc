#include "services/tool-calendar/ical.hh"

#include <libical/ical.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <set>

#include <fmt/format.h>

namespace weft::tools::calendar {

namespace {

/// libical keeps global state (its error number, the zone cache): one caller at a time.
std::mutex& ical_mutex() {
  static std::mutex m;
  return m;
}

void init_once() {
  static std::once_flag once;
  // Zones are written by their plain IANA names ("Europe/Berlin"), as servers and other
  // clients write them.
  std::call_once(once, [] { icaltimezone_set_tzid_prefix(""); });
}

using component_ptr = std::unique_ptr<icalcomponent, void (*)(icalcomponent*)>;

icaltimezone* zone_of(std::string_view tzid) {
  if (tzid.empty() || tzid == "UTC" || tzid == "Z") return icaltimezone_get_utc_timezone();
  if (auto* z = icaltimezone_get_builtin_timezone(std::string(tzid).c_str())) return z;
  // Outlook, Exchange and Graph name zones the Windows way.
  if (auto iana = iana_of_windows_zone(tzid); !iana.empty()) return zone_of(iana);
  // A publisher's prefix before an IANA name: the longest suffix after a '/' that is one.
  for (std::size_t at = tzid.find('/'); at != std::string_view::npos && at + 1 < tzid.size(); at = tzid.find('/', at + 1))
    if (auto* z = icaltimezone_get_builtin_timezone(std::string(tzid.substr(at + 1)).c_str())) return z;
  return nullptr;
}

instant to_instant(icaltimetype t) {
  if (icaltime_is_null_time(t)) return 0;
  // A floating time (no zone) is read as UTC; a date as its midnight UTC.
  const icaltimezone* z = t.zone ? t.zone : icaltimezone_get_utc_timezone();
  return static_cast<instant>(icaltime_as_timet_with_zone(t, z));
}

std::string tzid_of(icaltimetype t, icalproperty* p) {
  if (p)
    if (auto* param = icalproperty_get_first_parameter(p, ICAL_TZID_PARAMETER)) {
      const char* v = icalparameter_get_tzid(param);
      return v ? v : "";
    }
  if (t.zone && t.zone != icaltimezone_get_utc_timezone()) {
    const char* loc = icaltimezone_get_location(const_cast<icaltimezone*>(t.zone));
    return loc ? loc : "";
  }
  return "";
}

icaltimetype local_time(instant at, std::string_view tzid, bool date) {
  auto* z = zone_of(tzid);
  auto t = icaltime_from_timet_with_zone(static_cast<time_t>(at), date ? 1 : 0, z);
  return t;
}

icalproperty* time_property(icalproperty* (*make)(icaltimetype), instant at, const std::string& tzid, bool date) {
  auto t = local_time(at, tzid, date);
  bool zoned = !date && !tzid.empty() && tzid != "UTC";
  // Written as the zone's wall-clock time with a TZID parameter (no "Z"), or in UTC.
  if (zoned) t.zone = nullptr;
  auto* p = make(t);
  if (zoned) icalproperty_add_parameter(p, icalparameter_new_tzid(tzid.c_str()));
  return p;
}

}  // namespace

bool valid_rrule(std::string_view rule) {
  std::lock_guard<std::mutex> l(ical_mutex());
  init_once();
  icalerror_clear_errno();
  auto r = icalrecurrencetype_from_string(std::string(rule).c_str());
  bool ok = r.freq != ICAL_NO_RECURRENCE && icalerrno == ICAL_NO_ERROR;
  icalerror_clear_errno();
  return ok;
}

bool known_zone(std::string_view tzid) {
  std::lock_guard<std::mutex> l(ical_mutex());
  init_once();
  return zone_of(tzid) != nullptr;
}

namespace {

/// The IANA name of a zone named another way (Windows, a prefix), or the name as it is.
std::string canonical_locked(std::string_view tzid) {
  if (tzid.empty() || icaltimezone_get_builtin_timezone(std::string(tzid).c_str())) return std::string(tzid);
  if (auto* z = zone_of(tzid))
    if (const char* loc = icaltimezone_get_location(z); loc && *loc) return loc;
  return std::string(tzid);
}

}  // namespace

std::string canonical_zone(std::string_view tzid) {
  std::lock_guard<std::mutex> l(ical_mutex());
  init_once();
  return canonical_locked(tzid);
}

result<std::vector<event>> parse_ics(std::string_view text, std::string_view shown) {
  std::lock_guard<std::mutex> l(ical_mutex());
  init_once();
  icalerror_clear_errno();
  std::string copy(text);
  component_ptr root(icalparser_parse_string(copy.c_str()), icalcomponent_free);
  if (!root) return fail(errc::malformed, "Failed to read the calendar '{}': it is not iCalendar text", shown);
  icalcomponent* cal = root.get();
  if (icalcomponent_isa(cal) != ICAL_VCALENDAR_COMPONENT) {
    cal = icalcomponent_get_first_component(root.get(), ICAL_VCALENDAR_COMPONENT);
    if (!cal) return fail(errc::malformed, "Failed to read the calendar '{}': no VCALENDAR in it", shown);
  }
  std::vector<event> out;
  for (auto* c = icalcomponent_get_first_component(cal, ICAL_VEVENT_COMPONENT); c;
       c = icalcomponent_get_next_component(cal, ICAL_VEVENT_COMPONENT)) {
    event e;
    if (const char* uid = icalcomponent_get_uid(c)) e.uid = uid;
    if (const char* s = icalcomponent_get_summary(c)) e.summary = s;
    if (const char* d = icalcomponent_get_description(c)) e.description = d;
    if (const char* loc = icalcomponent_get_location(c)) e.location = loc;
    auto* ps = icalcomponent_get_first_property(c, ICAL_DTSTART_PROPERTY);
    if (!ps) return fail(errc::malformed, "Failed to read the calendar '{}': event '{}' has no DTSTART", shown, e.uid);
    auto start = icalcomponent_get_dtstart(c);
    e.tzid = tzid_of(start, ps);
    if (!e.tzid.empty() && !start.zone) {
      // Not defined in the file: a zone known by that name (or its Windows or prefixed form).
      auto* z = zone_of(e.tzid);
      if (!z)
        return fail(errc::malformed, "Failed to read the calendar '{}': event '{}' names the time zone '{}', which is neither "
                                     "defined in it nor known", shown, e.uid, e.tzid);
      start = icaltime_set_timezone(&start, z);
    }
    // What weft writes names the zone by its IANA name, with that zone's VTIMEZONE.
    e.tzid = canonical_locked(e.tzid);
    e.all_day = icaltime_is_date(start);
    e.start = to_instant(start);
    auto end = icalcomponent_get_dtend(c);  // DTEND, or DTSTART + DURATION
    if (!end.zone && !icaltime_is_utc(end) && !icaltime_is_null_time(end) && start.zone) end = icaltime_set_timezone(&end, start.zone);
    e.end = icaltime_is_null_time(end) ? e.start + (e.all_day ? 86400 : 0) : to_instant(end);
    if (e.end < e.start) e.end = e.start;
    if (auto* rr = icalcomponent_get_first_property(c, ICAL_RRULE_PROPERTY)) {
      auto rule = icalproperty_get_rrule(rr);
      char* s = icalrecurrencetype_as_string_r(&rule);
      if (s) {
        e.rrule = s;
        icalmemory_free_buffer(s);
      }
    }
    for (auto* x = icalcomponent_get_first_property(c, ICAL_EXDATE_PROPERTY); x;
         x = icalcomponent_get_next_property(c, ICAL_EXDATE_PROPERTY)) {
      auto t = icalproperty_get_exdate(x);
      if (!t.zone && !icaltime_is_utc(t))
        if (auto* param = icalproperty_get_first_parameter(x, ICAL_TZID_PARAMETER))
          if (const char* tzid = icalparameter_get_tzid(param)) t = icaltime_set_timezone(&t, zone_of(tzid));
      e.exdates.push_back(to_instant(t));
    }
    if (icalcomponent_get_first_property(c, ICAL_RECURRENCEID_PROPERTY)) {
      auto rid = icalcomponent_get_recurrenceid(c);
      if (!rid.zone && !icaltime_is_utc(rid) && !e.tzid.empty()) rid = icaltime_set_timezone(&rid, zone_of(e.tzid));
      e.recurrence_id = to_instant(rid);
    }
    out.push_back(std::move(e));
  }
  return out;
}

namespace {

/// A copy of the VTIMEZONE of zone `tzid`, under that name: libical's own copies are named
/// "/freeassociation.sourceforge.net/<zone>", which the events' TZID parameters are not.
icalcomponent* vtimezone_named(const std::string& tzid) {
  auto* zone = zone_of(tzid);
  if (!zone) return nullptr;
  auto* vtz = icaltimezone_get_component(zone);
  if (!vtz) return nullptr;
  auto* copy = icalcomponent_new_clone(vtz);
  if (auto* p = icalcomponent_get_first_property(copy, ICAL_TZID_PROPERTY)) icalproperty_set_tzid(p, tzid.c_str());
  return copy;
}

/// A VEVENT of `e`, its times in its zone's wall clock.
icalcomponent* vevent_of(const event& e) {
  auto stamp = icaltime_from_timet_with_zone(std::time(nullptr), 0, icaltimezone_get_utc_timezone());
  auto* v = icalcomponent_new(ICAL_VEVENT_COMPONENT);
  icalcomponent_add_property(v, icalproperty_new_uid(e.uid.c_str()));
  icalcomponent_add_property(v, icalproperty_new_dtstamp(stamp));
  icalcomponent_add_property(v, time_property(icalproperty_new_dtstart, e.start, e.tzid, e.all_day));
  icalcomponent_add_property(v, time_property(icalproperty_new_dtend, e.end, e.tzid, e.all_day));
  if (!e.summary.empty()) icalcomponent_add_property(v, icalproperty_new_summary(e.summary.c_str()));
  if (!e.description.empty()) icalcomponent_add_property(v, icalproperty_new_description(e.description.c_str()));
  if (!e.location.empty()) icalcomponent_add_property(v, icalproperty_new_location(e.location.c_str()));
  if (!e.rrule.empty()) icalcomponent_add_property(v, icalproperty_new_rrule(icalrecurrencetype_from_string(e.rrule.c_str())));
  for (auto x : e.exdates) icalcomponent_add_property(v, time_property(icalproperty_new_exdate, x, e.tzid, e.all_day));
  if (e.recurrence_id)
    icalcomponent_add_property(v, time_property(icalproperty_new_recurrenceid, *e.recurrence_id, e.tzid, e.all_day));
  return v;
}

}  // namespace

std::string to_ics(const std::vector<event>& events) {
  std::lock_guard<std::mutex> l(ical_mutex());
  init_once();
  component_ptr cal(icalcomponent_new(ICAL_VCALENDAR_COMPONENT), icalcomponent_free);
  icalcomponent_add_property(cal.get(), icalproperty_new_version("2.0"));
  icalcomponent_add_property(cal.get(), icalproperty_new_prodid("-//weft//tool-calendar//EN"));
  std::set<std::string> zones;
  for (auto& e : events)
    if (!e.tzid.empty() && e.tzid != "UTC") zones.insert(e.tzid);
  for (auto& z : zones)
    if (auto* vtz = vtimezone_named(z)) icalcomponent_add_component(cal.get(), vtz);
  for (auto& e : events) icalcomponent_add_component(cal.get(), vevent_of(e));
  char* s = icalcomponent_as_ical_string_r(cal.get());
  std::string out = s ? s : "";
  icalmemory_free_buffer(s);
  return out;
}

namespace {

/// The VCALENDAR of a parsed text (the root, or the first inside it).
icalcomponent* vcalendar_of(icalcomponent* root) {
  if (!root) return nullptr;
  return icalcomponent_isa(root) == ICAL_VCALENDAR_COMPONENT ? root
                                                             : icalcomponent_get_first_component(root, ICAL_VCALENDAR_COMPONENT);
}

std::string text_of(icalcomponent* c) {
  char* s = icalcomponent_as_ical_string_r(c);
  std::string out = s ? s : "";
  icalmemory_free_buffer(s);
  return out;
}

}  // namespace

result<std::string> add_to_ics(std::string_view text, const std::vector<event>& events) {
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) return to_ics(events);
  std::lock_guard<std::mutex> l(ical_mutex());
  init_once();
  std::string copy(text);
  component_ptr root(icalparser_parse_string(copy.c_str()), icalcomponent_free);
  auto* cal = vcalendar_of(root.get());
  if (!cal) return fail(errc::malformed, "it has no VCALENDAR");
  std::set<std::string> defined;
  for (auto* z = icalcomponent_get_first_component(cal, ICAL_VTIMEZONE_COMPONENT); z;
       z = icalcomponent_get_next_component(cal, ICAL_VTIMEZONE_COMPONENT))
    if (auto* p = icalcomponent_get_first_property(z, ICAL_TZID_PROPERTY))
      if (const char* id = icalproperty_get_tzid(p)) defined.insert(id);
  for (auto& e : events)
    if (!e.tzid.empty() && e.tzid != "UTC" && defined.insert(e.tzid).second)
      if (auto* vtz = vtimezone_named(e.tzid)) icalcomponent_add_component(cal, vtz);
  for (auto& e : events) icalcomponent_add_component(cal, vevent_of(e));
  return text_of(root.get());
}

result<std::string> remove_from_ics(std::string_view text, std::string_view uid) {
  std::lock_guard<std::mutex> l(ical_mutex());
  init_once();
  std::string copy(text);
  component_ptr root(icalparser_parse_string(copy.c_str()), icalcomponent_free);
  auto* cal = vcalendar_of(root.get());
  if (!cal) return fail(errc::malformed, "it has no VCALENDAR");
  std::vector<icalcomponent*> gone;
  for (auto* c = icalcomponent_get_first_component(cal, ICAL_VEVENT_COMPONENT); c;
       c = icalcomponent_get_next_component(cal, ICAL_VEVENT_COMPONENT))
    if (const char* u = icalcomponent_get_uid(c); u && uid == u) gone.push_back(c);
  if (gone.empty()) return fail(errc::not_found, "the calendar has no event '{}'", uid);
  for (auto* c : gone) {
    icalcomponent_remove_component(cal, c);
    icalcomponent_free(c);
  }
  return text_of(root.get());
}

namespace {

/// Sets a date-time property to `t`, written as it was: in its TZID's wall clock (the zone
/// `zone` resolved for it), in UTC, or as a date.
void set_time(icalproperty* p, instant t, const icaltimezone* zone, void (*set)(icalproperty*, icaltimetype)) {
  bool has_tzid = icalproperty_get_first_parameter(p, ICAL_TZID_PARAMETER) != nullptr;
  auto old = icalproperty_get_datetime_with_component(p, nullptr);
  bool date = icaltime_is_date(old);
  const icaltimezone* z = zone ? zone : icaltimezone_get_utc_timezone();
  auto v = icaltime_from_timet_with_zone(static_cast<time_t>(t), date ? 1 : 0, const_cast<icaltimezone*>(z));
  if (has_tzid || (!date && !icaltime_is_utc(old))) v.zone = nullptr;  // wall clock, as before
  if (!has_tzid && !date && icaltime_is_utc(old)) v = icaltime_convert_to_zone(v, icaltimezone_get_utc_timezone());
  set(p, v);
}

icalcomponent* master_of(icalcomponent* cal, std::string_view uid) {
  for (auto* c = icalcomponent_get_first_component(cal, ICAL_VEVENT_COMPONENT); c;
       c = icalcomponent_get_next_component(cal, ICAL_VEVENT_COMPONENT)) {
    const char* u = icalcomponent_get_uid(c);
    if (u && uid == u && !icalcomponent_get_first_property(c, ICAL_RECURRENCEID_PROPERTY)) return c;
  }
  return nullptr;
}

/// The DTSTART of `c` in its zone: the one libical found (a VTIMEZONE of the text, a zone it
/// has), else the one its TZID names the Windows way or behind a publisher's prefix.
icaltimetype start_of(icalcomponent* c) {
  auto s = icalcomponent_get_dtstart(c);
  if (!s.zone && !icaltime_is_utc(s) && !icaltime_is_date(s))
    if (auto* ps = icalcomponent_get_first_property(c, ICAL_DTSTART_PROPERTY))
      if (auto* param = icalproperty_get_first_parameter(ps, ICAL_TZID_PARAMETER))
        if (const char* id = icalparameter_get_tzid(param))
          if (auto* z = zone_of(id)) s = icaltime_set_timezone(&s, z);
  return s;
}

/// Where `c` ends (DTEND, or DTSTART + DURATION), read in `zone` when it names none; `start`
/// when it has neither.
instant end_of(icalcomponent* c, const icaltimezone* zone, instant start) {
  auto e = icalcomponent_get_dtend(c);
  if (icaltime_is_null_time(e)) return start;
  if (!e.zone && !icaltime_is_utc(e) && !icaltime_is_date(e) && zone) e = icaltime_set_timezone(&e, zone);
  return to_instant(e);
}

/// The override of series `uid` (entry `master`) for the occurrence its rule put at
/// `occurrence`; made when there is none: a copy of the series' entry without its rule, at
/// that occurrence and of the series' length, added to `cal`.
icalcomponent* override_at(icalcomponent* cal, icalcomponent* master, std::string_view uid, instant occurrence) {
  auto s0 = start_of(master);
  const icaltimezone* zone = s0.zone;
  for (auto* c = icalcomponent_get_first_component(cal, ICAL_VEVENT_COMPONENT); c;
       c = icalcomponent_get_next_component(cal, ICAL_VEVENT_COMPONENT)) {
    const char* u = icalcomponent_get_uid(c);
    if (!u || uid != u || !icalcomponent_get_first_property(c, ICAL_RECURRENCEID_PROPERTY)) continue;
    auto t = icalcomponent_get_recurrenceid(c);
    if (!t.zone && !icaltime_is_utc(t)) t = icaltime_set_timezone(&t, zone);
    if (to_instant(t) == occurrence) return c;
  }
  auto* ps = icalcomponent_get_first_property(master, ICAL_DTSTART_PROPERTY);
  instant length = end_of(master, zone, to_instant(s0)) - to_instant(s0);
  auto* over = icalcomponent_new_clone(master);
  for (auto kind : {ICAL_RRULE_PROPERTY, ICAL_RDATE_PROPERTY, ICAL_EXDATE_PROPERTY, ICAL_EXRULE_PROPERTY}) {
    while (auto* p = icalcomponent_get_first_property(over, kind)) {
      icalcomponent_remove_property(over, p);
      icalproperty_free(p);
    }
  }
  auto* rid = icalproperty_new_recurrenceid(icaltime_null_time());
  if (auto* tz = icalproperty_get_first_parameter(ps, ICAL_TZID_PARAMETER)) icalproperty_add_parameter(rid, icalparameter_new_clone(tz));
  if (icaltime_is_date(s0)) icalproperty_add_parameter(rid, icalparameter_new_value(ICAL_VALUE_DATE));
  icalcomponent_add_property(over, rid);
  // set_time reads the property's old value for its form: give it the start's.
  icalproperty_set_recurrenceid(rid, s0);
  set_time(rid, occurrence, zone, icalproperty_set_recurrenceid);
  set_time(icalcomponent_get_first_property(over, ICAL_DTSTART_PROPERTY), occurrence, zone, icalproperty_set_dtstart);
  if (auto* oe = icalcomponent_get_first_property(over, ICAL_DTEND_PROPERTY))
    set_time(oe, occurrence + length, zone, icalproperty_set_dtend);
  icalcomponent_add_component(cal, over);
  return over;
}

/// The text of property `kind` of `c`; nullopt when it has none.
std::optional<std::string> text_in(icalcomponent* c, icalproperty_kind kind) {
  auto* p = icalcomponent_get_first_property(c, kind);
  if (!p) return std::nullopt;
  const char* v = icalvalue_get_text(icalproperty_get_value(p));
  return std::string(v ? v : "");
}

/// Sets text property `kind` of `c` (its parameters kept), or with "" takes it out.
void set_text(icalcomponent* c, icalproperty_kind kind, const std::string& value) {
  if (value.empty()) {
    while (auto* p = icalcomponent_get_first_property(c, kind)) {
      icalcomponent_remove_property(c, p);
      icalproperty_free(p);
    }
    return;
  }
  auto* p = icalcomponent_get_first_property(c, kind);
  if (!p) {
    p = icalproperty_new(kind);
    icalcomponent_add_property(c, p);
  }
  icalproperty_set_value(p, icalvalue_new_text(value.c_str()));
}

/// Sets the end of `c`, which starts at `start` in `zone`: its DTEND as it is written, or its
/// DURATION, or a new DTEND written as its DTSTART is.
void set_end(icalcomponent* c, instant start, instant end, const icaltimezone* zone) {
  if (auto* pe = icalcomponent_get_first_property(c, ICAL_DTEND_PROPERTY)) {
    set_time(pe, end, zone, icalproperty_set_dtend);
    return;
  }
  if (auto* pd = icalcomponent_get_first_property(c, ICAL_DURATION_PROPERTY)) {
    icalproperty_set_duration(pd, icaldurationtype_from_int(static_cast<int>(end - start)));
    return;
  }
  auto* ps = icalcomponent_get_first_property(c, ICAL_DTSTART_PROPERTY);
  auto* pe = icalproperty_new_dtend(icalproperty_get_dtstart(ps));
  if (auto* tz = icalproperty_get_first_parameter(ps, ICAL_TZID_PARAMETER)) icalproperty_add_parameter(pe, icalparameter_new_clone(tz));
  if (icaltime_is_date(icalproperty_get_dtstart(ps))) icalproperty_add_parameter(pe, icalparameter_new_value(ICAL_VALUE_DATE));
  icalcomponent_add_property(c, pe);
  set_time(pe, end, zone, icalproperty_set_dtend);
}

/// The calendar of `text` (parsed into `root`), or what is wrong with it.
result<icalcomponent*> calendar_in(const std::string& text, component_ptr& root) {
  root.reset(icalparser_parse_string(text.c_str()));
  if (!root) return fail(errc::malformed, "the event's calendar data is not iCalendar text");
  auto* cal = vcalendar_of(root.get());
  if (!cal) return fail(errc::malformed, "the event's calendar data has no VCALENDAR");
  return cal;
}

}  // namespace

result<std::string> move_in_ics(std::string_view text, std::string_view uid, instant start, std::optional<instant> occurrence) {
  std::lock_guard<std::mutex> l(ical_mutex());
  init_once();
  std::string copy(text);
  component_ptr root(icalparser_parse_string(copy.c_str()), icalcomponent_free);
  if (!root) return fail(errc::malformed, "the event's calendar data is not iCalendar text");
  icalcomponent* cal = icalcomponent_isa(root.get()) == ICAL_VCALENDAR_COMPONENT
                           ? root.get()
                           : icalcomponent_get_first_component(root.get(), ICAL_VCALENDAR_COMPONENT);
  if (!cal) return fail(errc::malformed, "the event's calendar data has no VCALENDAR");
  auto* master = master_of(cal, uid);
  if (!master) return fail(errc::not_found, "no event '{}' to move", uid);
  auto s0 = start_of(master);
  const icaltimezone* zone = s0.zone;
  instant old_start = to_instant(s0);
  instant length = end_of(master, zone, old_start) - old_start;
  auto* ps = icalcomponent_get_first_property(master, ICAL_DTSTART_PROPERTY);
  auto* pe = icalcomponent_get_first_property(master, ICAL_DTEND_PROPERTY);
  if (!occurrence) {
    auto shift = start - old_start;
    set_time(ps, start, zone, icalproperty_set_dtstart);
    if (pe) set_time(pe, start + length, zone, icalproperty_set_dtend);
    for (auto* x = icalcomponent_get_first_property(master, ICAL_EXDATE_PROPERTY); x;
         x = icalcomponent_get_next_property(master, ICAL_EXDATE_PROPERTY)) {
      auto t = icalproperty_get_exdate(x);
      if (!t.zone && !icaltime_is_utc(t)) t = icaltime_set_timezone(&t, zone);
      set_time(x, to_instant(t) + shift, zone, icalproperty_set_exdate);
    }
    // The overrides name their occurrences by where the series put them: that moved too.
    for (auto* c = icalcomponent_get_first_component(cal, ICAL_VEVENT_COMPONENT); c;
         c = icalcomponent_get_next_component(cal, ICAL_VEVENT_COMPONENT)) {
      const char* u = icalcomponent_get_uid(c);
      auto* rid = icalcomponent_get_first_property(c, ICAL_RECURRENCEID_PROPERTY);
      if (!u || uid != u || !rid) continue;
      auto t = icalcomponent_get_recurrenceid(c);
      if (!t.zone && !icaltime_is_utc(t)) t = icaltime_set_timezone(&t, zone);
      set_time(rid, to_instant(t) + shift, zone, icalproperty_set_recurrenceid);
    }
  } else {
    auto* over = override_at(cal, master, uid, *occurrence);
    auto* os = icalcomponent_get_first_property(over, ICAL_DTSTART_PROPERTY);
    auto* oe = icalcomponent_get_first_property(over, ICAL_DTEND_PROPERTY);
    set_time(os, start, zone, icalproperty_set_dtstart);
    if (oe) set_time(oe, start + length, zone, icalproperty_set_dtend);
  }
  char* out = icalcomponent_as_ical_string_r(root.get());
  std::string result = out ? out : "";
  icalmemory_free_buffer(out);
  return result;
}

result<std::string> update_in_ics(std::string_view text, std::string_view uid, const event_changes& changes,
                                  std::optional<instant> occurrence) {
  std::lock_guard<std::mutex> l(ical_mutex());
  init_once();
  std::string copy(text);
  component_ptr root(nullptr, icalcomponent_free);
  auto cal = calendar_in(copy, root);
  if (!cal) return cal.take_error();
  auto* master = master_of(*cal, uid);
  if (!master) return fail(errc::not_found, "no event '{}' to update", uid);
  auto s0 = start_of(master);
  const icaltimezone* zone = s0.zone;
  instant old_start = to_instant(s0);
  instant old_length = end_of(master, zone, old_start) - old_start;
  auto* target = occurrence ? override_at(*cal, master, uid, *occurrence) : master;
  auto ts = start_of(target);
  const icaltimezone* target_zone = ts.zone ? ts.zone : zone;
  instant start = to_instant(ts);
  if (changes.end && *changes.end <= start)
    return fail(errc::invalid_argument, "event '{}' would end at {}, not after its start at {} (UTC seconds)", uid,
                *changes.end, start);
  // A DURATION holds an int of seconds: an event of more than 68 years is not one.
  if (changes.end && *changes.end - start > std::numeric_limits<int>::max())
    return fail(errc::invalid_argument, "event '{}' would last more than 68 years", uid);
  const std::pair<icalproperty_kind, const std::optional<std::string>*> texts[] = {
      {ICAL_SUMMARY_PROPERTY, &changes.summary}, {ICAL_LOCATION_PROPERTY, &changes.location},
      {ICAL_DESCRIPTION_PROPERTY, &changes.description}};
  if (!occurrence) {
    // The series' overrides that still had its old value (copies made when an occurrence was
    // moved) follow it; one given a value of its own keeps that.
    for (auto* c = icalcomponent_get_first_component(*cal, ICAL_VEVENT_COMPONENT); c;
         c = icalcomponent_get_next_component(*cal, ICAL_VEVENT_COMPONENT)) {
      const char* u = icalcomponent_get_uid(c);
      if (c == master || !u || uid != u || !icalcomponent_get_first_property(c, ICAL_RECURRENCEID_PROPERTY)) continue;
      for (auto [kind, value] : texts)
        if (*value && text_in(c, kind) == text_in(master, kind)) set_text(c, kind, **value);
      if (changes.end) {
        auto os = start_of(c);
        auto c_start = to_instant(os);
        if (end_of(c, os.zone ? os.zone : zone, c_start) - c_start == old_length)
          set_end(c, c_start, c_start + (*changes.end - old_start), os.zone ? os.zone : zone);
      }
    }
  }
  for (auto [kind, value] : texts)
    if (*value) set_text(target, kind, **value);
  if (changes.end) set_end(target, start, *changes.end, target_zone);
  return text_of(root.get());
}

std::vector<occurrence> expand(const std::vector<event>& events, instant from, instant to, std::size_t max) {
  std::lock_guard<std::mutex> l(ical_mutex());
  init_once();
  // Overrides by series and original start.
  std::map<std::pair<std::string, instant>, const event*> overrides;
  for (auto& e : events)
    if (e.recurrence_id) overrides[{e.uid, *e.recurrence_id}] = &e;
  std::vector<occurrence> out;
  auto add = [&](const event& e, instant s, instant en, bool recurring, std::optional<instant> original) {
    if (en <= from && !(en == s && s >= from && s < to)) return;
    if (s >= to) return;
    occurrence o{e.uid, e.summary, e.location, s, en, e.tzid, e.all_day, recurring, original, false};
    if (original && *original != s) o.moved = true;
    out.push_back(std::move(o));
  };
  for (auto& e : events) {
    if (e.recurrence_id) continue;  // placed where its series would have put it, below
    if (e.rrule.empty()) {
      add(e, e.start, e.end, false, std::nullopt);
      continue;
    }
    auto rule = icalrecurrencetype_from_string(e.rrule.c_str());
    if (rule.freq == ICAL_NO_RECURRENCE) {
      add(e, e.start, e.end, false, std::nullopt);
      continue;
    }
    auto length = e.end - e.start;
    auto* zone = zone_of(e.tzid);
    // The rule runs in the event's own zone: 10:00 Berlin stays 10:00 Berlin across DST.
    auto dtstart = local_time(e.start, e.tzid, e.all_day);
    std::unique_ptr<icalrecur_iterator, void (*)(icalrecur_iterator*)> it(icalrecur_iterator_new(rule, dtstart),
                                                                            icalrecur_iterator_free);
    if (!it) continue;
    std::set<instant> ex(e.exdates.begin(), e.exdates.end());
    std::size_t guard = 0, kept = 0;
    for (auto t = icalrecur_iterator_next(it.get()); !icaltime_is_null_time(t) && guard < 100000;
         t = icalrecur_iterator_next(it.get()), ++guard) {
      // The iterator's times are wall-clock times of the series' zone, whatever it tags them with.
      if (!icaltime_is_date(t)) t = icaltime_set_timezone(&t, zone);
      auto s = to_instant(t);
      if (s >= to) {
        // A moved occurrence may come back into the window from later: look a little further.
        if (s >= to + 366LL * 86400) break;
      }
      if (ex.count(s)) continue;
      if (auto o = overrides.find({e.uid, s}); o != overrides.end()) {
        add(*o->second, o->second->start, o->second->end, true, s);
        continue;
      }
      if (s < to) add(e, s, s + length, true, s);
      // Bounded memory whatever the window: a series adds at most `max` occurrences.
      if (s >= from && ++kept >= max) break;
    }
  }
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return std::tie(a.start, a.uid) < std::tie(b.start, b.uid); });
  if (out.size() > max) out.resize(max);
  return out;
}

std::vector<interval> free_slots(std::vector<interval> busy, instant from, instant to, std::int64_t min_seconds) {
  std::sort(busy.begin(), busy.end(), [](auto& a, auto& b) { return a.start < b.start; });
  std::vector<interval> out;
  instant cursor = from;
  for (auto& b : busy) {
    if (b.end <= cursor) continue;
    if (b.start >= to) break;
    if (b.start - cursor >= min_seconds) out.push_back({cursor, b.start});
    cursor = std::max(cursor, b.end);
  }
  if (to - cursor >= min_seconds) out.push_back({cursor, to});
  return out;
}

result<instant> parse_time(std::string_view text, std::string_view tzid) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  std::string t(text);
  std::string rest;
  int n = 0;
  if (std::sscanf(t.c_str(), "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3)
    return fail(errc::invalid_argument, "'{}' is not a date and time (2026-12-10T10:00, 2026-12-10)", text);
  rest = t.substr(static_cast<std::size_t>(n));
  if (!rest.empty() && (rest[0] == 'T' || rest[0] == ' ')) {
    int m = 0;
    if (std::sscanf(rest.c_str() + 1, "%2d:%2d%n", &h, &mi, &m) != 2)
      return fail(errc::invalid_argument, "'{}' is not a date and time (2026-12-10T10:00)", text);
    rest = rest.substr(static_cast<std::size_t>(m) + 1);
    if (!rest.empty() && rest[0] == ':') {
      int k = 0;
      if (std::sscanf(rest.c_str() + 1, "%2d%n", &s, &k) != 1) return fail(errc::invalid_argument, "'{}': bad seconds", text);
      rest = rest.substr(static_cast<std::size_t>(k) + 1);
    }
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
    return fail(errc::invalid_argument, "'{}' is not a valid date and time", text);
  std::lock_guard<std::mutex> l(ical_mutex());
  init_once();
  icaltimetype it = icaltime_null_time();
  it.year = y;
  it.month = mo;
  it.day = d;
  it.hour = h;
  it.minute = mi;
  it.second = s;
  if (rest == "Z") return static_cast<instant>(icaltime_as_timet_with_zone(it, icaltimezone_get_utc_timezone()));
  if (!rest.empty() && (rest[0] == '+' || rest[0] == '-')) {
    int oh = 0, om = 0;
    // +HH:MM or +HH only: "+0530" or trailing text is not guessed at.
    bool ok = (rest.size() == 6 && rest[3] == ':' && std::sscanf(rest.c_str() + 1, "%2d:%2d", &oh, &om) == 2) ||
              (rest.size() == 3 && std::sscanf(rest.c_str() + 1, "%2d", &oh) == 1);
    if (!ok || oh > 14 || om > 59) return fail(errc::invalid_argument, "'{}': the offset must be +HH:MM", text);
    auto utc = static_cast<instant>(icaltime_as_timet_with_zone(it, icaltimezone_get_utc_timezone()));
    return utc - (rest[0] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
  }
  if (!rest.empty()) return fail(errc::invalid_argument, "'{}': '{}' after the time is not understood", text, rest);
  auto* z = zone_of(tzid);
  if (!z) return fail(errc::invalid_argument, "'{}' is not a time zone libical knows (an IANA name: Europe/Berlin)", tzid);
  return static_cast<instant>(icaltime_as_timet_with_zone(it, z));
}

std::string format_time(instant t, std::string_view tzid) {
  std::lock_guard<std::mutex> l(ical_mutex());
  init_once();
  auto* z = zone_of(tzid);
  if (!z) z = icaltimezone_get_utc_timezone();
  auto lt = icaltime_from_timet_with_zone(static_cast<time_t>(t), 0, z);
  auto utc = static_cast<instant>(icaltime_as_timet_with_zone(lt, icaltimezone_get_utc_timezone()));
  auto offset = utc - t;  // local wall clock read as UTC, minus the instant: the zone's offset
  auto off = std::abs(offset);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}{:02}:{:02}", lt.year, lt.month, lt.day, lt.hour, lt.minute,
                     lt.second, offset < 0 ? '-' : '+', off / 3600, (off % 3600) / 60);
}

}  // namespace weft::tools::calendar
