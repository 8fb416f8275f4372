#include <weft/plugin/allowlist.hh>

#include <arpa/inet.h>
#include <idn2.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace weft::plugin {

namespace {

constexpr std::size_t max_host_chars = 253, max_label_chars = 63;
constexpr std::uint16_t default_ports[] = {80, 443};

bool digit(char c) { return c >= '0' && c <= '9'; }
bool all_digits(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), digit); }

/// A port in decimal, 1 … 65535, no sign, no leading zero.
bool parse_port(std::string_view s, std::uint16_t& out) {
  if (!all_digits(s) || s.size() > 5 || (s.size() > 1 && s[0] == '0')) return false;
  unsigned long v = std::strtoul(std::string(s).c_str(), nullptr, 10);
  if (v == 0 || v > 65535) return false;
  out = static_cast<std::uint16_t>(v);
  return true;
}

/// Text as it may appear in a message: control characters and bytes past ASCII escaped.
std::string shown(std::string_view s) {
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) out += fmt::format("\\x{:02x}", u);
    else out += c;
  }
  return out;
}

/// The address literal `host` (already normalized) as a sockaddr; family 0 when it is none.
sockaddr_storage literal_of(const std::string& host) {
  sockaddr_storage ss{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) ss.ss_family = AF_INET;
  else if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) ss.ss_family = AF_INET6;
  return ss;
}

/// ::ffff:a.b.c.d judged as a.b.c.d, so an IPv4 block or literal covers it.
sockaddr_storage unmapped(const sockaddr* a) {
  sockaddr_storage ss{};
  if (a->sa_family == AF_INET) {
    std::memcpy(&ss, a, sizeof(sockaddr_in));
    return ss;
  }
  auto* in6 = reinterpret_cast<const sockaddr_in6*>(a);
  std::memcpy(&ss, a, sizeof(sockaddr_in6));
  if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
    sockaddr_in v4{};
    v4.sin_family = AF_INET;
    std::memcpy(&v4.sin_addr, in6->sin6_addr.s6_addr + 12, 4);
    ss = {};
    std::memcpy(&ss, &v4, sizeof v4);
  }
  return ss;
}

net::prefix prefix_of(const sockaddr* a) {
  net::prefix p;
  p.family = a->sa_family;
  if (a->sa_family == AF_INET) {
    std::memcpy(p.bytes, &reinterpret_cast<const sockaddr_in*>(a)->sin_addr, 4);
    p.bits = 32;
  } else {
    std::memcpy(p.bytes, reinterpret_cast<const sockaddr_in6*>(a)->sin6_addr.s6_addr, 16);
    p.bits = 128;
  }
  return p;
}

bool exact_block(const net::prefix& p) { return p.bits == (p.family == AF_INET ? 32u : 128u); }

std::string ports_text(const std::vector<std::uint16_t>& ports) { return fmt::format("{}", fmt::join(ports, ", ")); }

struct target {
  std::string host;  // as written (for messages)
  std::uint16_t port = 0;
  std::string why;   // not empty: the text is no target
};

