// The Google Calendar API v3 backend: access tokens from the OAuth2 broker per call; a 401
// asks the broker for a fresh one (the refused token named) and retries once.
#include <fmt/format.h>

#include <weft/http/request.hh>

#include <weft/toolserver/rest_api.hh>

#include "services/tool-calendar/backend.hh"

namespace weft::tools::calendar {

namespace {

/// A Google time object ({dateTime, timeZone} or {date}) → UTC seconds; all-day when a date.
result<instant> time_of(const json& t, bool* all_day) {
  if (!t.is_object()) return fail(errc::malformed, "an event without a time");
  if (auto dt = str(t, "dateTime"); !dt.empty()) {
    if (all_day) *all_day = false;
    return parse_time(dt, "UTC");
  }
  if (auto d = str(t, "date"); !d.empty()) {
    if (all_day) *all_day = true;
    return parse_time(d, "UTC");
  }
  return fail(errc::malformed, "an event time without dateTime or date");
}

json google_time(instant t, const std::string& tz) {
  return {{"dateTime", format_time(t, tz.empty() ? "UTC" : tz)}, {"timeZone", tz.empty() ? "UTC" : tz}};
}

class google_calendars final : public backend {
 public:
  google_calendars(std::string api, token_source tokens) : _api("Google Calendar", std::move(api), std::move(tokens)) {}

  result<json> call(const std::string& method, const std::string& path, const json* body) {
    return _api.call(method, path, body);
  }

  static std::string enc(const std::string& s) { return http::url_encode(s); }

  result<std::vector<calendar_ref>> calendars() override {
    auto j = call("GET", "/users/me/calendarList", nullptr);
    if (!j) return failed_to("list the calendars at", _api.base(), j.take_error());
    std::vector<calendar_ref> out;
    if (j->contains("items") && (*j)["items"].is_array())
      for (auto& c : (*j)["items"]) {
        auto id = str(c, "id");
        if (!id.empty()) out.push_back({id, id, str(c, "summary")});
      }
    return out;
  }

  result<std::vector<occurrence>> occurrences(const std::string& cal, instant from, instant to) override {
    auto path = fmt::format("/calendars/{}/events?singleEvents=true&orderBy=startTime&maxResults=2500&timeMin={}&timeMax={}",
                            enc(cal), enc(format_time(from, "UTC")), enc(format_time(to, "UTC")));
    auto j = call("GET", path, nullptr);
    if (!j) return failed_to("read the events of calendar", cal, j.take_error());
    std::vector<occurrence> out;
    if (!j->contains("items") || !(*j)["items"].is_array()) return out;
    for (auto& e : (*j)["items"]) {
      if (str(e, "status") == "cancelled") continue;
      occurrence o;
      auto series = str(e, "recurringEventId");
      o.uid = series.empty() ? str(e, "id") : series;
      o.summary = str(e, "summary");
      o.location = str(e, "location");
      auto s = time_of(e.value("start", json()), &o.all_day);
      auto en = time_of(e.value("end", json()), nullptr);
      if (!s || !en) continue;
      o.start = *s;
      o.end = *en;
      if (e.contains("start") && e["start"].is_object()) o.tzid = str(e["start"], "timeZone");
      o.recurring = !series.empty();
      if (e.contains("originalStartTime"))
        if (auto orig = time_of(e["originalStartTime"], nullptr)) {
          o.original_start = *orig;
          o.moved = *orig != o.start;
        }
      out.push_back(std::move(o));
    }
    return out;
  }

  result<std::string> create(const std::string& cal, event e) override {
    json body{{"summary", e.summary}, {"start", google_time(e.start, e.tzid)}, {"end", google_time(e.end, e.tzid)}};
    if (!e.location.empty()) body["location"] = e.location;
    if (!e.description.empty()) body["description"] = e.description;
    if (!e.rrule.empty()) body["recurrence"] = json::array({"RRULE:" + e.rrule});
    auto j = call("POST", fmt::format("/calendars/{}/events", enc(cal)), &body);
    if (!j) return failed_to("create an event in calendar", cal, j.take_error());
    auto id = str(*j, "id");
    if (id.empty()) return fail(errc::malformed, "Failed to create an event in calendar '{}': Google Calendar gave no id", cal);
    return id;
  }

