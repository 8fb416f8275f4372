#include "services/tool-calendar/calendar_tools.hh"

#include <sodium.h>

#include <algorithm>
#include <memory>

#include <fmt/format.h>

namespace weft::tools::calendar {

namespace {

tool::result done(std::string text, json structured) {
  tool::result r;
  r.content = std::move(text);
  r.structured = structured.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

result<tool::result> failed(const error& e) {
  if (e.domain == tool::interface_name) return e;
  return tool::result{e.message, true, false};
}

/// The agent a call comes from: agent/<id> (or agent/<id>/mcp, weft's MCP server acting as it).
std::string agent_of(const std::string& caller) {
  if (caller.rfind("agent/", 0) != 0) return "";
  auto id = caller.substr(6);
  return id.substr(0, id.find('/'));
}

struct ctx_t {
  const calendar_settings& s;
  std::string agent;
  std::string tz;
};

result<ctx_t> context_of(const calendar_settings& s, const json& args, const call_context& c) {
  ctx_t x{s, agent_of(c.caller), s.timezone};
  if (x.agent.empty())
    return tool::make(tool::error_code::denied, "Failed to use the calendars: '{}' is not an agent", c.caller);
  auto tz = optional_string_arg(args, "timezone");
  if (!tz) return tz.take_error();
  if (*tz) x.tz = **tz;
  if (!known_zone(x.tz)) return tool::make(tool::error_code::bad_arguments, "'{}' is not a time zone (an IANA name: Europe/Berlin)", x.tz);
  return x;
}

const account* account_for(const ctx_t& x, const std::string& name) {
  auto it = x.s.accounts.find(name);
  if (it == x.s.accounts.end()) return nullptr;
  auto& a = it->second.agents;
  return std::find(a.begin(), a.end(), x.agent) != a.end() ? &it->second : nullptr;
}

/// "account/calendar" → the account and the calendar's href.
struct target {
  const account* acc;
  std::string href, name;
};

result<target> calendar_of(const ctx_t& x, const std::string& id) {
  auto slash = id.find('/');
  if (slash == std::string::npos)
    return tool::make(tool::error_code::bad_arguments, "'{}' is not a calendar: name one as account/calendar (see calendar_list)", id);
  auto* acc = account_for(x, id.substr(0, slash));
  if (!acc)
    return tool::make(tool::error_code::denied, "agent '{}' has no calendar account '{}' ([tools.calendar.accounts.{}] agents)",
                      x.agent, id.substr(0, slash), id.substr(0, slash));
  auto want = id.substr(slash + 1);
  caldav dav(acc->dav);
  auto cals = dav.calendars();
  if (!cals) return cals.take_error();
  for (auto& c : *cals) {
    auto path = c.href;
    while (!path.empty() && path.back() == '/') path.pop_back();
    auto seg = path.substr(path.rfind('/') + 1);
    if (seg == want || c.name == want) return target{acc, c.href.back() == '/' ? c.href : c.href + "/", seg};
  }
  return tool::make(tool::error_code::bad_arguments, "account '{}' has no calendar '{}' (see calendar_list)", acc->name, want);
}

result<instant> time_arg(const json& args, const char* key, const std::string& tz) {
  auto v = string_arg(args, key);
  if (!v) return v.take_error();
  auto t = parse_time(*v, tz);
  if (!t) return tool::make(tool::error_code::bad_arguments, "argument '{}': {}", key, t.err().message);
  return *t;
}

json occurrence_json(const occurrence& o, const std::string& tz, const std::string& calendar) {
  json j{{"calendar", calendar}, {"uid", o.uid}, {"summary", o.summary}, {"start", format_time(o.start, tz)},
         {"end", format_time(o.end, tz)}, {"all_day", o.all_day}, {"recurring", o.recurring}};
  if (!o.location.empty()) j["location"] = o.location;
  if (o.original_start) j["occurrence"] = format_time(*o.original_start, tz);
  if (o.moved) j["moved"] = true;
  return j;
}

/// The resource holding event `uid` in the calendar, found by its usual name, else by search.
result<resource> find_event(const caldav& dav, const target& t, const std::string& uid) {
  auto direct = dav.get(t.href + uid + ".ics");
  if (direct) return direct;
  auto all = dav.events(t.href, 0, 4102444800);  // 1970 … 2100
  if (!all) return all.take_error();
  for (auto& r : *all) {
    auto ev = parse_ics(r.ics, r.href);
    if (ev && std::any_of(ev->begin(), ev->end(), [&](auto& e) { return e.uid == uid; })) return r;
  }
  return tool::make(tool::error_code::bad_arguments, "calendar '{}' has no event '{}'", t.name, uid);
}

std::string new_uid() {
  unsigned char b[12];
  randombytes_buf(b, sizeof b);
  std::string hex(sizeof b * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), b, sizeof b);
  hex.pop_back();
  return hex + "@weft";
}

// --- the tools ---------------------------------------------------------------------------

result<tool::result> list(const calendar_settings& s, const json& args, const call_context& c) {
  auto x = context_of(s, args, c);
  if (!x) return x.take_error();
  std::string text;
  json arr = json::array();
  for (auto& [name, acc] : s.accounts) {
    if (!account_for(*x, name)) continue;
    auto cals = caldav(acc.dav).calendars();
    if (!cals) {
      text += fmt::format("{}: {}\n", name, cals.err().message);
      continue;
    }
    for (auto& cal : *cals) {
      auto path = cal.href;
      while (!path.empty() && path.back() == '/') path.pop_back();
      auto id = name + "/" + path.substr(path.rfind('/') + 1);
      text += fmt::format("{}  ({})\n", id, cal.name);
      arr.push_back({{"calendar", id}, {"name", cal.name}});
    }
  }
  if (arr.empty() && text.empty()) text = fmt::format("agent '{}' has no calendar account ([tools.calendar.accounts])\n", x->agent);
  return done(std::move(text), {{"calendars", std::move(arr)}, {"timezone", x->tz}});
}

result<tool::result> events(const calendar_settings& s, const json& args, const call_context& c) {
  auto x = context_of(s, args, c);
  if (!x) return x.take_error();
  auto id = string_arg(args, "calendar");
  if (!id) return id.take_error();
  auto from = time_arg(args, "from", x->tz);
  if (!from) return from.take_error();
  auto to = time_arg(args, "to", x->tz);
  if (!to) return to.take_error();
  auto t = calendar_of(*x, *id);
  if (!t) return failed(t.err());
  auto res = caldav(t->acc->dav).events(t->href, *from, *to);
  if (!res) return failed(res.err());
  std::vector<event> all;
  for (auto& r : *res) {
    auto ev = parse_ics(r.ics, r.href);
    if (!ev) return failed(ev.err());
    all.insert(all.end(), ev->begin(), ev->end());
  }
  auto occ = expand(all, *from, *to);
  std::string text = fmt::format("{} event{} in {} ({} to {}, {})\n", occ.size(), occ.size() == 1 ? "" : "s", *id,
                                 format_time(*from, x->tz), format_time(*to, x->tz), x->tz);
  json arr = json::array();
  for (auto& o : occ) {
    text += fmt::format("{} – {}  {}{}{}\n", format_time(o.start, x->tz), format_time(o.end, x->tz), o.summary,
                        o.recurring ? " (recurring)" : "", o.moved ? " (moved)" : "");
    arr.push_back(occurrence_json(o, x->tz, *id));
  }
  return done(std::move(text), {{"events", std::move(arr)}, {"timezone", x->tz}});
}

result<tool::result> create(const calendar_settings& s, const json& args, const call_context& c) {
  auto x = context_of(s, args, c);
  if (!x) return x.take_error();
  auto id = string_arg(args, "calendar");
  if (!id) return id.take_error();
  auto summary = string_arg(args, "summary");
  if (!summary) return summary.take_error();
  auto start = time_arg(args, "start", x->tz);
  if (!start) return start.take_error();
  auto end = time_arg(args, "end", x->tz);
  if (!end) return end.take_error();
  if (*end < *start) return tool::make(tool::error_code::bad_arguments, "the event ends before it starts");
  auto rrule = optional_string_arg(args, "rrule");
  if (!rrule) return rrule.take_error();
  auto location = optional_string_arg(args, "location");
  if (!location) return location.take_error();
  auto t = calendar_of(*x, *id);
  if (!t) return failed(t.err());
  event e;
  e.uid = new_uid();
  e.summary = *summary;
  e.start = *start;
  e.end = *end;
  e.tzid = x->tz == "UTC" ? "" : x->tz;
  e.rrule = rrule->value_or("");
  e.location = location->value_or("");
  auto put = caldav(t->acc->dav).put(t->href + e.uid + ".ics", to_ics({e}), "");
  if (!put) return failed(put.err());
  return done(fmt::format("created '{}' in {} at {}{}\n", e.summary, *id, format_time(e.start, x->tz),
                          e.rrule.empty() ? "" : " (" + e.rrule + ")"),
              {{"uid", e.uid}, {"calendar", *id}, {"start", format_time(e.start, x->tz)}, {"end", format_time(e.end, x->tz)}});
}

result<tool::result> move(const calendar_settings& s, const json& args, const call_context& c) {
  auto x = context_of(s, args, c);
  if (!x) return x.take_error();
  auto id = string_arg(args, "calendar");
  if (!id) return id.take_error();
  auto uid = string_arg(args, "uid");
  if (!uid) return uid.take_error();
  auto start = time_arg(args, "start", x->tz);
  if (!start) return start.take_error();
  auto occ = optional_string_arg(args, "occurrence");
  if (!occ) return occ.take_error();
  auto t = calendar_of(*x, *id);
  if (!t) return failed(t.err());
  caldav dav(t->acc->dav);
  auto r = find_event(dav, *t, *uid);
  if (!r) return failed(r.err());
  auto ev = parse_ics(r->ics, r->href);
  if (!ev) return failed(ev.err());
  auto master = std::find_if(ev->begin(), ev->end(), [&](auto& e) { return e.uid == *uid && !e.recurrence_id; });
  if (master == ev->end()) return tool::make(tool::error_code::bad_arguments, "event '{}' has no main entry to move", *uid);
  std::string what;
  if (*occ) {
    // One occurrence of a series: an override with RECURRENCE-ID at its original start.
    auto original = parse_time(**occ, x->tz);
    if (!original) return tool::make(tool::error_code::bad_arguments, "argument 'occurrence': {}", original.err().message);
    if (master->rrule.empty()) return tool::make(tool::error_code::bad_arguments, "event '{}' is not recurring", *uid);
    auto in_series = expand({*master}, *original, *original + 1);
    if (in_series.empty() || in_series[0].start != *original)
      return tool::make(tool::error_code::bad_arguments, "event '{}' has no occurrence at {}", *uid, **occ);
    auto length = master->end - master->start;
    std::erase_if(*ev, [&](auto& e) { return e.recurrence_id && *e.recurrence_id == *original; });
    event o = *master;
    o.rrule.clear();
    o.exdates.clear();
    o.recurrence_id = *original;
    o.start = *start;
    o.end = *start + length;
    ev->push_back(o);
    what = fmt::format("moved the occurrence of {} to {}", format_time(*original, x->tz), format_time(*start, x->tz));
  } else {
    auto length = master->end - master->start;
    auto shift = *start - master->start;
    master->start = *start;
    master->end = *start + length;
    for (auto& xd : master->exdates) xd += shift;
    what = fmt::format("moved '{}' to {}", master->summary, format_time(*start, x->tz));
  }
  auto put = dav.put(r->href, to_ics(*ev), r->etag);
  if (!put) return failed(put.err());
  return done(what + "\n", {{"uid", *uid}, {"calendar", *id}});
}

result<tool::result> remove(const calendar_settings& s, const json& args, const call_context& c) {
  auto x = context_of(s, args, c);
  if (!x) return x.take_error();
  auto id = string_arg(args, "calendar");
  if (!id) return id.take_error();
  auto uid = string_arg(args, "uid");
  if (!uid) return uid.take_error();
  auto t = calendar_of(*x, *id);
  if (!t) return failed(t.err());
  caldav dav(t->acc->dav);
  auto r = find_event(dav, *t, *uid);
  if (!r) return failed(r.err());
  if (auto d = dav.remove(r->href, r->etag); !d) return failed(d.err());
  return done(fmt::format("deleted '{}' from {}\n", *uid, *id), {{"uid", *uid}, {"calendar", *id}});
}

result<tool::result> free(const calendar_settings& s, const json& args, const call_context& c) {
  auto x = context_of(s, args, c);
  if (!x) return x.take_error();
  auto from = time_arg(args, "from", x->tz);
  if (!from) return from.take_error();
  auto to = time_arg(args, "to", x->tz);
  if (!to) return to.take_error();
  auto minutes = optional_uint_arg(args, "minutes");
  if (!minutes) return minutes.take_error();
  if (!args.contains("calendars") || !args["calendars"].is_array() || args["calendars"].empty())
    return tool::make(tool::error_code::bad_arguments, "argument 'calendars' must list at least one calendar");
  std::vector<interval> busy;
  for (auto& cid : args["calendars"]) {
    if (!cid.is_string()) return tool::make(tool::error_code::bad_arguments, "argument 'calendars' must list names");
    auto t = calendar_of(*x, cid.get<std::string>());
    if (!t) return failed(t.err());
    auto res = caldav(t->acc->dav).events(t->href, *from, *to);
    if (!res) return failed(res.err());
    std::vector<event> all;
    for (auto& r : *res)
      if (auto ev = parse_ics(r.ics, r.href)) all.insert(all.end(), ev->begin(), ev->end());
    for (auto& o : expand(all, *from, *to)) busy.push_back({o.start, o.end});
  }
  auto need = static_cast<std::int64_t>(minutes->value_or(30)) * 60;
  auto slots = free_slots(busy, *from, *to, need);
  std::string text = fmt::format("{} free slot{} of at least {} minutes\n", slots.size(), slots.size() == 1 ? "" : "s", need / 60);
  json arr = json::array();
  for (auto& sl : slots) {
    text += fmt::format("{} – {}\n", format_time(sl.start, x->tz), format_time(sl.end, x->tz));
    arr.push_back({{"start", format_time(sl.start, x->tz)}, {"end", format_time(sl.end, x->tz)}});
  }
  return done(std::move(text), {{"slots", std::move(arr)}, {"timezone", x->tz}});
}

result<tool::result> export_ics(const calendar_settings& s, const json& args, const call_context& c) {
  auto x = context_of(s, args, c);
  if (!x) return x.take_error();
  auto id = string_arg(args, "calendar");
  if (!id) return id.take_error();
  auto t = calendar_of(*x, *id);
  if (!t) return failed(t.err());
  auto res = caldav(t->acc->dav).events(t->href, 0, 4102444800);
  if (!res) return failed(res.err());
  std::vector<event> all;
  for (auto& r : *res) {
    auto ev = parse_ics(r.ics, r.href);
    if (!ev) return failed(ev.err());
    all.insert(all.end(), ev->begin(), ev->end());
  }
  auto text = to_ics(all);
  return done(text, {{"calendar", *id}, {"events", all.size()}});
}

result<tool::result> import_ics(const calendar_settings& s, const json& args, const call_context& c) {
  auto x = context_of(s, args, c);
  if (!x) return x.take_error();
  auto id = string_arg(args, "calendar");
  if (!id) return id.take_error();
  auto ics = string_arg(args, "ics");
  if (!ics) return ics.take_error();
  auto ev = parse_ics(*ics, "the imported text");
  if (!ev) return tool::make(tool::error_code::bad_arguments, "{}", ev.err().message);
  auto t = calendar_of(*x, *id);
  if (!t) return failed(t.err());
  // One resource per UID, its overrides with it.
  std::map<std::string, std::vector<event>> by_uid;
  for (auto& e : *ev) by_uid[e.uid.empty() ? new_uid() : e.uid].push_back(e);
  caldav dav(t->acc->dav);
  std::size_t n = 0;
  for (auto& [uid, group] : by_uid) {
    for (auto& e : group) e.uid = uid;
    auto put = dav.put(t->href + uid + ".ics", to_ics(group), "");
    if (!put) return failed(put.err());
    ++n;
  }
  return done(fmt::format("imported {} event{} into {}\n", n, n == 1 ? "" : "s", *id), {{"calendar", *id}, {"imported", n}});
}

}  // namespace

std::vector<tool_def> calendar_tools(calendar_settings settings) {
  auto s = std::make_shared<const calendar_settings>(std::move(settings));
  auto bind = [s](auto fn) { return [s, fn](const json& a, const call_context& c) { return fn(*s, a, c); }; };
  constexpr std::string_view tz = R"J("timezone":{"type":"string","description":"IANA zone for times read and shown (default: [tools.calendar] timezone)"})J";
  auto schema = [&](std::string_view props, std::string_view required) {
    return fmt::format(R"({{"type":"object","properties":{{{}{}{}}},"required":[{}]}})", tz, props.empty() ? "" : ",", props,
                       required);
  };
  constexpr std::string_view cal = R"("calendar":{"type":"string","description":"account/calendar, as calendar_list names it"})";
  std::vector<tool_def> out;
  out.push_back({{"calendar_list", "The calendars this agent may use (account/calendar).", schema("", ""), ""}, bind(list)});
  out.push_back({{"calendar_events", "Events of a calendar between two times, recurring ones expanded, in the agent's time zone.",
                  schema(fmt::format(R"({},"from":{{"type":"string"}},"to":{{"type":"string"}})", cal), R"("calendar","from","to")"), ""},
                 bind(events)});
  out.push_back({{"calendar_create", "Create an event (optionally recurring: an RRULE such as FREQ=WEEKLY;COUNT=10).",
                  schema(fmt::format(R"({},"summary":{{"type":"string"}},"start":{{"type":"string"}},"end":{{"type":"string"}},"rrule":{{"type":"string"}},"location":{{"type":"string"}})", cal),
                         R"("calendar","summary","start","end")"), ""},
                 bind(create)});
  out.push_back({{"calendar_move", "Move an event to a new start (keeping its length), or with occurrence only that one occurrence of a series.",
                  schema(fmt::format(R"({},"uid":{{"type":"string"}},"start":{{"type":"string"}},"occurrence":{{"type":"string","description":"the original start of the one occurrence to move"}})", cal),
                         R"("calendar","uid","start")"), ""},
                 bind(move)});
  out.push_back({{"calendar_delete", "Delete an event (a whole series).",
                  schema(fmt::format(R"({},"uid":{{"type":"string"}})", cal), R"("calendar","uid")"), ""},
                 bind(remove)});
  out.push_back({{"calendar_free", "Free slots of at least N minutes between two times across calendars.",
                  schema(R"("calendars":{"type":"array","items":{"type":"string"}},"from":{"type":"string"},"to":{"type":"string"},"minutes":{"type":"integer","minimum":1})",
                         R"("calendars","from","to")"), ""},
                 bind(free)});
  out.push_back({{"calendar_export", "A calendar's events as iCalendar (.ics) text.", schema(std::string(cal), R"("calendar")"), ""}, bind(export_ics)});
  out.push_back({{"calendar_import", "Add the events of iCalendar (.ics) text to a calendar.",
                  schema(fmt::format(R"({},"ics":{{"type":"string"}})", cal), R"("calendar","ics")"), ""},
                 bind(import_ics)});
  return out;
}

}  // namespace weft::tools::calendar
