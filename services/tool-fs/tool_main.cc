#include "services/tool-fs/tool_main.hh"

#include <cstdlib>
#include <cstring>
#include <unistd.h>

#include <weft/service/exit.hh>
#include <weft/service/notify.hh>
#include <weft/service/service_loop.hh>
#include <weft/service/startup.hh>

namespace weft::tools {

int tool_main(int argc, char** argv, const tool_main_options& o,
              const std::function<std::vector<tool_def>(const workspace* ws, log::logger& lg)>& make_tools) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0) {
      fmt::print("{}", o.help);
      return 0;
    }
    return service::usage_error(o.program, fmt::format("unknown option '{}'", argv[i]));
  }
  int signal_fd = service::block_stop_signals();  // before any thread exists
  log::configure_from_env();
  auto& lg = log::get(o.log_name);
  auto opts = ipc::bus_client::options_from_env();
  if (!opts) return service::exit_with(lg, opts.err());
  std::optional<workspace> ws;
  if (o.per_agent) {
    const char* ws_env = std::getenv("WEFT_WORKSPACE");
    const char* agent_env = std::getenv("WEFT_AGENT");
    std::string agent = agent_env && *agent_env ? agent_env : opts->address.substr(opts->address.rfind('/') + 1);
    if (!ws_env || !*ws_env) {
      lg.error("Failed to start {} for agent '{}': WEFT_WORKSPACE is not set", o.program, agent);
      return service::to_int(service::exit_code::usage);
    }
    auto w = workspace::open(ws_env, agent);
    if (!w) {
      lg.error("{}", w.err().message);
      return service::to_int(service::exit_code::failure);
    }
    ws.emplace(std::move(*w));
  }
  if (const char* sb = std::getenv("WEFT_SANDBOX")) lg.info("sandbox: {}", sb);
  else if (!o.unsandboxed_note.empty()) lg.info("not sandboxed: {}", o.unsandboxed_note);
  auto tools = make_tools(ws ? &*ws : nullptr, lg);
  auto notify = service::notifier::from_env();
  zmq::context_t ctx(1);
  auto bus = service::join_bus(ctx, *opts);
  if (!bus) return service::exit_with(lg, bus.err());
  ::close(signal_fd);  // the server reads the same signals from its own signalfd
  tool_server server(**bus, notify, o.server);
  for (auto& t : tools) server.add(std::move(t));
  return server.run();
}

}  // namespace weft::tools
