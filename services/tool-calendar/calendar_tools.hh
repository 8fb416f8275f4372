#pragma once
/// The calendar tools (tool/calendar, one shared process): the CalDAV accounts of
/// [tools.calendar.accounts] that list the calling agent (the caller as the bus
/// authenticated it), their calendars and events — expanded series, times in the agent's
/// zone —, creating, moving (a whole series or one occurrence) and deleting events, free
/// slots across calendars, and .ics export and import.
#include <map>
#include <string>
#include <vector>

#include <weft/toolserver/tool.hh>

#include "services/tool-calendar/caldav.hh"

namespace weft::tools::calendar {

struct account {
  std::string name;
  caldav_account dav;
  std::vector<std::string> agents;  ///< who may use it
};

struct calendar_settings {
  std::map<std::string, account> accounts;
  std::string timezone = "UTC";  ///< how times are shown and read when a call names none
};

std::vector<tool_def> calendar_tools(calendar_settings s);

}  // namespace weft::tools::calendar
