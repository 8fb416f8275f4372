#include "services/tool-calendar/caldav.hh"

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <memory>

#include <fmt/format.h>

#include <weft/http/fetch.hh>

namespace weft::tools::calendar {

namespace {

constexpr const char* dav_ns = "DAV:";
constexpr const char* caldav_ns = "urn:ietf:params:xml:ns:caldav";

bool is(const xmlNode* n, const char* ns, const char* name) {
  return n && n->type == XML_ELEMENT_NODE && n->ns && n->ns->href && std::string_view(reinterpret_cast<const char*>(n->ns->href)) == ns &&
         std::string_view(reinterpret_cast<const char*>(n->name)) == name;
}

std::string text_of(const xmlNode* n) {
  std::unique_ptr<xmlChar, void (*)(void*)> t(xmlNodeGetContent(n), xmlFree);
  return t ? std::string(reinterpret_cast<const char*>(t.get())) : std::string();
}

std::string utc_stamp(instant t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return fmt::format("{:04}{:02}{:02}T{:02}{:02}{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec);
}

}  // namespace

result<std::vector<dav_response>> parse_multistatus(std::string_view xml) {
  if (xml.size() > (64u << 20)) return fail(errc::malformed, "a multistatus of {} bytes", xml.size());
  std::unique_ptr<xmlDoc, void (*)(xmlDoc*)> doc(
      xmlReadMemory(xml.data(), static_cast<int>(xml.size()), "multistatus.xml", nullptr,
                    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOBLANKS),
      xmlFreeDoc);
  if (!doc) return fail(errc::malformed, "the server's answer is not XML");
  auto* root = xmlDocGetRootElement(doc.get());
  if (!is(root, dav_ns, "multistatus")) return fail(errc::malformed, "the server's answer is not a DAV:multistatus");
  std::vector<dav_response> out;
  for (auto* r = root->children; r; r = r->next) {
    if (!is(r, dav_ns, "response")) continue;
    dav_response d;
    for (auto* c = r->children; c; c = c->next) {
      if (is(c, dav_ns, "href")) d.href = text_of(c);
      if (!is(c, dav_ns, "propstat")) continue;
      int status = 200;
      for (auto* s = c->children; s; s = s->next)
        if (is(s, dav_ns, "status")) {
          auto t = text_of(s);  // "HTTP/1.1 200 OK"
          auto sp = t.find(' ');
          if (sp != std::string::npos) status = std::atoi(t.c_str() + sp + 1);
        }
      if (status / 100 != 2) continue;
      for (auto* s = c->children; s; s = s->next) {
        if (!is(s, dav_ns, "prop")) continue;
        for (auto* p = s->children; p; p = p->next) {
          if (is(p, dav_ns, "getetag")) d.etag = text_of(p);
          else if (is(p, dav_ns, "displayname")) d.displayname = text_of(p);
          else if (is(p, caldav_ns, "calendar-data")) d.calendar_data = text_of(p);
          else if (is(p, dav_ns, "resourcetype"))
            for (auto* t = p->children; t; t = t->next)
              if (is(t, caldav_ns, "calendar")) d.calendar = true;
        }
      }
    }
    if (!d.href.empty()) out.push_back(std::move(d));
  }
  return out;
}

std::string caldav::url_of(const std::string& href) const {
  auto scheme = _a.url.find("://");
  auto host_end = _a.url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  auto origin = host_end == std::string::npos ? _a.url : _a.url.substr(0, host_end);
  // An absolute href of another origin (a server pointing elsewhere) is not followed with
  // the account's credentials: it is read as a path on the account's own server.
  if (href.rfind("http://", 0) == 0 || href.rfind("https://", 0) == 0) {
    if (href.rfind(origin + "/", 0) == 0) return href;
    auto path_at = href.find('/', href.find("://") + 3);
    return origin + (path_at == std::string::npos ? "/" : href.substr(path_at));
  }
  return origin + (href.empty() || href[0] != '/' ? "/" : "") + href;
}

namespace {

result<http::fetch_response> dav(const caldav_account& a, std::string method, std::string url, std::string body,
                                 std::vector<std::string> headers) {
  http::fetch_request r;
  r.method = std::move(method);
  r.url = std::move(url);
  r.body = std::move(body);
  r.headers = std::move(headers);
  r.username = a.username;
  r.password = a.password;
  auto resp = http::fetch(r);
  if (!resp) return resp.take_error();
  if (resp->status == 401)
    return fail(errc::invalid_argument, "Failed to {} '{}': the server refused the account's user name or password (401)",
                r.method, r.url);
  return resp;
}

}  // namespace

result<std::vector<calendar_info>> caldav::calendars() const {
  auto body =
      R"(<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">)"
      R"(<d:prop><d:resourcetype/><d:displayname/></d:prop></d:propfind>)";
  auto r = dav(_a, "PROPFIND", _a.url, body, {"Depth: 1", "Content-Type: application/xml; charset=utf-8"});
  if (!r) return r.take_error();
  if (r->status != 207) return fail(errc::unavailable, "Failed to list the calendars at '{}': HTTP {}", _a.url, r->status);
  auto ms = parse_multistatus(r->body);
  if (!ms) return fail(errc::malformed, "Failed to list the calendars at '{}': {}", _a.url, ms.err().message);
  std::vector<calendar_info> out;
  for (auto& d : *ms)
    if (d.calendar) out.push_back({d.href, d.displayname.empty() ? d.href : d.displayname});
  return out;
}

result<std::vector<resource>> caldav::events(const std::string& calendar_href, instant from, instant to) const {
  auto body = fmt::format(
      R"(<?xml version="1.0" encoding="utf-8"?><c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">)"
      R"(<d:prop><d:getetag/><c:calendar-data/></d:prop><c:filter><c:comp-filter name="VCALENDAR">)"
      R"(<c:comp-filter name="VEVENT"><c:time-range start="{}" end="{}"/></c:comp-filter></c:comp-filter></c:filter>)"
      R"(</c:calendar-query>)",
      utc_stamp(from), utc_stamp(to));
  auto url = url_of(calendar_href);
  auto r = dav(_a, "REPORT", url, body, {"Depth: 1", "Content-Type: application/xml; charset=utf-8"});
  if (!r) return r.take_error();
  if (r->status == 404) return fail(errc::not_found, "Failed to read the calendar '{}': it does not exist", calendar_href);
  if (r->status != 207) return fail(errc::unavailable, "Failed to read the calendar '{}': HTTP {}", calendar_href, r->status);
  auto ms = parse_multistatus(r->body);
  if (!ms) return fail(errc::malformed, "Failed to read the calendar '{}': {}", calendar_href, ms.err().message);
  std::vector<resource> out;
  for (auto& d : *ms)
    if (!d.calendar_data.empty()) out.push_back({d.href, d.etag, d.calendar_data});
  return out;
}