/// The host and port of "https://user@host:port/path", "[v6]:port", "host:port" or "host".
target split_target(std::string_view text, std::uint16_t port) {
  target t;
  std::string_view rest = text;
  std::uint16_t scheme_port = 0;
  if (auto p = text.find("://"); p != std::string_view::npos) {
    std::string scheme(text.substr(0, p));
    std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](unsigned char c) { return std::tolower(c); });
    if (scheme == "http") scheme_port = 80;
    else if (scheme == "https") scheme_port = 443;
    else {
      t.why = fmt::format("'{}' is not an http or https URL", shown(text));
      return t;
    }
    rest = text.substr(p + 3);
    rest = rest.substr(0, rest.find_first_of("/?#"));
    // Parsers disagree about a backslash (WHATWG reads it as '/', others as part of the user
    // info), so "http://evil.example\@api.example.com" could name either host: refused.
    if (std::any_of(rest.begin(), rest.end(), [](char c) { return c == '\\' || static_cast<unsigned char>(c) <= 0x20; })) {
      t.why = fmt::format("'{}' has a backslash, a space or a control character before its path", shown(text));
      return t;
    }
    if (auto at = rest.rfind('@'); at != std::string_view::npos) rest = rest.substr(at + 1);
  }
  std::string_view port_text;
  if (!rest.empty() && rest[0] == '[') {
    auto close = rest.find(']');
    if (close == std::string_view::npos) {
      t.why = fmt::format("'{}' has an unclosed '['", shown(text));
      return t;
    }
    t.host = std::string(rest.substr(0, close + 1));
    auto after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') {
        t.why = fmt::format("'{}' has text after the address", shown(text));
        return t;
      }
      port_text = after.substr(1);
    }
  } else if (std::count(rest.begin(), rest.end(), ':') == 1) {
    auto colon = rest.find(':');
    t.host = std::string(rest.substr(0, colon));
    port_text = rest.substr(colon + 1);
  } else {
    t.host = std::string(rest);  // a name, or an IPv6 address without brackets
  }
  std::uint16_t written = 0;
  if (!port_text.empty() || (rest.size() && rest.back() == ':')) {
    if (!parse_port(port_text, written)) {
      t.why = fmt::format("'{}' has an invalid port", shown(text));
      return t;
    }
  }
  t.port = port ? port : written ? written : scheme_port;
  if (t.port == 0) t.why = fmt::format("no port given for '{}'", shown(text));
  return t;
}

}  // namespace

