#include "services/egress/request.hh"

#include <algorithm>
#include <cctype>
#include <vector>

#include <fmt/core.h>

namespace weft::egress {

namespace {

constexpr std::size_t max_host_chars = 253;

bool token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

error bad(std::string_view why) { return fail(errc::malformed, "Failed to read the proxy request: {}", why); }

/// "host:port" or "[v6]:port" (port required when `default_port` is 0).
result<std::pair<std::string, std::uint16_t>> split_authority(std::string_view a, std::uint16_t default_port) {
  std::string_view host, port;
  if (!a.empty() && a.front() == '[') {
    auto close = a.find(']');
    if (close == std::string_view::npos) return bad("an IPv6 host without its closing ']'");
    host = a.substr(1, close - 1);
    auto rest = a.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return bad("text after the IPv6 host");
      port = rest.substr(1);
    }
    if (host.empty() || !std::all_of(host.begin(), host.end(), [](char c) {
          return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
        }))
      return bad("a malformed IPv6 host");
  } else {
    auto colon = a.rfind(':');
    host = a.substr(0, colon);
    if (colon != std::string_view::npos) port = a.substr(colon + 1);
    if (host.empty()) return bad("no host");
    if (!std::all_of(host.begin(), host.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
        }))
      return bad(fmt::format("the host '{}' has characters a host name cannot have", host));
  }
  if (host.size() > max_host_chars) return bad("a host name longer than 253 characters");
  std::uint32_t p = default_port;
  if (!port.empty() || default_port == 0) {
    if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return bad("a missing or malformed port");
    p = static_cast<std::uint32_t>(std::stoul(std::string(port)));
    if (p == 0 || p > 65535) return bad("a port outside 1-65535");
  }
  return std::pair{std::string(host), static_cast<std::uint16_t>(p)};
}

}  // namespace

std::string proxy_request::target() const {
  return host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port);
}

std::size_t head_end(std::string_view buf) {
  auto at = buf.find("\r\n\r\n");
  return at == std::string_view::npos ? std::string_view::npos : at + 4;
}

result<proxy_request> parse_request(std::string_view head) {
  if (head.size() > max_head_bytes) return bad("the request head is longer than 16 KiB");
  if (head.size() < 4 || head.substr(head.size() - 4) != "\r\n\r\n") return bad("the request head is incomplete");
  head.remove_suffix(2);  // every line, the last included, now ends in CRLF
  std::vector<std::string_view> lines;
  for (std::size_t at = 0; at < head.size();) {
    auto eol = head.find("\r\n", at);
    auto line = head.substr(at, eol - at);
    if (line.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos)
      return bad("a bare CR, LF or NUL in the head");
    lines.push_back(line);
    at = eol + 2;
  }
  if (lines.empty() || lines[0].empty()) return bad("no request line");

  // METHOD SP target SP HTTP/1.x
  auto line = lines[0];
  auto sp1 = line.find(' '), sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp1 == sp2) return bad("the request line is not 'METHOD target HTTP/1.1'");
  auto method = line.substr(0, sp1), target = line.substr(sp1 + 1, sp2 - sp1 - 1), version = line.substr(sp2 + 1);
  if (method.empty() || !std::all_of(method.begin(), method.end(), token_char)) return bad("a malformed method");
  if (version != "HTTP/1.1" && version != "HTTP/1.0") return bad("only HTTP/1.0 and HTTP/1.1 are spoken");
  if (target.empty() || target.find(' ') != std::string_view::npos) return bad("a malformed request target");

  // Headers: name: value, no obsolete line folding.
  std::vector<std::pair<std::string_view, std::string_view>> headers;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    auto h = lines[i];
    if (!h.empty() && (h.front() == ' ' || h.front() == '\t')) return bad("a folded header line");
    auto colon = h.find(':');
    if (colon == std::string_view::npos || colon == 0) return bad("a header line without 'name:'");
    auto name = h.substr(0, colon);
    if (!std::all_of(name.begin(), name.end(), token_char)) return bad("a malformed header name");
    auto value = h.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    headers.emplace_back(name, value);
  }

  proxy_request r;
  r.method = std::string(method);
  if (method == "CONNECT") {
    auto a = split_authority(target, /*default_port=*/0);
    if (!a) return a.take_error();
    r.host = std::move(a->first);
    r.port = a->second;
    r.tunnel = true;
    return r;
  }
  if (target.substr(0, 8) == "https://")
    return bad("an https:// URL must be tunnelled with CONNECT (set HTTPS_PROXY, not only HTTP_PROXY)");
  if (target.substr(0, 7) != "http://")
    return bad(fmt::format("'{}' is not an absolute http:// URL (a proxy needs the whole URL)",
                           target.substr(0, std::min<std::size_t>(target.size(), 64))));
  auto rest = target.substr(7);
  auto path_at = rest.find_first_of("/?#");
  auto authority = rest.substr(0, path_at);
  if (authority.find('@') != std::string_view::npos) return bad("user information in the URL");
  auto a = split_authority(authority, /*default_port=*/80);
  if (!a) return a.take_error();
  r.host = std::move(a->first);
  r.port = a->second;
  std::string path = path_at == std::string_view::npos ? "/" : std::string(rest.substr(path_at));
  if (path.front() != '/') path.insert(0, "/");
  if (auto hash = path.find('#'); hash != std::string::npos) path.resize(hash);

  // Hop-by-hop headers are the proxy's, not the target's (RFC 9110 7.6.1).
  std::string out = fmt::format("{} {} {}\r\n", method, path, version);
  bool has_host = false;
  for (auto& [name, value] : headers) {
    if (iequals(name, "Proxy-Connection") || iequals(name, "Proxy-Authorization") || iequals(name, "Connection") ||
        iequals(name, "Keep-Alive") || iequals(name, "TE") || iequals(name, "Upgrade") || iequals(name, "Trailer"))
      continue;
    if (iequals(name, "Host")) has_host = true;
    out += fmt::format("{}: {}\r\n", name, value);
  }
  if (!has_host) out += fmt::format("Host: {}\r\n", authority);
  out += "Connection: close\r\n\r\n";
  r.head = std::move(out);
  return r;
}

}  // namespace weft::egress