  /// The instance of series `uid` that its rule started at `occ`.
  result<json> instance_at(const std::string& cal, const std::string& uid, instant occ, const std::string& tz) {
    auto inst = call("GET", fmt::format("/calendars/{}/events/{}/instances?timeMin={}&timeMax={}", enc(cal), enc(uid),
                                        enc(format_time(occ, "UTC")), enc(format_time(occ + 1, "UTC"))),
                     nullptr);
    if (!inst) return failed_to("read the occurrences of event", uid, inst.take_error());
    if (inst->contains("items") && (*inst)["items"].is_array())
      for (auto& i : (*inst)["items"]) {
        auto orig = time_of(i.value("originalStartTime", i.value("start", json())), nullptr);
        if (orig && *orig == occ && !str(i, "id").empty()) return i;
      }
    return fail(errc::invalid_argument, "event '{}' has no occurrence at {}", uid, format_time(occ, tz));
  }

  status move(const std::string& cal, const std::string& uid, instant start, std::optional<instant> occ,
              const std::string& tz, std::string* what) override {
    auto ev = call("GET", fmt::format("/calendars/{}/events/{}", enc(cal), enc(uid)), nullptr);
    if (!ev) return failed_to("read event", uid, ev.take_error());
    auto s = time_of(ev->value("start", json()), nullptr);
    auto en = time_of(ev->value("end", json()), nullptr);
    if (!s || !en) return fail(errc::malformed, "event '{}' has no times", uid);
    auto length = *en - *s;
    std::string target = uid;
    if (occ) {
      auto inst = instance_at(cal, uid, *occ, tz);
      if (!inst) return inst.take_error();
      target = str(*inst, "id");
    }
    json body{{"start", google_time(start, tz)}, {"end", google_time(start + length, tz)}};
    auto p = call("PATCH", fmt::format("/calendars/{}/events/{}", enc(cal), enc(target)), &body);
    if (!p) return failed_to("move event", uid, p.take_error());
    *what = occ ? fmt::format("moved the occurrence of {} to {}", format_time(*occ, tz), format_time(start, tz))
                : fmt::format("moved '{}' to {}", str(*ev, "summary"), format_time(start, tz));
    return {};
  }

  status update(const std::string& cal, const std::string& uid, const event_changes& changes, std::optional<instant> occ,
                const std::string& tz, std::string* what) override {
    auto ev = call("GET", fmt::format("/calendars/{}/events/{}", enc(cal), enc(uid)), nullptr);
    if (!ev) return failed_to("update event", uid, ev.take_error());
    bool all_day = false;
    auto s = time_of(ev->value("start", json()), &all_day);
    if (!s) return fail(errc::malformed, "Failed to update event '{}': it has no start", uid);
    std::string target = uid, summary = str(*ev, "summary");
    instant start = *s;
    if (occ) {
      if (!ev->contains("recurrence")) return fail(errc::invalid_argument, "Failed to update event '{}': it is not recurring", uid);
      auto inst = instance_at(cal, uid, *occ, tz);
      if (!inst) return inst.take_error();
      target = str(*inst, "id");
      summary = str(*inst, "summary");
      auto is = time_of(inst->value("start", json()), nullptr);
      if (!is) return fail(errc::malformed, "Failed to update event '{}': its occurrence has no start", uid);
      start = *is;
    }
    if (auto ok = end_after_start(uid, changes, start, tz); !ok) return ok;
    json body = json::object();
    if (changes.summary) body["summary"] = *changes.summary;
    if (changes.location) body["location"] = *changes.location;
    if (changes.description) body["description"] = *changes.description;
    // An all-day event ends on a date (the day after its last), read in the call's zone.
    if (changes.end) body["end"] = all_day ? json{{"date", format_time(*changes.end, tz).substr(0, 10)}} : google_time(*changes.end, tz);
    auto p = call("PATCH", fmt::format("/calendars/{}/events/{}", enc(cal), enc(target)), &body);
    if (!p) return failed_to("update event", uid, p.take_error());
    *what = updated_text(summary, changes, occ, tz);
    return {};
  }

  status remove(const std::string& cal, const std::string& uid) override {
    auto r = call("DELETE", fmt::format("/calendars/{}/events/{}", enc(cal), enc(uid)), nullptr);
    if (!r) return failed_to("delete event", uid, r.take_error());
    return {};
  }

  result<std::vector<event>> all_events(const std::string&) override {
    return fail(errc::unavailable, "exporting a Google calendar as .ics is not built (Google offers it in its settings)");
  }
  result<std::size_t> add_events(const std::string&, std::vector<event>) override {
    return fail(errc::unavailable, "importing .ics into a Google calendar is not built (calendar_create each event)");
  }

 private:
  rest_api _api;
};

}  // namespace

std::unique_ptr<backend> google_backend(std::string api, token_source tokens) {
  return std::make_unique<google_calendars>(std::move(api), std::move(tokens));
}

}  // namespace weft::tools::calendar
