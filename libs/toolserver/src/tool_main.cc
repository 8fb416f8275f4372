#include <weft/toolserver/tool_main.hh>

#include <sys/prctl.h>

#include <cstdlib>
#include <optional>

#include <weft/service/exit.hh>
#include <weft/service/main.hh>
#include <weft/service/paths.hh>
#include <weft/toolserver/egress_relay.hh>

namespace weft::tools {

namespace {
std::string g_proxy_url;  // written once, on the main thread, before the tools exist
}  // namespace

const std::string& egress_proxy_url() { return g_proxy_url; }

int tool_main(int argc, char** argv, const tool_main_options& o, const make_tools_fn& make_tools) {
  // No config: a tool needs none, and a sandboxed one may not be able to read the file.
  service::main_spec spec{.program = o.program, .log_name = o.log_name, .help = o.help, .config = false};
  return service::run_main(argc, argv, spec, [&](service::main_context& m) {
    std::optional<workspace> ws;
    if (o.per_agent) {
      const char* ws_env = std::getenv("WEFT_WORKSPACE");
      const char* agent_env = std::getenv("WEFT_AGENT");
      std::string agent = agent_env && *agent_env ? agent_env : m.address.substr(m.address.rfind('/') + 1);
      if (!ws_env || !*ws_env)
        return m.fail(fail(errc::invalid_argument, "Failed to start {} for agent '{}': WEFT_WORKSPACE is not set",
                           o.program, agent));
      auto w = workspace::open(ws_env, agent);
      if (!w) return m.fail(w.err());
      ws.emplace(std::move(*w));
    }
    if (const char* sb = std::getenv("WEFT_SANDBOX")) {
      m.log.info("sandbox: {}", sb);
      // The commands it runs share its Landlock domain, whose /proc/self rule names this
      // process: not dumpable, its memory (the bus token) and environment are closed to
      // them (a process of the same user needs CAP_SYS_PTRACE over it now).
      ::prctl(PR_SET_DUMPABLE, 0);
    } else if (!o.unsandboxed_note.empty()) m.log.info("not sandboxed: {}", o.unsandboxed_note);
    // network = "public": the only way out of the namespace is the egress proxy.
    std::unique_ptr<egress_relay> relay;
    if (const char* net = std::getenv("WEFT_NETWORK"); net && std::string_view(net) == "public" && ws && o.egress_relay) {
      auto socket = service::runtime_dir() + "/egress/" + ws->agent() + ".sock";
      auto r = egress_relay::start(m.rt->loop(), socket);
      if (r) {
        relay = std::move(*r);
        g_proxy_url = relay->url();
        m.log.info("network: public, through the egress proxy ({} -> '{}')", g_proxy_url, socket);
      } else {
        m.log.warning("{}; commands get no network, ignoring.", r.err().message);
      }
    }
    auto server = tool_server::create(*m.rt, o.server);
    if (!server) return m.fail(server.err());
    for (auto& t : make_tools(tool_setup{ws ? &*ws : nullptr, m.log, *m.rt})) (*server)->add(std::move(t));
    m.log.info("'{}' serving {} tools", m.rt->address(), (*server)->list().tools.size());
    return m.rt->run();
  });
}

}  // namespace weft::tools
