// The CalDAV backend: collections of the home set, one resource per UID (its overrides in
// it), conditional writes.
#include <sodium.h>

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "services/tool-calendar/backend.hh"

namespace weft::tools::calendar {

std::string new_uid() {
  unsigned char b[12];
  randombytes_buf(b, sizeof b);
  std::string hex(sizeof b * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), b, sizeof b);
  hex.pop_back();
  return hex + "@weft";
}

result<std::string> move_event_in(std::string_view ics, std::string_view shown, const std::string& uid, instant start,
                                  std::optional<instant> occ, const std::string& tz, std::string* what) {
  auto ev = parse_ics(ics, shown);
  if (!ev) return ev.take_error();
  auto master = std::find_if(ev->begin(), ev->end(), [&](auto& e) { return e.uid == uid && !e.recurrence_id; });
  if (master == ev->end()) return fail(errc::invalid_argument, "event '{}' has no main entry to move", uid);
  if (occ) {
    if (master->rrule.empty()) return fail(errc::invalid_argument, "event '{}' is not recurring", uid);
    auto in_series = expand({*master}, *occ, *occ + 1);
    if (in_series.empty() || in_series[0].start != *occ)
      return fail(errc::invalid_argument, "event '{}' has no occurrence at {}", uid, format_time(*occ, tz));
    *what = fmt::format("moved the occurrence of {} to {}", format_time(*occ, tz), format_time(start, tz));
  } else {
    *what = fmt::format("moved '{}' to {}", master->summary, format_time(start, tz));
  }
  // Edited in place: attendees, alarms and whatever else the event holds are kept.
  return move_in_ics(ics, uid, start, occ);
}

status end_after_start(const std::string& uid, const event_changes& changes, instant start, const std::string& tz) {
  if (changes.end && *changes.end <= start)
    return fail(errc::invalid_argument, "Failed to update event '{}': it would end at {}, not after it starts at {}", uid,
                format_time(*changes.end, tz), format_time(start, tz));
  return {};
}

std::string updated_text(std::string_view summary, const event_changes& c, std::optional<instant> occ, const std::string& tz) {
  std::vector<std::string> parts;
  auto text = [&](const char* name, const std::optional<std::string>& v) {
    if (v) parts.push_back(v->empty() ? fmt::format("{} removed", name) : fmt::format("{} '{}'", name, *v));
  };
  text("summary", c.summary);
  text("location", c.location);
  if (c.description) parts.push_back(c.description->empty() ? "description removed" : "description");
  if (c.end) parts.push_back(fmt::format("end {}", format_time(*c.end, tz)));
  std::string list;
  for (auto& p : parts) list += (list.empty() ? "" : ", ") + p;
  if (occ) return fmt::format("updated the occurrence of {} of '{}': {}", format_time(*occ, tz), summary, list);
  return fmt::format("updated '{}': {}", summary, list);
}

result<std::string> update_event_in(std::string_view ics, std::string_view shown, const std::string& uid,
                                    const event_changes& changes, std::optional<instant> occ, const std::string& tz,
                                    std::string* what) {
  auto ev = parse_ics(ics, shown);
  if (!ev) return ev.take_error();
  auto master = std::find_if(ev->begin(), ev->end(), [&](auto& e) { return e.uid == uid && !e.recurrence_id; });
  if (master == ev->end()) return fail(errc::invalid_argument, "Failed to update event '{}': it has no main entry", uid);
  auto start = master->start;
  auto summary = master->summary;
  if (occ) {
    if (master->rrule.empty()) return fail(errc::invalid_argument, "Failed to update event '{}': it is not recurring", uid);
    auto in_series = expand({*master}, *occ, *occ + 1);
    if (in_series.empty() || in_series[0].start != *occ)
      return fail(errc::invalid_argument, "Failed to update event '{}': it has no occurrence at {}", uid, format_time(*occ, tz));
    start = *occ;
    // An occurrence edited or moved before: its override's start and summary.
    for (auto& e : *ev)
      if (e.uid == uid && e.recurrence_id == occ) start = e.start, summary = e.summary;
  }
  if (auto ok = end_after_start(uid, changes, start, tz); !ok) return ok.take_error();
  *what = updated_text(summary, changes, occ, tz);
  // Edited in place: attendees, alarms and whatever else the event holds are kept.
  return update_in_ics(ics, uid, changes, occ);
}

namespace {

/// A UID that can name a resource in a path: letters, digits and @ . _ - (no '/', '?', '#',
/// '%' or "..": a uid from the model never reaches another resource).
bool safe_name(std::string_view uid) {
  return !uid.empty() && uid.size() <= 200 && uid.find("..") == std::string_view::npos &&
         std::all_of(uid.begin(), uid.end(), [](unsigned char c) {
           return std::isalnum(c) || c == '@' || c == '.' || c == '_' || c == '-';
         });
}

class caldav_calendars final : public backend {
 public:
  explicit caldav_calendars(caldav_account a) : _dav(std::move(a)) {}

