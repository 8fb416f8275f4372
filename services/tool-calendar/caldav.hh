#pragma once
/// A CalDAV client (RFC 4791) for one account: the calendars of its home collection
/// (PROPFIND), the events of a calendar in a time range (REPORT calendar-query), and whole
/// resources written (PUT, If-Match / If-None-Match) and removed (DELETE). Blocking, for the
/// tool's worker threads; XML read with libxml2.
#include <optional>
#include <string>
#include <vector>

#include <weft/base/result.hh>

#include "services/tool-calendar/ical.hh"

namespace weft::tools::calendar {

struct caldav_account {
  std::string url;  ///< the home collection: https://dav.example/alice/ (trailing '/')
  std::string username, password;
};

struct calendar_info {
  std::string href, name;  ///< href: the collection's path
};

struct resource {
  std::string href, etag, ics;
};

/// The responses of a WebDAV multistatus body: href, and the properties we read.
struct dav_response {
  std::string href, etag, displayname, calendar_data;
  bool calendar = false;  ///< resourcetype has C:calendar
  int status = 200;       ///< of the propstat that had the properties
};
result<std::vector<dav_response>> parse_multistatus(std::string_view xml);

class caldav {
 public:
  explicit caldav(caldav_account a) : _a(std::move(a)) {}

  result<std::vector<calendar_info>> calendars() const;
  result<std::vector<resource>> events(const std::string& calendar_href, instant from, instant to) const;
  result<resource> get(const std::string& href) const;
  /// Writes `ics` at `href`: a new resource (`if_match` nullopt: refused if one is there), or
  /// replaces the one whose etag is `*if_match` (changed by someone else since: refused, 412;
  /// "": a server that gave no etag, replaced unconditionally). The new etag, if sent.
  result<std::string> put(const std::string& href, const std::string& ics, const std::optional<std::string>& if_match) const;
  status remove(const std::string& href, const std::string& etag) const;

  /// The absolute URL of a server path.
  std::string url_of(const std::string& href) const;

 private:
  caldav_account _a;
};

}  // namespace weft::tools::calendar
