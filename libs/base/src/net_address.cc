#include <weft/base/net_address.hh>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

namespace weft::net {

namespace {

std::string v4_reason(std::uint32_t a) {  // host byte order
  auto in = [&](std::uint32_t net, int bits) { return bits == 0 || (a >> (32 - bits)) == (net >> (32 - bits)); };
  if (in(0x00000000, 8)) return "the 'this network' block 0.0.0.0/8";
  if (in(0x7f000000, 8)) return "loopback";
  if (in(0x0a000000, 8) || in(0xac100000, 12) || in(0xc0a80000, 16)) return "private (RFC 1918)";
  if (in(0x64400000, 10)) return "shared address space (CGNAT, RFC 6598)";
  if (in(0xa9fe0000, 16)) return "link-local";
  if (in(0xc0000000, 24)) return "IETF protocol assignments (192.0.0.0/24)";
  if (in(0xc0000200, 24) || in(0xc6336400, 24) || in(0xcb007100, 24)) return "documentation (TEST-NET)";
  if (in(0xc6120000, 15)) return "benchmarking (198.18.0.0/15)";
  if (in(0xe0000000, 4)) return "multicast";
  if (in(0xf0000000, 4)) return "reserved (240.0.0.0/4, broadcast)";
  return {};
}

const std::uint8_t* raw(const sockaddr* addr) {
  if (addr->sa_family == AF_INET)
    return reinterpret_cast<const std::uint8_t*>(&reinterpret_cast<const sockaddr_in*>(addr)->sin_addr);
  return reinterpret_cast<const sockaddr_in6*>(addr)->sin6_addr.s6_addr;
}

bool prefix_match(const std::uint8_t* a, const std::uint8_t* b, unsigned bits) {
  unsigned whole = bits / 8, rest = bits % 8;
  if (std::memcmp(a, b, whole) != 0) return false;
  if (rest == 0) return true;
  std::uint8_t mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

}  // namespace

std::string address_text(const sockaddr* addr) {
  char buf[INET6_ADDRSTRLEN] = "?";
  if (addr->sa_family == AF_INET)
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(addr)->sin_addr, buf, sizeof buf);
  else if (addr->sa_family == AF_INET6)
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(addr)->sin6_addr, buf, sizeof buf);
  return buf;
}

std::string forbidden_reason(const sockaddr* addr) {
  if (addr->sa_family == AF_INET)
    return v4_reason(ntohl(reinterpret_cast<const sockaddr_in*>(addr)->sin_addr.s_addr));
  if (addr->sa_family != AF_INET6) return "not an internet address";
  const std::uint8_t* b = raw(addr);
  auto v4_at = [&](int off) {
    return (std::uint32_t(b[off]) << 24) | (std::uint32_t(b[off + 1]) << 16) | (std::uint32_t(b[off + 2]) << 8) | b[off + 3];
  };
  static const std::uint8_t zero[16] = {};
  if (std::memcmp(b, zero, 15) == 0 && (b[15] == 0 || b[15] == 1)) return b[15] ? "loopback" : "unspecified (::)";
  // IPv4-mapped (::ffff:a.b.c.d), NAT64 (64:ff9b::a.b.c.d) and 6to4 (2002:AABB:CCDD::/48)
  // carry an IPv4 address.
  static const std::uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  static const std::uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  if (std::memcmp(b, mapped, 12) == 0 || std::memcmp(b, nat64, 12) == 0) return v4_reason(v4_at(12));
  if (b[0] == 0x20 && b[1] == 0x02) {
    auto why = v4_reason(v4_at(2));
    if (!why.empty()) return "6to4 of " + why;
  }
  if (std::memcmp(b, zero, 12) == 0) return "IPv4-compatible (deprecated)";
  if ((b[0] & 0xfe) == 0xfc) return "unique-local (fc00::/7)";
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return "link-local";
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return "site-local (deprecated)";
  if (b[0] == 0xff) return "multicast";
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) return "documentation (2001:db8::/32)";
  return {};
}

bool prefix::contains(const sockaddr* addr) const {
  if (addr->sa_family != family) return false;
  return prefix_match(raw(addr), bytes, bits);
}

bool prefix::covers(const prefix& inner) const {
  return inner.family == family && inner.bits >= bits && prefix_match(inner.bytes, bytes, bits);
}

std::string prefix::text() const {
  char buf[INET6_ADDRSTRLEN] = "?";
  ::inet_ntop(family, bytes, buf, sizeof buf);
  return fmt::format("{}/{}", buf, bits);
}

result<prefix> parse_prefix(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return fail(errc::invalid_argument, "Failed to parse address block '{}': {}", text, why);
  };
  auto slash = text.find('/');
  std::string addr(text.substr(0, slash));
  prefix p;
  if (::inet_pton(AF_INET, addr.c_str(), p.bytes) == 1) p.family = AF_INET, p.bits = 32;
  else if (::inet_pton(AF_INET6, addr.c_str(), p.bytes) == 1) p.family = AF_INET6, p.bits = 128;
  else return bad("not an IPv4 or IPv6 address");
  if (slash != std::string_view::npos) {
    auto n = text.substr(slash + 1);
    if (n.empty() || n.size() > 3 || n.find_first_not_of("0123456789") != std::string_view::npos)
      return bad("the prefix length must be a number");
    unsigned bits = static_cast<unsigned>(std::stoul(std::string(n)));
    if (bits > p.bits) return bad(fmt::format("the prefix length must be at most {}", p.bits));
    p.bits = bits;
  }
  // Host bits set ("10.0.0.1/8") are a typo more often than not: refuse rather than guess.
  prefix net = p;
  unsigned whole = p.bits / 8, rest = p.bits % 8;
  if (rest) net.bytes[whole] &= static_cast<std::uint8_t>(0xff << (8 - rest));
  for (unsigned i = whole + (rest ? 1 : 0); i < 16; ++i) net.bytes[i] = 0;
  if (std::memcmp(net.bytes, p.bytes, 16) != 0) return bad(fmt::format("host bits are set; did you mean '{}'?", net.text()));
  return p;
}

}  // namespace weft::net
