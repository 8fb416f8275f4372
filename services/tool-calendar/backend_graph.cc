// The Microsoft Graph backend (Outlook / Microsoft 365 calendars, REST v1.0): access tokens
// from the OAuth2 broker per call (libs/toolserver rest_api: a 401 refreshes once and retries). Graph expands
// series itself (calendarView, instances); every read asks for times in UTC
// (Prefer: outlook.timezone="UTC") and follows @odata.nextLink pages. Rules are sent as
// Graph's patternedRecurrence, converted from the RRULE subset it can express.
#include <algorithm>
#include <array>
#include <chrono>
#include <map>
#include <set>

#include <fmt/format.h>

#include <weft/http/request.hh>

#include "services/tool-calendar/graph.hh"
#include <weft/toolserver/rest_api.hh>

#include "services/tool-calendar/backend.hh"

namespace weft::tools::calendar {

namespace {

constexpr std::array<std::pair<std::string_view, std::string_view>, 7> days = {
    std::pair{"SU", "sunday"}, std::pair{"MO", "monday"},   std::pair{"TU", "tuesday"}, std::pair{"WE", "wednesday"},
    std::pair{"TH", "thursday"}, std::pair{"FR", "friday"}, std::pair{"SA", "saturday"}};
constexpr std::array<std::pair<int, std::string_view>, 5> indexes = {
    std::pair{1, "first"}, std::pair{2, "second"}, std::pair{3, "third"}, std::pair{4, "fourth"}, std::pair{-1, "last"}};

/// A local date "YYYY-MM-DD" of `t` in `tz`, its weekday (0 = Sunday), day and month.
struct local_date {
  std::string text;
  int weekday = 0, day = 1, month = 1;
};

local_date date_of(instant t, const std::string& tz) {
  auto s = format_time(t, tz.empty() ? "UTC" : tz);
  local_date d;
  d.text = s.substr(0, 10);
  int y = std::stoi(s.substr(0, 4));
  d.month = std::stoi(s.substr(5, 2));
  d.day = std::stoi(s.substr(8, 2));
  std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{static_cast<unsigned>(d.month)},
                                  std::chrono::day{static_cast<unsigned>(d.day)}};
  d.weekday = static_cast<int>(std::chrono::weekday{std::chrono::sys_days{ymd}}.c_encoding());
  return d;
}

std::string day_name(std::string_view ical) {
  for (auto [k, v] : days)
    if (k == ical) return std::string(v);
  return "";
}

std::string ical_day(std::string_view graph) {
  for (auto [k, v] : days)
    if (v == graph) return std::string(k);
  return "";
}

bool all_digits(std::string_view s) {
  return !s.empty() && s.size() <= 4 && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

/// "2026-10-29T09:00:00.0000000" (and "…Z", "…+01:00") in `tz` → UTC seconds.
result<instant> graph_instant(std::string text, const std::string& tz) {
  if (auto dot = text.find('.'); dot != std::string::npos) {
    auto end = dot + 1;
    while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
    text.erase(dot, end - dot);  // fractional seconds
  }
  return parse_time(text, tz);
}

/// A Graph time object {dateTime, timeZone} → UTC seconds; an all-day one as its date's
/// midnight UTC, as iCalendar dates are read.
result<instant> time_of(const json& t, bool all_day) {
  auto dt = str(t, "dateTime");
  if (dt.empty()) return fail(errc::malformed, "an event time without dateTime");
  if (all_day) return parse_time(dt.substr(0, 10), "UTC");
  auto tz = str(t, "timeZone");
  if (tz.empty() || tz == "UTC" || tz == "Etc/GMT") tz = "UTC";
  if (!known_zone(tz)) return fail(errc::malformed, "a time in zone '{}', which is no IANA name (UTC was asked for)", tz);
  return graph_instant(dt, tz);
}

json graph_time(instant t, const std::string& tz, bool all_day) {
  auto z = tz.empty() || all_day ? std::string("UTC") : tz;
  return {{"dateTime", format_time(t, z).substr(0, 19)}, {"timeZone", z}};
}

std::string utc(instant t) { return format_time(t, "UTC").substr(0, 19) + "Z"; }

/// The zone a Graph event's rule runs in, when it names one libical knows.
std::string zone_of_event(const json& e) {
  if (e.contains("recurrence") && e["recurrence"].is_object() && e["recurrence"].contains("range"))
    if (auto z = str(e["recurrence"]["range"], "recurrenceTimeZone"); !z.empty() && known_zone(z)) return canonical_zone(z);
  // Graph names zones the Windows way ("W. Europe Standard Time"): known by their IANA names.
  if (auto z = str(e, "originalStartTimeZone"); !z.empty() && known_zone(z)) return canonical_zone(z);
  return "";
}

}  // namespace

result<json> graph_recurrence(std::string_view rrule, instant start, const std::string& tz) {
  auto refuse = [&](std::string_view why) {
    return fail(errc::invalid_argument, "Microsoft Graph cannot express the rule '{}': {}", rrule, why);
  };
  std::map<std::string, std::string> part;
  std::size_t at = 0;
  while (at <= rrule.size()) {
    auto end = rrule.find(';', at);
    auto item = rrule.substr(at, end == std::string_view::npos ? std::string_view::npos : end - at);
    if (!item.empty()) {
      auto eq = item.find('=');
      if (eq == std::string_view::npos) return refuse(fmt::format("'{}' is not NAME=value", item));
      part[std::string(item.substr(0, eq))] = std::string(item.substr(eq + 1));
    }
    if (end == std::string_view::npos) break;
    at = end + 1;
  }
  for (auto& [k, v] : part)
    if (k != "FREQ" && k != "INTERVAL" && k != "COUNT" && k != "UNTIL" && k != "BYDAY" && k != "BYMONTHDAY" &&
        k != "BYMONTH" && k != "BYSETPOS" && k != "WKST")
      return refuse(fmt::format("it has no {} (its rules repeat daily, weekly, monthly or yearly on days)", k));
  auto d = date_of(start, tz);
  auto freq = part["FREQ"];
  int interval = 1;
  if (part.count("INTERVAL")) {
    if (!all_digits(part["INTERVAL"]) || std::stoi(part["INTERVAL"]) < 1) return refuse("INTERVAL must be a number");
    interval = std::stoi(part["INTERVAL"]);
  }
  // BYDAY: days, each with an optional ordinal (2TU, -1FR).
  std::vector<std::string> byday;
  std::set<int> ordinals;
  if (part.count("BYDAY")) {
    std::string_view list = part["BYDAY"];
    std::size_t p = 0;
    while (p <= list.size()) {
      auto comma = list.find(',', p);
      auto item = list.substr(p, comma == std::string_view::npos ? std::string_view::npos : comma - p);
      if (item.size() < 2) return refuse(fmt::format("'{}' is not a day", item));
      auto name = day_name(item.substr(item.size() - 2));
      if (name.empty()) return refuse(fmt::format("'{}' is not a day", item));
      auto ord = item.substr(0, item.size() - 2);
      if (!ord.empty()) {
        bool neg = ord[0] == '-';
        auto digits = ord.substr(ord[0] == '-' || ord[0] == '+' ? 1 : 0);
        if (!all_digits(digits)) return refuse(fmt::format("'{}' is not a day", item));
        ordinals.insert((neg ? -1 : 1) * std::stoi(std::string(digits)));
      } else {
        ordinals.insert(0);
      }
      byday.push_back(name);
      if (comma == std::string_view::npos) break;
      p = comma + 1;
    }
  }
  if (part.count("BYSETPOS")) {
    // BYDAY=TU;BYSETPOS=2: the second Tuesday, as 2TU.
    if (!all_digits(part["BYSETPOS"].substr(part["BYSETPOS"][0] == '-' ? 1 : 0)) || ordinals != std::set<int>{0})
      return refuse("BYSETPOS only as one position of plain days (BYDAY=TU;BYSETPOS=2)");
    ordinals = {std::stoi(part["BYSETPOS"])};
  }
  int month_day = d.day;
  if (part.count("BYMONTHDAY")) {
    auto& v = part["BYMONTHDAY"];
    if (!all_digits(v) || std::stoi(v) < 1 || std::stoi(v) > 31)
      return refuse("one day of the month at most, counted from its start (BYMONTHDAY=15)");
    month_day = std::stoi(v);
  }
  int month = d.month;
  if (part.count("BYMONTH")) {
    auto& v = part["BYMONTH"];
    if (!all_digits(v) || std::stoi(v) < 1 || std::stoi(v) > 12) return refuse("one month at most (BYMONTH=3)");
    month = std::stoi(v);
  }
  auto relative_index = [&]() -> std::string {
    if (ordinals.size() != 1) return "";
    for (auto [n, name] : indexes)
      if (n == *ordinals.begin()) return std::string(name);
    return "";
  };
  json pattern{{"interval", interval}};
  if (freq == "DAILY" || freq == "WEEKLY") {
    if (part.count("BYMONTHDAY") || part.count("BYMONTH") || part.count("BYSETPOS"))
      return refuse("a daily or weekly rule takes days of the week alone");
    if (ordinals.size() > 1 || (!ordinals.empty() && *ordinals.begin() != 0))
      return refuse("a weekly rule's days have no position (BYDAY=MO,WE)");
    if (freq == "DAILY" && byday.empty()) {
      pattern["type"] = "daily";
    } else {
      if (freq == "DAILY" && interval != 1) return refuse("every other day on some weekdays only");
      pattern["type"] = "weekly";
      if (byday.empty()) byday.push_back(std::string(days[static_cast<std::size_t>(d.weekday)].second));
      pattern["daysOfWeek"] = byday;
      auto wkst = part.count("WKST") ? day_name(part["WKST"]) : std::string("monday");
      if (wkst.empty()) return refuse(fmt::format("'{}' is not a day", part["WKST"]));
      pattern["firstDayOfWeek"] = wkst;
    }
  } else if (freq == "MONTHLY" || freq == "YEARLY") {
    if (freq == "MONTHLY" && part.count("BYMONTH")) return refuse("a monthly rule in some months only");
    if (byday.empty()) {
      pattern["type"] = freq == "MONTHLY" ? "absoluteMonthly" : "absoluteYearly";
      pattern["dayOfMonth"] = month_day;
    } else {
      auto index = relative_index();
      if (index.empty() || part.count("BYMONTHDAY"))
        return refuse("a monthly or yearly rule on weekdays takes one position of them: first to fourth, or last (2TU, -1FR)");
      pattern["type"] = freq == "MONTHLY" ? "relativeMonthly" : "relativeYearly";
      pattern["daysOfWeek"] = byday;
      pattern["index"] = index;
    }
    if (freq == "YEARLY") pattern["month"] = month;
  } else {
    return refuse(freq.empty() ? "it has no FREQ" : "it repeats daily, weekly, monthly or yearly, not " + freq);
  }
  json range{{"startDate", d.text}, {"recurrenceTimeZone", tz.empty() ? "UTC" : tz}};
  if (part.count("COUNT") && part.count("UNTIL")) return refuse("COUNT and UNTIL both");
  if (part.count("COUNT")) {
    if (!all_digits(part["COUNT"]) || std::stoi(part["COUNT"]) < 1) return refuse("COUNT must be a number");
    range["type"] = "numbered";
    range["numberOfOccurrences"] = std::stoi(part["COUNT"]);
  } else if (part.count("UNTIL")) {
    // 20261231 or 20261231T235959Z: the end date, in the series' zone.
    auto& u = part["UNTIL"];
    if (u.size() < 8 || !std::all_of(u.begin(), u.begin() + 8, [](unsigned char c) { return std::isdigit(c); }))
      return refuse("UNTIL must be a date");
    auto iso = fmt::format("{}-{}-{}", u.substr(0, 4), u.substr(4, 2), u.substr(6, 2));
    if (u.size() > 8) {
      auto t = parse_time(fmt::format("{}T{}:{}:{}{}", iso, u.substr(9, 2), u.substr(11, 2), u.substr(13, 2),
                                      u.back() == 'Z' ? "Z" : ""),
                          tz);
      if (!t) return refuse("UNTIL must be a date");
      iso = date_of(*t, tz).text;
    }
    range["type"] = "endDate";
    range["endDate"] = iso;
  } else {
    range["type"] = "noEnd";
  }
  return json{{"pattern", pattern}, {"range", range}};
}

result<std::string> rrule_of(const json& rec, const std::string& tz) {
  if (!rec.is_object() || !rec.contains("pattern") || !rec.contains("range"))
    return fail(errc::malformed, "a recurrence without pattern and range");
  auto& p = rec["pattern"];
  auto& r = rec["range"];
  auto type = str(p, "type");
  std::string out;
  auto days_of = [&]() {
    std::string s;
    if (p.contains("daysOfWeek") && p["daysOfWeek"].is_array())
      for (auto& d : p["daysOfWeek"])
        if (d.is_string()) s += (s.empty() ? "" : ",") + ical_day(d.get<std::string>());
    return s;
  };
  auto index = [&]() -> std::string {
    auto i = str(p, "index");
    for (auto [n, name] : indexes)
      if (name == (i.empty() ? "first" : i)) return std::to_string(n);
    return "1";
  };
  auto each_day = [&](const std::string& prefix) {
    std::string s;
    auto list = days_of();
    std::size_t at = 0;
    while (at < list.size()) {
      auto comma = list.find(',', at);
      s += (s.empty() ? "" : ",") + prefix + list.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
      if (comma == std::string::npos) break;
      at = comma + 1;
    }
    return s;
  };
  int interval = p.value("interval", 1);
  if (type == "daily") out = "FREQ=DAILY";
  else if (type == "weekly") {
    out = "FREQ=WEEKLY;BYDAY=" + days_of();
    if (auto w = ical_day(str(p, "firstDayOfWeek")); !w.empty()) out += ";WKST=" + w;
  } else if (type == "absoluteMonthly") out = fmt::format("FREQ=MONTHLY;BYMONTHDAY={}", p.value("dayOfMonth", 1));
  else if (type == "relativeMonthly") out = "FREQ=MONTHLY;BYDAY=" + each_day(index());
  else if (type == "absoluteYearly")
    out = fmt::format("FREQ=YEARLY;BYMONTH={};BYMONTHDAY={}", p.value("month", 1), p.value("dayOfMonth", 1));
  else if (type == "relativeYearly") out = fmt::format("FREQ=YEARLY;BYMONTH={};BYDAY={}", p.value("month", 1), each_day(index()));
  else return fail(errc::malformed, "a recurrence of type '{}'", type);
  if (interval > 1) out += fmt::format(";INTERVAL={}", interval);
  auto rtype = str(r, "type");
  if (rtype == "numbered") out += fmt::format(";COUNT={}", r.value("numberOfOccurrences", 1));
  else if (rtype == "endDate") {
    // The end date's last second in the series' zone, as UTC.
    auto end = parse_time(str(r, "endDate") + "T23:59:59", tz.empty() ? "UTC" : tz);
    if (!end) return fail(errc::malformed, "a recurrence ending '{}'", str(r, "endDate"));
    auto u = utc(*end);
    u.erase(std::remove(u.begin(), u.end(), '-'), u.end());
    u.erase(std::remove(u.begin(), u.end(), ':'), u.end());
    out += ";UNTIL=" + u;
  }
  return out;
}

namespace {

/// Pages of one listing at most (with $top=100: 5000 events), whatever the server's links say.
constexpr int max_pages = 50;
const std::vector<std::string> in_utc = {"Prefer: outlook.timezone=\"UTC\""};

class graph_calendars final : public backend {
 public:
  graph_calendars(std::string api, token_source tokens) : _api("Microsoft Graph", std::move(api), std::move(tokens)) {}

