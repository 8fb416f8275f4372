#pragma once
/// Whether an internet address is one a confined process may be let out to. Loopback,
/// private (RFC 1918, unique-local), link-local, CGNAT, multicast and the other special
/// blocks are not public: a tool that could reach them could reach weft's own front doors
/// (the web chat API, the MCP server, the Telegram webhook) and whatever else listens on
/// the host or its LAN. tool-web checks every connection curl opens with it; the egress
/// proxy checks every target after DNS with it: one rule, one copy.

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

#include <weft/base/result.hh>

namespace weft::net {

/// Why `addr` is not a public internet address ("loopback", "private (RFC 1918)", …), or
/// empty when it is one. IPv4 carried in IPv6 (::ffff:a.b.c.d, 64:ff9b::/96, 2002::/16) is
/// judged as the IPv4 address it carries. Anything but AF_INET and AF_INET6 is refused.
std::string forbidden_reason(const sockaddr* addr);

/// The address alone, without port: "127.0.0.1", "::1"; "?" for other families.
std::string address_text(const sockaddr* addr);

/// An address block such as "198.18.0.0/15" or "2001:db8::/32" (an address alone is a
/// block of one), to declare a block public or refused.
struct prefix {
  int family = 0;                 ///< AF_INET or AF_INET6
  std::uint8_t bytes[16] = {};    ///< network order; the first 4 for IPv4
  unsigned bits = 0;
  /// Whether `addr` (of the same family) lies in the block.
  bool contains(const sockaddr* addr) const;
  /// Whether every address of `inner` lies in this block.
  bool covers(const prefix& inner) const;
  std::string text() const;
};

/// Parses "a.b.c.d[/n]" or "v6[/n]"; errc::invalid_argument with
/// "Failed to parse address block '<text>': <reason>".
result<prefix> parse_prefix(std::string_view text);

}  // namespace weft::net