result<std::string> normalize_host(std::string_view in) {
  auto bad = [&](std::string_view why) {
    return fail(errc::invalid_argument, "'{}' is not a valid host: {}", shown(in), why);
  };
  std::string_view h = in;
  if (h.empty()) return bad("it is empty");
  if (h.front() == '[') {
    if (h.size() < 3 || h.back() != ']') return bad("an IPv6 address is written in brackets, '[2001:db8::1]'");
    h = h.substr(1, h.size() - 2);
    in6_addr a6;
    if (::inet_pton(AF_INET6, std::string(h).c_str(), &a6) != 1) return bad("not an IPv6 address");
  }
  if (h.find(':') != std::string_view::npos) {
    in6_addr a6;
    if (::inet_pton(AF_INET6, std::string(h).c_str(), &a6) != 1) return bad("not an IPv6 address");
    char buf[INET6_ADDRSTRLEN];
    ::inet_ntop(AF_INET6, &a6, buf, sizeof buf);
    return std::string(buf);
  }
  if (h.back() == '.') h.remove_suffix(1);  // the root's dot: "example.com." is "example.com"
  if (h.empty()) return bad("it is empty");
  std::string name;
  if (std::any_of(h.begin(), h.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; })) {
    // UTS #46 mapping (lower case, width, NFC) then Punycode: what a browser or curl sends.
    char* out = nullptr;
    int rc = idn2_to_ascii_8z(std::string(h).c_str(), &out, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
    if (rc != IDN2_OK) return bad(fmt::format("not a valid internationalised name ({})", idn2_strerror(rc)));
    name = out;
    idn2_free(out);
  } else {
    name = std::string(h);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  }
  if (name.size() > max_host_chars) return bad(fmt::format("longer than {} characters", max_host_chars));
  in_addr a4;
  if (::inet_pton(AF_INET, name.c_str(), &a4) == 1) return name;
  // "127.1", "0x7f000001", "2130706433": resolvers read these as IPv4 addresses, so they
  // may never pass as names (nor be compared as names against a list).
  if (::inet_aton(name.c_str(), &a4) != 0)
    return bad("an IPv4 address is written as four decimal numbers, as in '192.0.2.1'");
  std::size_t start = 0;
  std::string_view last;
  for (;;) {
    auto dot = name.find('.', start);
    std::string_view label = std::string_view(name).substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (label.empty()) return bad("it has an empty label");
    if (label.size() > max_label_chars) return bad(fmt::format("a label is longer than {} characters", max_label_chars));
    if (!std::all_of(label.begin(), label.end(), [](char c) {
          return (c >= 'a' && c <= 'z') || digit(c) || c == '-' || c == '_';
        }))
      return bad("a name has only letters, digits, '-' and '_' between its dots");
    if (label.front() == '-' || label.back() == '-') return bad("a label may not start or end with '-'");
    last = label;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (all_digits(last)) return bad("its last label is a number; an IPv4 address has four decimal parts");
  return name;
}

std::string host_rule::text() const {
  std::string h = k == kind::wildcard ? "*." + host : k == kind::address && literal.family == AF_INET6 ? "[" + host + "]" : host;
  if (ports == std::vector<std::uint16_t>(std::begin(default_ports), std::end(default_ports))) return h;
  return fmt::format("{}:{}", h, fmt::join(ports, ","));
}

result<host_rule> parse_host_rule(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return fail(errc::invalid_argument, "'{}' is not a valid network entry: {}", shown(text), why);
  };
  if (text.empty()) return bad("it is empty");
  if (text.find("://") != std::string_view::npos || text.find('/') != std::string_view::npos)
    return bad("write the host alone, without a scheme or a path, as in 'api.example.com:443'");
  if (std::any_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) <= 0x20; }))
    return bad("it has spaces or control characters");
  std::string_view host = text, port_text;
  if (text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) return bad("'[' without ']'");
    host = text.substr(0, close + 1);
    auto after = text.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return bad("only ':port' may follow ']'");
      port_text = after.substr(1);
      if (port_text.empty()) return bad("':' without a port");
    }
  } else {
    auto colons = std::count(text.begin(), text.end(), ':');
    if (colons > 1) return bad("write an IPv6 address in brackets, as in '[2001:db8::1]:443'");
    if (colons == 1) {
      auto colon = text.find(':');
      host = text.substr(0, colon);
      port_text = text.substr(colon + 1);
      if (port_text.empty()) return bad("':' without a port");
    }
  }
  host_rule r;
  if (port_text.empty()) {
    r.ports.assign(std::begin(default_ports), std::end(default_ports));
  } else {
    for (std::size_t start = 0;;) {
      auto comma = port_text.find(',', start);
      auto one = port_text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
      std::uint16_t p;
      if (!parse_port(one, p)) return bad(fmt::format("'{}' is not a port from 1 to 65535", shown(one)));
      r.ports.push_back(p);
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    std::sort(r.ports.begin(), r.ports.end());
    r.ports.erase(std::unique(r.ports.begin(), r.ports.end()), r.ports.end());
  }
  if (host.substr(0, 2) == "*.") {
    r.k = host_rule::kind::wildcard;
    host = host.substr(2);
  }
  if (host.find('*') != std::string_view::npos)
    return bad(host == "*" ? "'*' alone would allow every host; list the hosts the plugin needs"
                           : "'*' may only be the whole leftmost label, as in '*.example.com'");
  auto name = normalize_host(host);
  if (!name) return bad(name.err().message.substr(name.err().message.find(": ") + 2));
  r.host = std::move(*name);
  auto lit = literal_of(r.host);
  if (lit.ss_family != 0) {
    if (r.k == host_rule::kind::wildcard) return bad("a wildcard goes before a name, not an address");
    if (lit.ss_family == AF_INET6 && host.front() != '[')
      return bad("write an IPv6 address in brackets, as in '[2001:db8::1]:443'");
    r.k = host_rule::kind::address;
    r.literal = prefix_of(reinterpret_cast<const sockaddr*>(&lit));
  } else if (r.k == host_rule::kind::wildcard && r.host.find('.') == std::string::npos) {
    return bad("a wildcard needs at least two labels after it, as in '*.example.com'");
  }
  return r;
}

bool metadata_address(const sockaddr* addr) {
  static const char* const known[] = {
      "169.254.169.254",  // AWS, GCP, Azure, OpenStack, DigitalOcean, … instance metadata
      "169.254.170.2",    // AWS ECS task metadata and credentials
      "100.100.100.200",  // Alibaba Cloud metadata
      "168.63.129.16",    // Azure WireServer (a public-looking address)
      "fd00:ec2::254",    // AWS instance metadata over IPv6
  };
  auto a = unmapped(addr);
  for (const char* k : known) {
    auto lit = literal_of(k);
    auto p = prefix_of(reinterpret_cast<const sockaddr*>(&lit));
    if (p.contains(reinterpret_cast<const sockaddr*>(&a))) return true;
  }
  return false;
}