  static std::string enc(const std::string& s) { return http::url_encode(s); }

  /// Every item of a listing, its @odata.nextLink pages followed.
  result<std::vector<json>> all_pages(std::string path) {
    std::vector<json> out;
    for (int page = 0; !path.empty(); ++page) {
      if (page == max_pages) return fail(errc::io, "Microsoft Graph gave more than {} pages", max_pages);
      auto j = _api.call("GET", path, nullptr, in_utc);
      if (!j) return j.take_error();
      if (j->contains("value") && (*j)["value"].is_array())
        for (auto& v : (*j)["value"]) out.push_back(v);
      path = str(*j, "@odata.nextLink");
    }
    return out;
  }

  result<std::vector<calendar_ref>> calendars() override {
    auto all = all_pages("/me/calendars");
    if (!all) return failed_to("list the calendars at", _api.base(), all.take_error());
    std::vector<calendar_ref> out;
    for (auto& c : *all)
      if (auto id = str(c, "id"); !id.empty()) out.push_back({id, id, str(c, "name")});
    return out;
  }

  result<std::vector<occurrence>> occurrences(const std::string& cal, instant from, instant to) override {
    auto all = all_pages(fmt::format("/me/calendars/{}/calendarView?startDateTime={}&endDateTime={}&$top=100", enc(cal),
                                     enc(utc(from)), enc(utc(to))));
    if (!all) return failed_to("read the events of calendar", cal, all.take_error());
    std::vector<occurrence> out;
    for (auto& e : *all) {
      if (e.value("isCancelled", false)) continue;
      occurrence o;
      auto type = str(e, "type");
      auto series = str(e, "seriesMasterId");
      o.recurring = type == "occurrence" || type == "exception";
      o.uid = o.recurring && !series.empty() ? series : str(e, "id");
      o.summary = str(e, "subject");
      if (e.contains("location")) o.location = str(e["location"], "displayName");
      o.all_day = e.value("isAllDay", false);
      auto s = time_of(e.value("start", json()), o.all_day);
      auto en = time_of(e.value("end", json()), o.all_day);
      if (!s || !en) continue;
      o.start = *s;
      o.end = *en;
      o.tzid = zone_of_event(e);
      if (o.recurring)
        if (auto orig = str(e, "originalStart"); !orig.empty())
          if (auto t = graph_instant(orig, "UTC")) {
            o.original_start = *t;
            o.moved = *t != o.start;
          }
      out.push_back(std::move(o));
    }
    std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return std::tie(a.start, a.uid) < std::tie(b.start, b.uid); });
    return out;
  }

