// weft-tool-calendar — calendars for agents (docs/guides/calendar.md).
//
// Serves io.weft.Tool.v1 at tool/calendar, one process for every agent that lists the
// "calendar" family: the accounts of [tools.calendar.accounts] — CalDAV servers (their
// passwords are given to this process alone), Google Calendar and Microsoft Graph (access
// tokens from the OAuth2 broker, io.weft.Oauth.v1 at oauth2, for the agent that called),
// and local iCalendar files (this process's to read and write) —, each usable by the agents
// it lists: the caller as the bus authenticated it.
#include <curl/curl.h>
#include <libxml/parser.h>

#include <fmt/ranges.h>

#include <weft/service/config.hh>
#include <weft/service/startup.hh>
#include <weft/toolserver/broker_token.hh>
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
  calendar_update {calendar, uid, summary?, location?, description?, end?, occurrence?}
                                    changes those fields (at least one; end after the start),
                                    of a whole event or one occurrence; all else kept
  calendar_delete {calendar, uid}
  calendar_free {calendars, from, to, minutes?}      free slots across calendars
  calendar_export {calendar}, calendar_import {calendar, ics}   iCalendar text
Times are read and shown in [tools.calendar] timezone unless a call names one.

Accounts ([tools.calendar.accounts.<name>], agents = [...] who may use each):
  kind = "caldav"   url (the home collection), username, password = "${VAR}"
  kind = "google"   oauth2_account (a broker account), url (default https://www.googleapis.com/calendar/v3)
  kind = "graph"    oauth2_account (a Microsoft broker account), url (default https://graph.microsoft.com/v1.0);
                    rules Graph cannot express (hourly, BYHOUR, several days of the month, …) are refused
  kind = "ics"      path: a directory (each *.ics file one calendar, named by its stem) or one .ics file;
                    written whole through a temporary file; a damaged file is an error and left as it is

Example:
  [tools.calendar]
  timezone = "Europe/Berlin"
  [tools.calendar.accounts.office]
  kind = "graph"
  oauth2_account = "work"     # weftctl auth login microsoft --account work --scopes calendar
  agents = ["main"]
  [tools.calendar.accounts.local]
  kind = "ics"
  path = "/home/alice/calendars"
  agents = ["main"]

Environment:
  WEFT_CONFIG   the config file ([tools.calendar]); its password variables are given by weftd
  WEFT_BUS, WEFT_ADDRESS, WEFT_TOKEN_FD, WEFT_NOTIFY_FD, WEFT_LOG   set by weftd
)";
}  // namespace

int main(int argc, char** argv) {
  xmlInitParser();  // before the workers: its first use is not thread-safe in libxml2 2.9
  curl_global_init(CURL_GLOBAL_DEFAULT);  // likewise libcurl's (http::fetch on the workers)
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
      tools::calendar::account acc;
      acc.name = name;
      acc.kind = a.kind;
      acc.dav = {a.url, a.username, a.password};
      acc.api = a.url;
      acc.oauth2_account = a.oauth2_account;
      acc.path = a.path;
      acc.agents = a.agents;
      cs.accounts[name] = std::move(acc);
      if (a.kind == "google" || a.kind == "graph")
        s.log.info("calendar account '{}': {} at {} with the broker's account '{}', for {}", name,
                   a.kind == "google" ? "Google Calendar" : "Microsoft Graph", a.url, a.oauth2_account, fmt::join(a.agents, ", "));
      else if (a.kind == "ics")
        s.log.info("calendar account '{}': iCalendar files at {} for {}", name, a.path, fmt::join(a.agents, ", "));
      else
        s.log.info("calendar account '{}': CalDAV at {} for {}", name, a.url, fmt::join(a.agents, ", "));
    }
    // Google accounts: a token per call from the OAuth2 broker, for the agent that called.
    auto& rt = s.rt;
    cs.broker = [&rt](const std::string& account, const std::string& agent, const std::string& refused) {
      return tools::broker_token(rt, account, {"calendar"}, agent, refused);
    };
    return tools::calendar::calendar_tools(std::move(cs));
  });
}
