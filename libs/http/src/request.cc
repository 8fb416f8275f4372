#include <weft/http/request.hh>

#include <algorithm>
#include <cctype>

#include <fmt/core.h>

namespace weft::http {

namespace {

std::string lower(std::string_view s) {
  std::string o(s);
  for (auto& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return o;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool is_token_char(char c) {
  if (std::isalnum(static_cast<unsigned char>(c))) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

parse_outcome bad(int status, std::string reason) {
  parse_outcome o;
  o.status = parse_status::bad;
  o.http_status = status;
  o.reason = std::move(reason);
  return o;
}

}  // namespace

std::string request::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

std::optional<std::string> url_decode(std::string_view s, bool form) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      auto hv = [](char h) -> int {
        if (h >= '0' && h <= '9') return h - '0';
        if (h >= 'a' && h <= 'f') return h - 'a' + 10;
        if (h >= 'A' && h <= 'F') return h - 'A' + 10;
        return -1;
      };
      int a = hv(s[i + 1]), b = hv(s[i + 2]);
      if (a < 0 || b < 0) return std::nullopt;
      out += static_cast<char>(a * 16 + b);
      i += 2;
    } else if (c == '+' && form) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::string url_encode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
      out += static_cast<char>(c);
    else
      out += fmt::format("%{:02X}", c);
  }
  return out;
}

parse_outcome parse_request(std::string_view buf, const limits& lim) {
  // Tolerate empty lines before a request (RFC 9112 §2.2).
  std::size_t lead = 0;
  while (lead + 1 < buf.size() && buf[lead] == '\r' && buf[lead + 1] == '\n') lead += 2;
  auto end = buf.find("\r\n\r\n", lead);
  if (end == std::string_view::npos) {
    if (buf.size() - lead > lim.max_header_bytes) return bad(431, "request header section too large");
    return {};
  }
  if (end - lead > lim.max_header_bytes) return bad(431, "request header section too large");
  std::string_view head = buf.substr(lead, end - lead);
  auto line_end = head.find("\r\n");
  std::string_view request_line = head.substr(0, line_end);
  std::string_view rest = line_end == std::string_view::npos ? std::string_view() : head.substr(line_end + 2);

  parse_outcome out;
  auto& r = out.req;
  auto sp1 = request_line.find(' ');
  auto sp2 = sp1 == std::string_view::npos ? sp1 : request_line.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos ||
      request_line.find(' ', sp2 + 1) != std::string_view::npos)
    return bad(400, "malformed request line");
  r.method = std::string(request_line.substr(0, sp1));
  r.target = std::string(request_line.substr(sp1 + 1, sp2 - sp1 - 1));
  auto version = request_line.substr(sp2 + 1);
  if (r.method.empty() || !std::all_of(r.method.begin(), r.method.end(), is_token_char))
    return bad(400, "malformed method");
  if (version != "HTTP/1.1" && version != "HTTP/1.0") {
    if (version.substr(0, 5) == "HTTP/") return bad(505, "HTTP version not supported");
    return bad(400, "malformed request line");
  }
  if (r.target.empty() || r.target[0] != '/') return bad(400, "request target must be an absolute path");
  for (char c : r.target)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return bad(400, "control character in request target");
  r.keep_alive = version == "HTTP/1.1";

  std::size_t count = 0;
  while (!rest.empty()) {
    auto e = rest.find("\r\n");
    auto line = rest.substr(0, e);
    rest = e == std::string_view::npos ? std::string_view() : rest.substr(e + 2);
    if (++count > lim.max_headers) return bad(431, "too many header fields");
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return bad(400, "malformed header field");
    auto name = line.substr(0, colon);
    if (!std::all_of(name.begin(), name.end(), is_token_char)) return bad(400, "malformed header field name");
    auto value = trim(line.substr(colon + 1));
    for (char c : value)
      if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f)
        return bad(400, "control character in header value");
    auto key = lower(name);
    auto [it, fresh] = r.headers.try_emplace(key, std::string(value));
    if (!fresh) {
      if (key == "content-length" || key == "host") return bad(400, "repeated '" + key + "' header");
      it->second += ", " + std::string(value);
    }
  }
  if (r.headers.count("transfer-encoding")) return bad(501, "transfer-encoding is not supported; send Content-Length");
  auto conn = lower(r.header("connection"));
  if (conn.find("close") != std::string::npos) r.keep_alive = false;
  if (conn.find("keep-alive") != std::string::npos) r.keep_alive = true;

  std::size_t length = 0;
  if (auto cl = r.header("content-length"); !cl.empty()) {
    if (cl.size() > 12 || !std::all_of(cl.begin(), cl.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return bad(400, "malformed Content-Length");
    length = std::stoull(cl);
    if (length > lim.max_body_bytes) return bad(413, "request body too large");
  }
  std::size_t body_start = end + 4;
  if (buf.size() - body_start < length) return {};
  r.body = std::string(buf.substr(body_start, length));
  out.consumed = body_start + length;

  auto q = r.target.find('?');
  auto raw_path = std::string_view(r.target).substr(0, q);
  auto path = url_decode(raw_path, false);
  if (!path) return bad(400, "malformed escape in path");
  r.path = *path;
  if (q != std::string::npos) {
    std::string_view qs = std::string_view(r.target).substr(q + 1);
    while (!qs.empty()) {
      auto amp = qs.find('&');
      auto pair = qs.substr(0, amp);
      qs = amp == std::string_view::npos ? std::string_view() : qs.substr(amp + 1);
      if (pair.empty()) continue;
      auto eq = pair.find('=');
      auto k = url_decode(pair.substr(0, eq), true);
      auto v = url_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1), true);
      if (!k || !v) return bad(400, "malformed escape in query");
      r.query[*k] = *v;
    }
  }
  out.status = parse_status::complete;
  return out;
}

std::optional<std::string> cookie_value(std::string_view header, std::string_view name) {
  // RFC 6265 §4.2: "name=value" pairs separated by ';' and optional spaces.
  while (!header.empty()) {
    auto semi = header.find(';');
    auto pair = trim(header.substr(0, semi));
    header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
    auto eq = pair.find('=');
    if (eq == std::string_view::npos || trim(pair.substr(0, eq)) != name) continue;
    auto value = trim(pair.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    return std::string(value);
  }
  return std::nullopt;
}

bool equal_secret(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ (b.empty() ? 0 : b[i % b.size()]));
  return diff == 0;
}

}  // namespace weft::http