  json body_of(const event& e) {
    json body{{"subject", e.summary}, {"start", graph_time(e.start, e.tzid, e.all_day)},
              {"end", graph_time(e.end, e.tzid, e.all_day)}};
    if (e.all_day) body["isAllDay"] = true;
    if (!e.location.empty()) body["location"] = {{"displayName", e.location}};
    if (!e.description.empty()) body["body"] = {{"contentType", "text"}, {"content", e.description}};
    return body;
  }

  result<std::string> create(const std::string& cal, event e) override {
    auto body = body_of(e);
    if (!e.rrule.empty()) {
      auto rec = graph_recurrence(e.rrule, e.start, e.tzid);
      if (!rec) return failed_to("create an event in calendar", cal, rec.take_error());
      body["recurrence"] = std::move(*rec);
    }
    auto j = _api.call("POST", fmt::format("/me/calendars/{}/events", enc(cal)), &body);
    if (!j) return failed_to("create an event in calendar", cal, j.take_error());
    auto id = str(*j, "id");
    if (id.empty()) return fail(errc::malformed, "Failed to create an event in calendar '{}': Microsoft Graph gave no id", cal);
    return id;
  }

  /// The occurrence (or exception) of series `uid` that the rule put at `occ`.
  result<json> instance_at(const std::string& uid, instant occ, const std::string& tz) {
    auto all = all_pages(fmt::format("/me/events/{}/instances?startDateTime={}&endDateTime={}", enc(uid), enc(utc(occ)),
                                     enc(utc(occ + 1))));
    if (!all) return failed_to("read the occurrences of event", uid, all.take_error());
    for (auto& i : *all) {
      auto orig = str(i, "originalStart");
      auto t = orig.empty() ? time_of(i.value("start", json()), i.value("isAllDay", false)) : graph_instant(orig, "UTC");
      if (t && *t == occ) return i;
    }
    return fail(errc::invalid_argument, "event '{}' has no occurrence at {}", uid, format_time(occ, tz));
  }

