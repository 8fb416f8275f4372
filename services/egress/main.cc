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
// Per-plugin and per-skill network lists: each plugin of <home>/plugins/<agent>/ whose
// manifest lists hosts, and each skill whose SKILL.md has `network:` entries, gets a socket
// of its own, $WEFT_RUNTIME_DIR/egress/<agent>/plugin-<name>.sock or skill-<name>.sock,
// where a target must be on that list by name and port before it is even looked up, and
// every address it resolves to must be public or declared by the list (services/egress/
// scopes.hh). The plugin host sends a plugin's http_fetch there; the shell tool the
// commands it runs for a skill. The lists are read at start, on SIGHUP and every 10 s.
//
// Options:
//   --agent ID                      listen for agent ID (repeatable; weftd passes one per agent)
//   --workspace ID=DIR              agent ID's workspace, where its own skills are (repeatable)
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
#include <sys/stat.h>

#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <fmt/ranges.h>

#include <weft/base/worker_pool.hh>
#include <weft/service/main.hh>
#include <weft/service/paths.hh>

#include "services/egress/proxy.hh"
#include "services/egress/scopes.hh"

using namespace weft;

namespace {

constexpr std::string_view help = R"(usage: weft-egress --agent ID [--agent ID …] [options]

The egress proxy of weft's shell tools (started by weftd for agents whose
[agents.<id>.tools] network is "public"). Listens on $WEFT_RUNTIME_DIR/egress/<ID>.sock
and forwards HTTP CONNECT tunnels and http:// requests to public addresses only:
loopback, private, link-local and this host's own addresses are refused (403).

Per-plugin and per-skill lists: a plugin of <home>/plugins/<ID>/ whose plugin.toml lists
network hosts, and a skill whose SKILL.md has network: entries, get their own socket
egress/<ID>/plugin-<name>.sock or skill-<name>.sock, where only the hosts (and ports) of
that list may be reached. Re-read on SIGHUP and every 10 s.

Options:
  --agent ID                      an agent to listen for (repeatable)
  --workspace ID=DIR              agent ID's workspace, for its own skills (repeatable)
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

/// Opens, re-lists or closes the scoped sockets of every agent to match its plugins and
/// skills now; says what changed.
void sync_scopes(egress::proxy& px, const std::vector<std::string>& agents,
                 const std::map<std::string, std::string>& workspaces, std::set<std::string>& said, log::logger& lg) {
  auto home = service::home_dir();
  auto dir = service::runtime_dir() + "/egress";
  std::map<std::string, egress::scope> wanted;  // by socket path
  std::map<std::string, std::string> agent_of;
  std::set<std::string> now_said;
  for (auto& a : agents) {
    auto ws = workspaces.count(a) ? workspaces.at(a) : home + "/agents/" + a;
    std::vector<std::string> warnings;
    auto scopes = egress::scopes_of(home, a, ws, warnings);
    // Said once, not at every rescan; again when it comes back after it was fixed.
    for (auto& w : warnings)
      if (!said.count(w)) lg.warning("{}", w);
    now_said.insert(warnings.begin(), warnings.end());
    if (scopes.empty()) continue;
    ::mkdir((dir + "/" + a).c_str(), 0700);
    for (auto& sc : scopes) {
      auto path = dir + "/" + a + "/" + sc.file;
      agent_of[path] = a;
      wanted.emplace(path, std::move(sc));
    }
  }
  said = std::move(now_said);
  for (auto& path : px.scoped_paths())
    if (!wanted.count(path)) {
      px.close_listener(path);
      lg.info("closed '{}' (its plugin or skill is gone or lists no hosts now)", path);
    }
  for (auto& [path, sc] : wanted) {
    std::vector<std::string> hosts;
    for (auto& h : sc.list->hosts) hosts.push_back(h.text());
    bool open = false;
    for (auto& p : px.scoped_paths()) open = open || p == path;
    if (auto s = px.listen_scoped(agent_of[path], sc.label, path, sc.list); !s)
      lg.error("Failed to listen for {} of agent '{}' at '{}': {}", sc.label, agent_of[path], path, s.err().message);
    else if (!open)
      lg.info("{} of agent '{}': '{}', only {}", sc.label, agent_of[path], path,
              hosts.empty() ? std::string("nothing (every entry was dropped)") : fmt::format("{}", fmt::join(hosts, ", ")));
  }
}

int main(int argc, char** argv) {
  std::vector<std::string> agents;
  std::map<std::string, std::string> workspaces;
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
                  {"--workspace", "", "ID=DIR",
                   [&](std::string_view v) -> status {
                     auto eq = v.find('=');
                     if (eq == std::string_view::npos || eq == 0 || eq + 1 == v.size())
                       return fail(errc::invalid_argument, "'{}' is not ID=DIR", v);
                     workspaces[std::string(v.substr(0, eq))] = std::string(v.substr(eq + 1));
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
                       audit.warning("refused agent '{}'{}: {} {}: {}{}", r.agent, r.scope.empty() ? "" : " (" + r.scope + ")", r.method, r.target,
                                     r.status ? std::to_string(r.status) + " " : std::string(), r.reason);
                     });
    auto dir = service::runtime_dir() + "/egress";
    for (auto& a : agents)
      if (auto s = px.listen(a, dir + "/" + a + ".sock"); !s) return m.fail(s.err());
    std::set<std::string> said;
    auto sync = [&] { sync_scopes(px, agents, workspaces, said, m.log); };
    sync();
    m.rt->on_reload(sync);
    m.rt->loop().every(std::chrono::seconds(10), sync);
    m.rt->on_stop([&] { px.close_listeners(); });
    m.rt->drain_until([&] { return px.connections() == 0; });
    m.log.info("listening for {} agent(s) in '{}'", agents.size(), dir);
    int rc = m.rt->run();
    resolver.stop();
    return rc;
  });
}
