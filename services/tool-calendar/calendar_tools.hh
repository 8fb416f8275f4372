#pragma once
/// The calendar tools (tool/calendar, one shared process): the accounts of
/// [tools.calendar.accounts] — CalDAV, Google Calendar, Microsoft Graph, local .ics files —
/// that list the calling agent (the caller as the bus authenticated it), their calendars and
/// events — expanded series, times in the agent's zone —, creating, moving and updating (a
/// whole series or one occurrence) and deleting events, free slots across calendars, and .ics export and
/// import.
#include <map>
#include <string>
#include <vector>

#include <weft/toolserver/tool.hh>

#include "services/tool-calendar/backend.hh"

namespace weft::tools::calendar {

struct account {
  std::string name;
  std::string kind = "caldav";      ///< caldav | google | graph | ics
  caldav_account dav;               ///< caldav
  std::string api;                  ///< google, graph: the API's base URL
  std::string oauth2_account;       ///< google, graph: the broker's account whose tokens it uses
  std::string path;                 ///< ics: a directory of .ics files, or one
  std::vector<std::string> agents;  ///< who may use it
};

struct calendar_settings {
  std::map<std::string, account> accounts;
  std::string timezone = "UTC";  ///< how times are shown and read when a call names none
  /// An access token of a broker account for an agent (google and graph accounts); `refused`: the
  /// token the API just refused. weft-tool-calendar asks `oauth2` over the bus.
  std::function<result<std::string>(const std::string& oauth2_account, const std::string& agent, const std::string& refused)>
      broker;
};

std::vector<tool_def> calendar_tools(calendar_settings s);

}  // namespace weft::tools::calendar