  status move(const std::string&, const std::string& uid, instant start, std::optional<instant> occ, const std::string& tz,
              std::string* what) override {
    auto ev = _api.call("GET", fmt::format("/me/events/{}", enc(uid)), nullptr, in_utc);
    if (!ev) return failed_to("read event", uid, ev.take_error());
    bool all_day = ev->value("isAllDay", false);
    auto s = time_of(ev->value("start", json()), all_day);
    auto en = time_of(ev->value("end", json()), all_day);
    if (!s || !en) return fail(errc::malformed, "Failed to move event '{}': it has no times", uid);
    auto length = *en - *s;
    std::string target = uid;
    json body{{"start", graph_time(start, tz, all_day)}, {"end", graph_time(start + length, tz, all_day)}};
    if (occ) {
      if (str(*ev, "type") != "seriesMaster") return fail(errc::invalid_argument, "event '{}' is not recurring", uid);
      auto inst = instance_at(uid, *occ, tz);
      if (!inst) return inst.take_error();
      target = str(*inst, "id");
    } else if (ev->contains("recurrence") && (*ev)["recurrence"].is_object()) {
      // A series moved whole: its rule starts on the new date (and on its weekday).
      auto rec = (*ev)["recurrence"];
      auto rtz = zone_of_event(*ev);
      auto was = date_of(*s, rtz.empty() ? tz : rtz), now = date_of(start, rtz.empty() ? tz : rtz);
      if (was.text != now.text) {
        auto& p = rec["pattern"];
        auto type = str(p, "type");
        if (type == "weekly" && p.contains("daysOfWeek") && p["daysOfWeek"].is_array()) {
          int shift = (now.weekday - was.weekday + 7) % 7;
          for (auto& d : p["daysOfWeek"]) {
            auto it = std::find_if(days.begin(), days.end(), [&](auto& x) { return d.is_string() && x.second == d.get<std::string>(); });
            if (it != days.end()) d = std::string(days[static_cast<std::size_t>((it - days.begin() + shift) % 7)].second);
          }
        } else if (type == "absoluteMonthly" || type == "absoluteYearly") {
          p["dayOfMonth"] = now.day;
          if (type == "absoluteYearly") p["month"] = now.month;
        } else if (type != "daily") {
          return fail(errc::invalid_argument, "Failed to move event '{}': a series on the nth weekday of the month moves "
                                              "by its occurrences (or delete it and create it anew)", uid);
        }
        rec["range"]["startDate"] = now.text;
        body["recurrence"] = rec;
      }
    }
    auto p = _api.call("PATCH", fmt::format("/me/events/{}", enc(target)), &body);
    if (!p) return failed_to("move event", uid, p.take_error());
    *what = occ ? fmt::format("moved the occurrence of {} to {}", format_time(*occ, tz), format_time(start, tz))
                : fmt::format("moved '{}' to {}", str(*ev, "subject"), format_time(start, tz));
    return {};
  }

