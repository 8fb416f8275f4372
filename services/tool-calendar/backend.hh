#pragma once
/// Where an account's calendars live: a CalDAV server, Google Calendar's API or Microsoft
/// Graph (with access tokens from the OAuth2 broker), or local iCalendar files. The
/// calendar tools speak to each through this.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <weft/base/result.hh>

#include "services/tool-calendar/caldav.hh"
#include "services/tool-calendar/ical.hh"

namespace weft::tools::calendar {

struct calendar_ref {
  std::string id;    ///< the backend's: a CalDAV collection's path, a Google or Graph calendar id, a file's name
  std::string key;   ///< how a call names it after "account/": the path's last segment, the id, the file's stem
  std::string name;  ///< for people
};

class backend {
 public:
  virtual ~backend() = default;
  virtual result<std::vector<calendar_ref>> calendars() = 0;
  /// The occurrences in [from, to), series expanded.
  virtual result<std::vector<occurrence>> occurrences(const std::string& cal, instant from, instant to) = 0;
  /// Creates `e` (its uid is filled in); the uid.
  virtual result<std::string> create(const std::string& cal, event e) = 0;
  /// Moves an event (keeping its length), or with `occurrence` that one occurrence of a
  /// series. `what` says what was done.
  virtual status move(const std::string& cal, const std::string& uid, instant start, std::optional<instant> occurrence,
                      const std::string& tz, std::string* what) = 0;
  /// Changes the summary, location, description or end of an event (a whole series), or with
  /// `occurrence` of that one occurrence of a series; all else about it is kept. An end not
  /// after the start, an unknown event or occurrence: errc::invalid_argument or
  /// errc::not_found. `what` says what was done.
  virtual status update(const std::string& cal, const std::string& uid, const event_changes& changes,
                        std::optional<instant> occurrence, const std::string& tz, std::string* what) = 0;
  virtual status remove(const std::string& cal, const std::string& uid) = 0;
  /// All events as iCalendar data (export), and adding such (import).
  virtual result<std::vector<event>> all_events(const std::string& cal) = 0;
  virtual result<std::size_t> add_events(const std::string& cal, std::vector<event> events) = 0;
};

std::unique_ptr<backend> caldav_backend(caldav_account a);

/// An access token for the account; `refused`: the one the API just refused (refresh first).
using token_source = std::function<result<std::string>(const std::string& refused)>;
/// Google Calendar API v3 at `api` (https://www.googleapis.com/calendar/v3).
std::unique_ptr<backend> google_backend(std::string api, token_source tokens);

/// Microsoft Graph (v1.0) at `api` (https://graph.microsoft.com/v1.0).
std::unique_ptr<backend> graph_backend(std::string api, token_source tokens);

/// Local iCalendar files: `path` a directory (each *.ics file in it one calendar, named by
/// its stem) or one .ics file. Writes replace a file whole (a temporary file renamed over
/// it); a file that does not read as a whole calendar is an error and is not written.
std::unique_ptr<backend> ics_backend(std::string path);

/// A new event id ("…@weft").
std::string new_uid();

/// The VCALENDAR `ics` (read from `shown`) with event `uid` moved as backend::move says,
/// after checking it has that event (and, with `occurrence`, that occurrence); `what` says
/// what was done.
result<std::string> move_event_in(std::string_view ics, std::string_view shown, const std::string& uid, instant start,
                                  std::optional<instant> occurrence, const std::string& tz, std::string* what);

/// The VCALENDAR `ics` with event `uid` updated as backend::update says, after checking it has
/// that event (and occurrence) and that the new end is after its start.
result<std::string> update_event_in(std::string_view ics, std::string_view shown, const std::string& uid,
                                    const event_changes& changes, std::optional<instant> occurrence, const std::string& tz,
                                    std::string* what);

/// Every backend's check of an update's end: errc::invalid_argument when it is not after
/// `start`, the event's (or the occurrence's) start.
status end_after_start(const std::string& uid, const event_changes& changes, instant start, const std::string& tz);

/// What an update did, for the caller: "updated 'Dentist': location 'Main St', end …".
std::string updated_text(std::string_view summary, const event_changes& changes, std::optional<instant> occurrence,
                         const std::string& tz);

}  // namespace weft::tools::calendar
