// libFuzzer target: what weft-tool-calendar reads from calendar servers and models
// (services/tool-calendar ical.cc, caldav.cc): iCalendar text parsed, expanded, moved and updated
// in place and written back; a WebDAV multistatus answer; a time as a call gives it. Any bytes: no
// crash, bounded output.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "services/tool-calendar/caldav.hh"
#include "services/tool-calendar/ical.hh"

namespace cal = weft::tools::calendar;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  constexpr cal::instant from = 1796000000, to = from + 90LL * 86400;
  if (auto ev = cal::parse_ics(in, "fuzz")) {
    auto occ = cal::expand(*ev, from, to, 100);
    if (occ.size() > 100) std::abort();
    (void)cal::to_ics(*ev);
    if (!ev->empty()) {
      auto& e = ev->front();
      (void)cal::move_in_ics(in, e.uid, e.start + 3600, std::nullopt);
      (void)cal::move_in_ics(in, e.uid, e.start + 3600, e.start);
      cal::event_changes changes;
      changes.summary = "fuzzed summary";
      changes.location = "";
      changes.description = std::string(in.substr(0, 80));
      changes.end = e.start + 5400;
      (void)cal::update_in_ics(in, e.uid, changes, std::nullopt);
      (void)cal::update_in_ics(in, e.uid, changes, e.start);
      // An end at or before the start, and one far off: refused or written, never a crash.
      changes.end = e.start;
      (void)cal::update_in_ics(in, e.uid, changes, std::nullopt);
      changes.end = e.start + (1LL << 40);
      (void)cal::update_in_ics(in, e.uid, changes, std::nullopt);
    }
  }
  (void)cal::parse_multistatus(in);
  (void)cal::parse_time(in.substr(0, 64), "Europe/Berlin");
  (void)cal::valid_rrule(in.substr(0, 256));
  return 0;
}