  status update(const std::string&, const std::string& uid, const event_changes& changes, std::optional<instant> occ,
                const std::string& tz, std::string* what) override {
    auto ev = _api.call("GET", fmt::format("/me/events/{}", enc(uid)), nullptr, in_utc);
    if (!ev) return failed_to("update event", uid, ev.take_error());
    bool all_day = ev->value("isAllDay", false);
    auto s = time_of(ev->value("start", json()), all_day);
    if (!s) return fail(errc::malformed, "Failed to update event '{}': it has no start", uid);
    std::string target = uid, summary = str(*ev, "subject");
    instant start = *s;
    if (occ) {
      if (str(*ev, "type") != "seriesMaster") return fail(errc::invalid_argument, "Failed to update event '{}': it is not recurring", uid);
      auto inst = instance_at(uid, *occ, tz);
      if (!inst) return inst.take_error();
      target = str(*inst, "id");
      summary = str(*inst, "subject");
      auto is = time_of(inst->value("start", json()), all_day);
      if (!is) return fail(errc::malformed, "Failed to update event '{}': its occurrence has no start", uid);
      start = *is;
    }
    if (auto ok = end_after_start(uid, changes, start, tz); !ok) return ok;
    json body = json::object();
    if (changes.summary) body["subject"] = *changes.summary;
    if (changes.location) body["location"] = {{"displayName", *changes.location}};
    if (changes.description) body["body"] = {{"contentType", "text"}, {"content", *changes.description}};
    if (changes.end) {
      // An all-day event ends at a midnight: the date the call's zone gives.
      auto end = *changes.end;
      if (all_day)
        if (auto day = parse_time(format_time(end, tz).substr(0, 10), "UTC")) end = *day;
      body["end"] = graph_time(end, tz, all_day);
    }
    auto p = _api.call("PATCH", fmt::format("/me/events/{}", enc(target)), &body);
    if (!p) return failed_to("update event", uid, p.take_error());
    *what = updated_text(summary, changes, occ, tz);
    return {};
  }