result<resource> caldav::get(const std::string& href) const {
  auto r = dav(_a, "GET", url_of(href), "", {});
  if (!r) return r.take_error();
  if (r->status == 404) return fail(errc::not_found, "Failed to read '{}': it does not exist", href);
  if (r->status / 100 != 2) return fail(errc::unavailable, "Failed to read '{}': HTTP {}", href, r->status);
  return resource{href, r->headers.count("etag") ? r->headers["etag"] : "", r->body};
}

result<std::string> caldav::put(const std::string& href, const std::string& ics, const std::optional<std::string>& if_match) const {
  std::vector<std::string> h = {"Content-Type: text/calendar; charset=utf-8"};
  if (!if_match) h.push_back("If-None-Match: *");
  else if (!if_match->empty()) h.push_back("If-Match: " + *if_match);
  auto& etag = if_match;
  auto r = dav(_a, "PUT", url_of(href), ics, h);
  if (!r) return r.take_error();
  if (r->status == 412)
    return fail(errc::unavailable, "Failed to write '{}': {} (nothing was written; read it again)", href,
                !etag ? "it exists already" : "it was changed meanwhile");
  if (r->status / 100 != 2) {
    auto body = r->body.substr(0, 300);
    return fail(errc::unavailable, "Failed to write '{}': HTTP {} {}", href, r->status, body);
  }
  return r->headers.count("etag") ? r->headers["etag"] : std::string();
}

status caldav::remove(const std::string& href, const std::string& etag) const {
  std::vector<std::string> h;
  if (!etag.empty()) h.push_back("If-Match: " + etag);
  auto r = dav(_a, "DELETE", url_of(href), "", h);
  if (!r) return r.take_error();
  if (r->status == 404) return fail(errc::not_found, "Failed to delete '{}': it does not exist", href);
  if (r->status == 412) return fail(errc::unavailable, "Failed to delete '{}': it was changed meanwhile", href);
  if (r->status / 100 != 2) return fail(errc::unavailable, "Failed to delete '{}': HTTP {}", href, r->status);
  return {};
}

}  // namespace weft::tools::calendar
