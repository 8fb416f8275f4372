#pragma once
/// Recurrence rules between iCalendar (RRULE) and Microsoft Graph (patternedRecurrence):
/// the subset Graph can express — daily, weekly on days, monthly and yearly on a day of the
/// month or an nth weekday, with a count, an end date or no end. Pure functions, for the
/// Graph backend and its tests.
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include <weft/base/result.hh>

#include "services/tool-calendar/ical.hh"

namespace weft::tools::calendar {

/// The patternedRecurrence of a series starting at `start` in zone `tz` ("" = UTC) with
/// rule `rrule`; errc::invalid_argument saying what Graph cannot express (hourly rules,
/// BYHOUR, several days of the month, a fifth weekday, …).
result<nlohmann::json> graph_recurrence(std::string_view rrule, instant start, const std::string& tz);

/// The RRULE of a patternedRecurrence (for export); errc::malformed for what is not one.
result<std::string> rrule_of(const nlohmann::json& recurrence, const std::string& tz);

}  // namespace weft::tools::calendar