  status remove(const std::string&, const std::string& uid) override {
    auto r = _api.call("DELETE", fmt::format("/me/events/{}", enc(uid)), nullptr);
    if (!r) return failed_to("delete event", uid, r.take_error());
    return {};
  }

  /// A Graph event as an iCalendar one (its uid the iCalUId, so a copy elsewhere is the same event).
  result<event> event_of(const json& g) {
    event e;
    e.uid = str(g, "iCalUId");
    if (e.uid.empty()) e.uid = str(g, "id");
    e.summary = str(g, "subject");
    if (g.contains("location")) e.location = str(g["location"], "displayName");
    if (g.contains("body") && str(g["body"], "contentType") == "text") e.description = str(g["body"], "content");
    e.all_day = g.value("isAllDay", false);
    e.tzid = e.all_day ? "" : zone_of_event(g);
    auto s = time_of(g.value("start", json()), e.all_day);
    if (!s) return s.take_error();
    auto en = time_of(g.value("end", json()), e.all_day);
    if (!en) return en.take_error();
    e.start = *s;
    e.end = *en;
    if (g.contains("recurrence") && g["recurrence"].is_object()) {
      auto r = rrule_of(g["recurrence"], e.tzid);
      if (!r) return r.take_error();
      e.rrule = *r;
    }
    return e;
  }

