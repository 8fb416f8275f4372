// weft-egress — the way out for the shell tools of agents with network = "public".
//
// Purpose: a tool process runs in a network namespace of its own (weftd's sandbox), where
// 127.0.0.1 is its own and nothing is routed. For an agent whose [agents.<id>.tools]
// network is "public", its shell tool relays 127.0.0.1:3128 inside that namespace to this
// proxy's UNIX socket $WEFT_RUNTIME_DIR/egress/<agent>.sock (UNIX sockets cross network
// namespaces), and commands get HTTP_PROXY/HTTPS_PROXY/ALL_PROXY pointing there. Here every
// target is resolved and checked: loopback, private (RFC 1918, unique-local), link-local,
// CGNAT and other special blocks, and every address of this host, are refused with 403 and
// a reason; each refusal is one warning line in the log (the audit line):
//   refused agent 'work': CONNECT 127.0.0.1:8780: 403 127.0.0.1 is loopback
// Speaks HTTP/1.1 proxy: CONNECT host:port (tunnels, https) and absolute-form http://
// requests (forwarded one per connection, Connection: close).
//
// Options:
//   --agent ID                      listen for agent ID (repeatable; weftd passes one per agent)
//   --max-connections N             at once, all agents (default 256)
//   --max-connections-per-agent N   at once, per agent (default 64)
//   --max-bytes N                   per connection, both ways (default 1073741824)
// Environment: WEFT_RUNTIME_DIR (sockets), WEFT_BUS, WEFT_ADDRESS (egress), WEFT_TOKEN_FD,
//   WEFT_NOTIFY_FD, WEFT_LOG; WEFT_EGRESS_TEST_PUBLIC: comma-separated address blocks treated
//   as public, for tests only — each must lie within 198.18.0.0/15 (the benchmarking block),
//   anything else is refused at start.
// Serves on the bus only the built-ins (Ping, SetLogLevel); calls nothing.
//
// weftd derives it (docs/config.md, Derived services):
//   [services.egress]
//   exec = "/usr/libexec/weft/weft-egress"
//   args = ["--agent", "work"]
#include <cstdlib>
#include <string>
#include <vector>

#include <weft/base/worker_pool.hh>
#include <weft/service/main.hh>
#include <weft/service/paths.hh>

#include "services/egress/proxy.hh"

using namespace weft;

namespace {

constexpr std::string_view help = R"(usage: weft-egress --agent ID [--agent ID …] [options]

The egress proxy of weft's shell tools (started by weftd for agents whose
[agents.<id>.tools] network is "public"). Listens on $WEFT_RUNTIME_DIR/egress/<ID>.sock
and forwards HTTP CONNECT tunnels and http:// requests to public addresses only:
loopback, private, link-local and this host's own addresses are refused (403).

Options:
  --agent ID                      an agent to listen for (repeatable)
  --max-connections N             connections at once, all agents (default 256)
  --max-connections-per-agent N   connections at once, per agent (default 64)
  --max-bytes N                   bytes per connection, both ways (default 1073741824)

Environment:
  WEFT_RUNTIME_DIR          where the sockets go (egress/<ID>.sock)
  WEFT_EGRESS_TEST_PUBLIC   tests only: address blocks within 198.18.0.0/15 to treat as public
  WEFT_BUS, WEFT_ADDRESS, WEFT_TOKEN_FD, WEFT_NOTIFY_FD   set by weftd
  WEFT_LOG                  log levels, e.g. "debug"
)";

/// "n" as a positive number, for an option.
status set_number(std::string_view v, auto& out) {
  std::uint64_t n = 0;
  if (v.empty() || v.size() > 19 || v.find_first_not_of("0123456789") != std::string_view::npos ||
      (n = std::stoull(std::string(v))) == 0)
    return fail(errc::invalid_argument, "'{}' is not a positive number", v);
  out = static_cast<std::remove_reference_t<decltype(out)>>(n);
  return {};
}

/// $WEFT_EGRESS_TEST_PUBLIC: blocks within 198.18.0.0/15 only.
result<std::vector<net::prefix>> test_public_blocks() {
  std::vector<net::prefix> out;
  const char* v = std::getenv("WEFT_EGRESS_TEST_PUBLIC");
  if (!v || !*v) return out;
  std::string_view rest(v);
  while (!rest.empty()) {
    auto comma = rest.find(',');
    auto item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    auto p = net::parse_prefix(item);
    if (!p) return fail(errc::invalid_argument, "Failed to read WEFT_EGRESS_TEST_PUBLIC: {}", p.err().message);
    if (!egress::target_policy::allowed_test_block(*p))
      return fail(errc::invalid_argument,
                  "Failed to read WEFT_EGRESS_TEST_PUBLIC: '{}' is outside 198.18.0.0/15, the only block a test may "
                  "declare public",
                  item);
    out.push_back(*p);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> agents;
  egress::limits lim;
  service::main_spec spec{
      .program = "weft-egress",
      .log_name = "egress",
      .help = help,
      .options = {{"--agent", "", "ID",
                   [&](std::string_view v) -> status {
                     agents.emplace_back(v);
                     return {};
                   }},
                  {"--max-connections", "", "N", [&](std::string_view v) { return set_number(v, lim.max_connections); }},
                  {"--max-connections-per-agent", "", "N",
                   [&](std::string_view v) { return set_number(v, lim.max_connections_per_agent); }},
                  {"--max-bytes", "", "N", [&](std::string_view v) { return set_number(v, lim.max_bytes); }}},
      .config = false};
  return service::run_main(argc, argv, spec, [&](service::main_context& m) {
    if (agents.empty()) return m.fail(fail(errc::invalid_argument, "Failed to start weft-egress: no --agent given"));
    auto blocks = test_public_blocks();
    if (!blocks) return m.fail(blocks.err());
    for (auto& b : *blocks)
      m.log.warning("treating {} as public (WEFT_EGRESS_TEST_PUBLIC): this is for tests only", b.text());
    worker_pool resolver(m.rt->loop(), /*threads=*/4, lim.max_resolving);
    auto& audit = log::get("egress");
    auto policy = std::make_shared<const egress::target_policy>(std::move(*blocks));
    egress::proxy px(m.rt->loop(), resolver, lim, [policy](const sockaddr* a) { return policy->refusal(a); },
                     [&audit](const egress::refusal& r) {
                       audit.warning("refused agent '{}': {} {}: {}{}", r.agent, r.method, r.target,
                                     r.status ? std::to_string(r.status) + " " : std::string(), r.reason);
                     });
    auto dir = service::runtime_dir() + "/egress";
    for (auto& a : agents)
      if (auto s = px.listen(a, dir + "/" + a + ".sock"); !s) return m.fail(s.err());
    m.rt->on_stop([&] { px.close_listeners(); });
    m.rt->drain_until([&] { return px.connections() == 0; });
    m.log.info("listening for {} agent(s) in '{}'", agents.size(), dir);
    int rc = m.rt->run();
    resolver.stop();
    return rc;
  });
}