  result<std::vector<calendar_ref>> calendars() override {
    auto cals = _dav.calendars();
    if (!cals) return cals.take_error();
    std::vector<calendar_ref> out;
    for (auto& c : *cals) {
      auto path = c.href;
      while (!path.empty() && path.back() == '/') path.pop_back();
      out.push_back({path + "/", path.substr(path.rfind('/') + 1), c.name});
    }
    return out;
  }

  result<std::vector<event>> events_of(const std::string& cal, instant from, instant to) {
    auto res = _dav.events(cal, from, to);
    if (!res) return res.take_error();
    std::vector<event> all;
    for (auto& r : *res) {
      auto ev = parse_ics(r.ics, r.href);
      if (!ev) return ev.take_error();
      all.insert(all.end(), ev->begin(), ev->end());
    }
    return all;
  }

  result<std::vector<occurrence>> occurrences(const std::string& cal, instant from, instant to) override {
    auto all = events_of(cal, from, to);
    if (!all) return all.take_error();
    return expand(*all, from, to);
  }

  result<std::string> create(const std::string& cal, event e) override {
    e.uid = new_uid();
    auto put = _dav.put(cal + e.uid + ".ics", to_ics({e}), std::nullopt);
    if (!put) return put.take_error();
    return e.uid;
  }

  /// The resource holding event `uid`, by its usual name, else by search; one that does not
  /// hold it is not taken for it.
  result<resource> find(const std::string& cal, const std::string& uid) {
    if (!safe_name(uid)) return fail(errc::invalid_argument, "'{}' is not an event uid", uid.substr(0, 100));
    if (auto direct = _dav.get(cal + uid + ".ics")) {
      auto ev = parse_ics(direct->ics, direct->href);
      if (ev && std::any_of(ev->begin(), ev->end(), [&](auto& e) { return e.uid == uid; })) return direct;
    }
    auto all = _dav.events(cal, 0, 4102444800);  // 1970 … 2100
    if (!all) return all.take_error();
    for (auto& r : *all) {
      auto ev = parse_ics(r.ics, r.href);
      if (ev && std::any_of(ev->begin(), ev->end(), [&](auto& e) { return e.uid == uid; })) return r;
    }
    return fail(errc::not_found, "the calendar has no event '{}'", uid);
  }

  status move(const std::string& cal, const std::string& uid, instant start, std::optional<instant> occ,
              const std::string& tz, std::string* what) override {
    auto r = find(cal, uid);
    if (!r) return r.take_error();
    auto text = move_event_in(r->ics, r->href, uid, start, occ, tz, what);
    if (!text) return text.take_error();
    auto put = _dav.put(r->href, *text, r->etag);
    if (!put) return put.take_error();
    return {};
  }

  status update(const std::string& cal, const std::string& uid, const event_changes& changes, std::optional<instant> occ,
                const std::string& tz, std::string* what) override {
    auto r = find(cal, uid);
    if (!r) return r.take_error();
    auto text = update_event_in(r->ics, r->href, uid, changes, occ, tz, what);
    if (!text) return text.take_error();
    auto put = _dav.put(r->href, *text, r->etag);
    if (!put) return put.take_error();
    return {};
  }

  status remove(const std::string& cal, const std::string& uid) override {
    auto r = find(cal, uid);
    if (!r) return r.take_error();
    return _dav.remove(r->href, r->etag);
  }

  result<std::vector<event>> all_events(const std::string& cal) override { return events_of(cal, 0, 4102444800); }

  result<std::size_t> add_events(const std::string& cal, std::vector<event> events) override {
    // One resource per UID, its overrides with it.
    std::map<std::string, std::vector<event>> by_uid;
    for (auto& e : events) by_uid[e.uid.empty() ? new_uid() : e.uid].push_back(e);
    for (auto& [uid, group] : by_uid) {
      for (auto& e : group) e.uid = uid;
      // The resource is named by the UID when it makes a safe path, else by a new name.
      auto put = _dav.put(cal + (safe_name(uid) ? uid : new_uid()) + ".ics", to_ics(group), std::nullopt);
      if (!put) return put.take_error();
    }
    return by_uid.size();
  }

 private:
  caldav _dav;
};

}  // namespace

std::unique_ptr<backend> caldav_backend(caldav_account a) { return std::make_unique<caldav_calendars>(std::move(a)); }

}  // namespace weft::tools::calendar