  result<std::vector<event>> all_events(const std::string& cal) override {
    auto all = all_pages(fmt::format("/me/calendars/{}/events?$top=100", enc(cal)));
    if (!all) return failed_to("export calendar", cal, all.take_error());
    std::vector<event> out;
    for (auto& g : *all) {
      auto e = event_of(g);
      if (!e) return failed_to("export calendar", cal, e.take_error());
      auto master = out.size();
      out.push_back(*e);
      if (e->rrule.empty()) continue;
      // The series' moved occurrences (overrides) and deleted ones (EXDATEs): its instances,
      // held against what the rule alone gives, over its range (three years when it has no end).
      auto rule_end = e->start + 3 * 366LL * 86400;
      if (auto r = g["recurrence"].value("range", json()); str(r, "type") == "endDate")
        if (auto t = parse_time(str(r, "endDate"), "UTC")) rule_end = *t + 2 * 86400;
      auto inst = all_pages(fmt::format("/me/events/{}/instances?startDateTime={}&endDateTime={}&$top=100",
                                        enc(str(g, "id")), enc(utc(e->start - 86400)), enc(utc(rule_end))));
      if (!inst) return failed_to("export calendar", cal, inst.take_error());
      std::set<instant> present;
      for (auto& i : *inst) {
        auto orig = graph_instant(str(i, "originalStart"), "UTC");
        if (!orig) continue;
        present.insert(*orig);
        if (str(i, "type") != "exception") continue;
        auto over = event_of(i);
        if (!over) continue;
        over->uid = e->uid;
        over->rrule.clear();
        over->tzid = e->tzid;
        over->recurrence_id = *orig;
        out.push_back(*over);
      }
      for (auto& o : expand({*e}, e->start, rule_end))
        if (!present.count(o.start)) out[master].exdates.push_back(o.start);
    }
    return out;
  }

  result<std::size_t> add_events(const std::string& cal, std::vector<event> events) override {
    // By UID: the series (or lone event) first, then its overrides and EXDATEs on what Graph made of it.
    std::map<std::string, std::vector<event>> by_uid;
    for (auto& e : events) by_uid[e.uid].push_back(e);
    for (auto& [uid, group] : by_uid) {
      std::stable_partition(group.begin(), group.end(), [](auto& e) { return !e.recurrence_id; });
      std::string series;
      for (auto& e : group) {
        if (!e.recurrence_id || series.empty()) {
          auto id = create(cal, e);
          if (!id) return failed_to("import into calendar", cal, id.take_error());
          if (!e.recurrence_id && !e.rrule.empty()) series = *id;
          if (series.empty()) continue;
          for (auto x : e.exdates) {
            auto inst = instance_at(series, x, e.tzid);
            if (!inst) continue;  // the rule as Graph reads it has none there: nothing to take out
            auto d = _api.call("DELETE", fmt::format("/me/events/{}", enc(str(*inst, "id"))), nullptr);
            if (!d) return failed_to("import into calendar", cal, d.take_error());
          }
          continue;
        }
        auto inst = instance_at(series, *e.recurrence_id, e.tzid);
        if (!inst) return failed_to("import into calendar", cal, inst.take_error());
        auto body = body_of(e);
        auto p = _api.call("PATCH", fmt::format("/me/events/{}", enc(str(*inst, "id"))), &body);
        if (!p) return failed_to("import into calendar", cal, p.take_error());
      }
    }
    return by_uid.size();
  }

 private:
  rest_api _api;
};

}  // namespace

std::unique_ptr<backend> graph_backend(std::string api, token_source tokens) {
  return std::make_unique<graph_calendars>(std::move(api), std::move(tokens));
}

}  // namespace weft::tools::calendar
