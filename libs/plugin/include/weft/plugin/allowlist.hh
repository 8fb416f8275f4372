#pragma once
/// A plugin's (or a skill's) network allowlist, and the check the egress path makes with it
/// before a request leaves: the host asked for must be on the list with its port, and every
/// address it resolved to must be public unless the list declares that address explicitly.
/// Pure functions on text and addresses (no DNS, no sockets), so the egress proxy, tool-web
/// and the plugin host can all ask the same question and get the same answer.
///
/// Rules (docs/guides/plugins.md, "Network allowlist"):
///  - a host entry is a name (`api.example.com`), a wildcard over the subdomains of a name
///    (`*.example.com`: one or more labels before `.example.com`, never the name itself;
///    `*` only as the whole leftmost label, with at least two labels after it), an IPv4
///    literal in four decimal parts, or an IPv6 literal in brackets; each with `:port`, or
///    without one for ports 80 and 443;
///  - names compare case-insensitively, a trailing dot ignored, internationalised names by
///    their ASCII (xn--) form (UTS #46 mapping, so `BÜCHER.example` is `xn--bcher-kva.example`);
///  - an address that is not public (loopback, private, link-local, CGNAT, unique-local, …:
///    net::forbidden_reason) is allowed only when an IP-literal entry names it or an
///    `allow_private` block covers it; a cloud metadata address (169.254.169.254 and its
///    kin) only when an entry or a block of exactly that one address names it.

#include <sys/socket.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <weft/base/net_address.hh>
#include <weft/base/result.hh>

namespace weft::plugin {

/// One entry of a network list.
struct host_rule {
  enum class kind : std::uint8_t { name = 0, wildcard = 1, address = 2 };
  kind k = kind::name;
  /// name: the ASCII name ("api.example.com"); wildcard: the suffix after "*." ("example.com");
  /// address: the literal as inet_ntop writes it ("10.0.0.5", "::1").
  std::string host;
  net::prefix literal;               ///< kind::address: the address as a block of one
  std::vector<std::uint16_t> ports;  ///< the ports allowed, ascending (80 and 443 by default)
  bool operator==(const host_rule& o) const { return k == o.k && host == o.host && ports == o.ports; }
  /// The entry as written back: "*.example.com:8443", "[::1]:80,443".
  std::string text() const;
};

/// A host entry as written in a manifest ("api.example.com", "*.example.org:8443",
/// "192.168.1.20:8080", "[2001:db8::1]:443"). errc::invalid_argument with a reason a person
/// can act on ("'*' may only be the whole leftmost label, as in '*.example.com'").
result<host_rule> parse_host_rule(std::string_view text);

/// Everything a plugin may reach through the egress path.
struct allowlist {
  std::vector<host_rule> hosts;
  /// Address blocks that declared names may resolve to although they are not public
  /// ("10.20.0.0/16" for a service on the LAN).
  std::vector<net::prefix> allow_private;
  bool empty() const { return hosts.empty(); }
};

/// The answer: allowed, or the reason it is not ("'evil.example' is not on the network
/// list"; "'db.example.com' resolves to 10.0.0.5, private (RFC 1918), which the list does
/// not declare").
struct verdict {
  bool allowed = false;
  std::string reason;
  explicit operator bool() const { return allowed; }
};

/// Whether a request to `url_or_host` may go out. `url_or_host` is an http(s) URL
/// ("https://api.example.com/v1?q") or a host alone ("api.example.com", "[::1]"); `port`
/// 0 takes the URL's port, else its scheme's (a host alone needs a port). `resolved` is
/// every address the caller is about to connect to (after DNS; for an IP literal, that
/// address or nothing): each must pass, so a name that resolves to a public and a loopback
/// address is refused whole. A name with no resolved address is refused — the check is
/// made on what will be connected to, never on the name alone.
verdict allowed(const allowlist& list, std::string_view url_or_host, std::uint16_t port,
                std::span<const sockaddr_storage> resolved);

/// The first half of allowed(): whether the host and port are on the list at all, before
/// any name is resolved (the egress asks this first, so a name not on the list is never
/// looked up — no data leaves through DNS either).
verdict listed(const allowlist& list, std::string_view url_or_host, std::uint16_t port);

/// Whether the list names `addr` itself: an IP-literal entry or an allow_private block that
/// covers it (an address the admin declared, which the egress then lets through although
/// it would refuse it for everyone else).
bool declares(const allowlist& list, const sockaddr* addr);

/// A host as the allowlist compares it: lower case, one trailing dot removed, an
/// internationalised name in its ASCII form, an IPv6 literal without brackets. Errors
/// (errc::invalid_argument) for text that is no host name: empty labels, characters a name
/// cannot have, a name over 253 characters or a label over 63.
result<std::string> normalize_host(std::string_view host);

/// Cloud instance metadata endpoints (169.254.169.254, fd00:ec2::254, 169.254.170.2,
/// 100.100.100.200): reached only when named exactly.
bool metadata_address(const sockaddr* addr);

}  // namespace weft::plugin
