// weft-tool-calendar — calendars for agents (docs/guides/calendar.md).
//
// Serves io.weft.Tool.v1 at tool/calendar, one process for every agent that lists the
// "calendar" family: the CalDAV accounts of [tools.calendar.accounts] (their passwords are
// given to this process alone), each usable by the agents it lists — the caller as the bus
// authenticated it.
#include <fmt/ranges.h>

#include <weft/service/config.hh>
#include <weft/service/startup.hh>
#include <weft/toolserver/tool_main.hh>

#include "services/tool-calendar/calendar_tools.hh"

using namespace weft;

namespace {
constexpr const char* help = R"(usage: weft-tool-calendar [--help] [--version]
Calendars for agents, served on the weft bus (io.weft.Tool.v1) at tool/calendar:
  calendar_list                     the calendars the calling agent may use (account/calendar)
  calendar_events {calendar, from, to, timezone?}    recurring events expanded
  calendar_create {calendar, summary, start, end, rrule?, location?, timezone?}
  calendar_move {calendar, uid, start, occurrence?}  a whole event, or one occurrence
  calendar_delete {calendar, uid}
  calendar_free {calendars, from, to, minutes?}      free slots across calendars
  calendar_export {calendar}, calendar_import {calendar, ics}   iCalendar text
Times are read and shown in [tools.calendar] timezone unless a call names one.

Environment:
  WEFT_CONFIG   the config file ([tools.calendar]); its password variables are given by weftd
  WEFT_BUS, WEFT_ADDRESS, WEFT_TOKEN_FD, WEFT_NOTIFY_FD, WEFT_LOG   set by weftd
)";
}  // namespace

int main(int argc, char** argv) {
  tools::tool_main_options o{.program = "weft-tool-calendar",
                             .log_name = "tool-calendar",
                             .help = help,
                             .per_agent = false,
                             .server = {.family = "calendar", .workers = 4, .max_queued = 64}};
  return tools::tool_main(argc, argv, o, [](const tools::tool_setup& s) {
    tools::calendar::calendar_settings cs;
    auto cfg = service::load_service_config();
    if (!cfg) {
      s.log.error("Failed to read [tools.calendar]: {}; no calendar is usable", cfg.err().message);
      return tools::calendar::calendar_tools(cs);
    }
    cs.timezone = cfg->tools.calendar.timezone;
    if (!tools::calendar::known_zone(cs.timezone)) {
      s.log.warning("[tools.calendar] timezone '{}' is not a zone libical knows; using UTC", cs.timezone);
      cs.timezone = "UTC";
    }
    for (auto& [name, a] : cfg->tools.calendar.accounts) {
      cs.accounts[name] = {name, {a.url, a.username, a.password}, a.agents};
      s.log.info("calendar account '{}': CalDAV at {} for {}", name, a.url, fmt::join(a.agents, ", "));
    }
    return tools::calendar::calendar_tools(std::move(cs));
  });
}
