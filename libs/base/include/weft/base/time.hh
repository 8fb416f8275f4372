#pragma once
/// One representation of time everywhere: UTC nanoseconds since the Unix epoch.
/// On the wire a msgpack timestamp; in text RFC 3339 with milliseconds and `Z`.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include <weft/base/result.hh>

namespace weft {

using utc_time = std::chrono::time_point<std::chrono::system_clock, std::chrono::nanoseconds>;

/// The current wall-clock time in UTC.
utc_time utc_now();

/// "2026-11-24T07:20:31.123Z" — always UTC, always milliseconds.
std::string to_rfc3339(utc_time t);

/// Parses RFC 3339 ("…Z" or "…+02:00", fraction optional) into UTC.
result<utc_time> parse_rfc3339(std::string_view text);

/// Monotonic clock for deadlines and latency measurements.
using mono_clock = std::chrono::steady_clock;

}  // namespace weft
