#include "services/tool-calendar/calendar_tools.hh"

#include <algorithm>
#include <memory>

#include <fmt/format.h>

namespace weft::tools::calendar {

namespace {

struct ctx_t {
  const calendar_settings& s;
  std::string agent;
  std::string tz;
};

result<ctx_t> context_of(const calendar_settings& s, const json& args, const call_context& c) {
  ctx_t x{s, calling_agent(c.caller), s.timezone};
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

/// The backend of an account, for this call's agent.
std::unique_ptr<backend> backend_of(const ctx_t& x, const account& a) {
  if (a.kind == "google" || a.kind == "graph") {
    auto broker = x.s.broker;
    auto agent = x.agent;
    auto oauth = a.oauth2_account;
    token_source tokens = [broker, agent, oauth](const std::string& refused) -> result<std::string> {
      if (!broker) return fail(errc::unavailable, "no OAuth2 broker to ask for a token");
      return broker(oauth, agent, refused);
    };
    return a.kind == "google" ? google_backend(a.api, std::move(tokens)) : graph_backend(a.api, std::move(tokens));
  }
  if (a.kind == "ics") return ics_backend(a.path);
  return caldav_backend(a.dav);
}

/// "account/calendar" → the account's backend and the calendar's id.
struct target {
  std::unique_ptr<backend> be;
  std::string id, name;
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
  auto be = backend_of(x, *acc);
  auto cals = be->calendars();
  if (!cals) return cals.take_error();
  for (auto& c : *cals)
    if (c.key == want || c.name == want) return target{std::move(be), c.id, c.key};
  return tool::make(tool::error_code::bad_arguments, "account '{}' has no calendar '{}' (see calendar_list)", acc->name, want);
}

result<instant> time_arg(const json& args, const char* key, const std::string& tz) {
  auto v = string_arg(args, key);
  if (!v) return v.take_error();
  auto t = parse_time(*v, tz);
  if (!t) return tool::make(tool::error_code::bad_arguments, "argument '{}': {}", key, t.err().message);
  return *t;
}

/// The optional `occurrence` argument: the original start of one occurrence of a series.
result<std::optional<instant>> occurrence_arg(const json& args, const std::string& tz) {
  auto occ = optional_string_arg(args, "occurrence");
  if (!occ) return occ.take_error();
  if (!*occ) return std::optional<instant>{};
  auto o = parse_time(**occ, tz);
  if (!o) return tool::make(tool::error_code::bad_arguments, "argument 'occurrence': {}", o.err().message);
  return std::optional<instant>{*o};
}

json occurrence_json(const occurrence& o, const std::string& tz, const std::string& calendar) {
  json j{{"calendar", calendar}, {"uid", o.uid}, {"summary", o.summary}, {"start", format_time(o.start, tz)},
         {"end", format_time(o.end, tz)}, {"all_day", o.all_day}, {"recurring", o.recurring}};
  if (!o.location.empty()) j["location"] = o.location;
  if (o.original_start) j["occurrence"] = format_time(*o.original_start, tz);
  if (o.moved) j["moved"] = true;
  return j;
}

/// A backend's "no such event" or "no such occurrence" is the caller's mistake; the rest ran and failed.
result<tool::result> event_failed(const error& e) {
  if (e.is(errc::domain, errc::not_found) || e.is(errc::domain, errc::invalid_argument))
    return tool::make(tool::error_code::bad_arguments, "{}", e.message);
  return ran_and_failed(e);
}

// --- the tools ---------------------------------------------------------------------------

result<tool::result> list(const calendar_settings& s, const json& args, const call_context& c) {
  auto x = context_of(s, args, c);
  if (!x) return x.take_error();
  std::string text;
  json arr = json::array();
  for (auto& [name, acc] : s.accounts) {
    if (!account_for(*x, name)) continue;
    auto cals = backend_of(*x, acc)->calendars();
    if (!cals) {
      text += fmt::format("{}: {}\n", name, cals.err().message);
      continue;
    }
    for (auto& cal : *cals) {
      auto id = name + "/" + cal.key;
      text += fmt::format("{}  ({})\n", id, cal.name);
      arr.push_back({{"calendar", id}, {"name", cal.name}});
    }
  }
  if (arr.empty() && text.empty()) text = fmt::format("agent '{}' has no calendar account ([tools.calendar.accounts])\n", x->agent);
  return answer(std::move(text), {{"calendars", std::move(arr)}, {"timezone", x->tz}});
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
  if (!t) return ran_and_failed(t.err());
  auto got = t->be->occurrences(t->id, *from, *to);
  if (!got) return ran_and_failed(got.err());
  auto& occ = *got;
  std::string text = fmt::format("{} event{} in {} ({} to {}, {})\n", occ.size(), occ.size() == 1 ? "" : "s", *id,
                                 format_time(*from, x->tz), format_time(*to, x->tz), x->tz);
  json arr = json::array();
  for (auto& o : occ) {
    text += fmt::format("{} – {}  {}{}{} (uid {})\n", format_time(o.start, x->tz), format_time(o.end, x->tz), o.summary,
                        o.recurring ? ", recurring" : "", o.moved ? ", moved" : "", o.uid);
    arr.push_back(occurrence_json(o, x->tz, *id));
  }
  return answer(std::move(text), {{"events", std::move(arr)}, {"timezone", x->tz}});
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
  if (*rrule && !valid_rrule(**rrule))
    return tool::make(tool::error_code::bad_arguments, "'{}' is not a recurrence rule (e.g. FREQ=WEEKLY;COUNT=10)", **rrule);
  auto t = calendar_of(*x, *id);
  if (!t) return ran_and_failed(t.err());
  event e;
  e.summary = *summary;
  e.start = *start;
  e.end = *end;
  e.tzid = x->tz == "UTC" ? "" : x->tz;
  e.rrule = rrule->value_or("");
  e.location = location->value_or("");
  auto uid = t->be->create(t->id, e);
  if (!uid) return event_failed(uid.err());  // a rule the calendar cannot hold is the caller's to change
  e.uid = *uid;
  return answer(fmt::format("created '{}' in {} at {}{} (uid {})\n", e.summary, *id, format_time(e.start, x->tz),
                          e.rrule.empty() ? "" : ", " + e.rrule, e.uid),
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
  auto original = occurrence_arg(args, x->tz);
  if (!original) return original.take_error();
  auto t = calendar_of(*x, *id);
  if (!t) return ran_and_failed(t.err());
  std::string what;
  if (auto m = t->be->move(t->id, *uid, *start, *original, x->tz, &what); !m) return event_failed(m.err());
  return answer(what + "\n", {{"uid", *uid}, {"calendar", *id}});
}

result<tool::result> update(const calendar_settings& s, const json& args, const call_context& c) {
  auto x = context_of(s, args, c);
  if (!x) return x.take_error();
  auto id = string_arg(args, "calendar");
  if (!id) return id.take_error();
  auto uid = string_arg(args, "uid");
  if (!uid) return uid.take_error();
  event_changes changes;
  for (auto [key, field] : {std::pair{"summary", &changes.summary}, std::pair{"location", &changes.location},
                            std::pair{"description", &changes.description}}) {
    auto v = optional_string_arg(args, key);
    if (!v) return v.take_error();
    *field = std::move(*v);
  }
  if (args.contains("end")) {
    auto end = time_arg(args, "end", x->tz);
    if (!end) return end.take_error();
    changes.end = *end;
  }
  if (changes.empty())
    return tool::make(tool::error_code::bad_arguments,
                      "Failed to update event '{}': name at least one of summary, location, description, end", *uid);
  auto original = occurrence_arg(args, x->tz);
  if (!original) return original.take_error();
  auto t = calendar_of(*x, *id);
  if (!t) return ran_and_failed(t.err());
  std::string what;
  if (auto u = t->be->update(t->id, *uid, changes, *original, x->tz, &what); !u) return event_failed(u.err());
  return answer(what + "\n", {{"uid", *uid}, {"calendar", *id}});
}

result<tool::result> remove(const calendar_settings& s, const json& args, const call_context& c) {
  auto x = context_of(s, args, c);
  if (!x) return x.take_error();
  auto id = string_arg(args, "calendar");
  if (!id) return id.take_error();
  auto uid = string_arg(args, "uid");
  if (!uid) return uid.take_error();
  auto t = calendar_of(*x, *id);
  if (!t) return ran_and_failed(t.err());
  if (auto d = t->be->remove(t->id, *uid); !d) return event_failed(d.err());
  return answer(fmt::format("deleted '{}' from {}\n", *uid, *id), {{"uid", *uid}, {"calendar", *id}});
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
    if (!t) return ran_and_failed(t.err());
    auto occ = t->be->occurrences(t->id, *from, *to);
    if (!occ) return ran_and_failed(occ.err());
    for (auto& o : *occ) busy.push_back({o.start, o.end});
  }
  auto need = static_cast<std::int64_t>(minutes->value_or(30)) * 60;
  auto slots = free_slots(busy, *from, *to, need);
  std::string text = fmt::format("{} free slot{} of at least {} minutes\n", slots.size(), slots.size() == 1 ? "" : "s", need / 60);
  json arr = json::array();
  for (auto& sl : slots) {
    text += fmt::format("{} – {}\n", format_time(sl.start, x->tz), format_time(sl.end, x->tz));
    arr.push_back({{"start", format_time(sl.start, x->tz)}, {"end", format_time(sl.end, x->tz)}});
  }
  return answer(std::move(text), {{"slots", std::move(arr)}, {"timezone", x->tz}});
}

result<tool::result> export_ics(const calendar_settings& s, const json& args, const call_context& c) {
  auto x = context_of(s, args, c);
  if (!x) return x.take_error();
  auto id = string_arg(args, "calendar");
  if (!id) return id.take_error();
  auto t = calendar_of(*x, *id);
  if (!t) return ran_and_failed(t.err());
  auto all = t->be->all_events(t->id);
  if (!all) return ran_and_failed(all.err());
  auto text = to_ics(*all);
  return answer(text, {{"calendar", *id}, {"events", all->size()}});
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
  if (!t) return ran_and_failed(t.err());
  auto added = t->be->add_events(t->id, std::move(*ev));
  if (!added) return ran_and_failed(added.err());
  auto n = *added;
  return answer(fmt::format("imported {} event{} into {}\n", n, n == 1 ? "" : "s", *id), {{"calendar", *id}, {"imported", n}});
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
  out.push_back({{"calendar_update", "Change an event's summary, location, description or end (at least one), leaving the rest as "
                  "it is; with occurrence only that one occurrence of a series. An empty text removes that field.",
                  schema(fmt::format(R"J({},"uid":{{"type":"string"}},"summary":{{"type":"string"}},"location":{{"type":"string"}},"description":{{"type":"string"}},"end":{{"type":"string","description":"the new end, after the start (of a series: of its first occurrence)"}},"occurrence":{{"type":"string","description":"the original start of the one occurrence to change"}})J", cal),
                         R"("calendar","uid")"), ""},
                 bind(update)});
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