namespace {

/// The entry a host and port match, or why none does.
struct listing {
  std::string why;  ///< empty: matched
  std::string host;  ///< normalised
  sockaddr_storage literal{};  ///< ss_family 0 unless the host is an IP literal
  const host_rule* match = nullptr;
};

listing find_listing(const allowlist& list, std::string_view url_or_host, std::uint16_t port) {
  listing out;
  auto t = split_target(url_or_host, port);
  if (!t.why.empty()) {
    out.why = std::move(t.why);
    return out;
  }
  auto host = normalize_host(t.host);
  if (!host) {
    out.why = host.err().message;
    return out;
  }
  out.host = *host;
  out.literal = literal_of(*host);
  bool is_literal = out.literal.ss_family != 0;
  const host_rule* by_host = nullptr;
  for (auto& r : list.hosts) {
    bool hit = false;
    switch (r.k) {
      case host_rule::kind::name: hit = !is_literal && *host == r.host; break;
      case host_rule::kind::wildcard:
        hit = !is_literal && host->size() > r.host.size() + 1 && host->ends_with(r.host) &&
              (*host)[host->size() - r.host.size() - 1] == '.';
        break;
      case host_rule::kind::address: hit = is_literal && *host == r.host; break;
    }
    if (!hit) continue;
    if (!by_host) by_host = &r;
    if (std::binary_search(r.ports.begin(), r.ports.end(), t.port)) {
      out.match = &r;
      return out;
    }
  }
  if (!by_host) out.why = fmt::format("'{}' is not on the network list", *host);
  else
    out.why = fmt::format("port {} of '{}' is not on the network list (allowed: {})", t.port, *host,
                          ports_text(by_host->ports));
  return out;
}

}  // namespace

verdict listed(const allowlist& list, std::string_view url_or_host, std::uint16_t port) {
  auto l = find_listing(list, url_or_host, port);
  return l.match ? verdict{true, {}} : verdict{false, std::move(l.why)};
}

bool declares(const allowlist& list, const sockaddr* addr) {
  auto a = unmapped(addr);
  auto* ap = reinterpret_cast<const sockaddr*>(&a);
  for (auto& r : list.hosts)
    if (r.k == host_rule::kind::address && r.literal.contains(ap)) return true;
  for (auto& b : list.allow_private)
    if (b.contains(ap)) return true;
  return false;
}

verdict allowed(const allowlist& list, std::string_view url_or_host, std::uint16_t port,
                std::span<const sockaddr_storage> resolved) {
  auto no = [](std::string reason) { return verdict{false, std::move(reason)}; };
  auto l = find_listing(list, url_or_host, port);
  if (!l.match) return no(std::move(l.why));
  const auto* match = l.match;
  const auto& host = l.host;
  auto lit = l.literal;
  bool is_literal = lit.ss_family != 0;

  std::vector<sockaddr_storage> addrs(resolved.begin(), resolved.end());
  if (addrs.empty()) {
    if (!is_literal) return no(fmt::format("'{}' has no resolved address to check", host));
    addrs.push_back(lit);
  }
  for (auto& raw : addrs) {
    auto* sa = reinterpret_cast<const sockaddr*>(&raw);
    if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
      return no(fmt::format("'{}' resolves to an address that is not an internet address", host));
    auto a = unmapped(sa);
    auto* ap = reinterpret_cast<const sockaddr*>(&a);
    auto text = net::address_text(ap);
    // Named exactly: the host asked for is this literal and the list has it.
    bool named = match->k == host_rule::kind::address && match->literal.contains(ap);
    bool in_block = false, exact = false;
    for (auto& b : list.allow_private)
      if (b.contains(ap)) {
        in_block = true;
        exact = exact || exact_block(b);
      }
    auto what = is_literal ? fmt::format("{}", text) : fmt::format("'{}' resolves to {}, which", host, text);
    if (metadata_address(ap)) {
      if (named || exact) continue;
      return no(fmt::format("{} is a cloud metadata address; the network list must name it exactly", what));
    }
    auto why = net::forbidden_reason(ap);
    if (why.empty() || named || in_block) continue;
    return no(fmt::format("{} is {}, not declared in the network list", what, why));
  }
  return {true, {}};
}

}  // namespace weft::plugin
