// weft-memory — per-agent memory: entries in segment files, keyword and vector search,
// export/import, and the witness chain of agent actions.
//
// Serves io.weft.Memory.v1 at bus address `memory`. The namespace of a request is the
// caller's own (agent/<id> → <id>, from the sender the bus authenticated); only weftd and
// ctl/* may name another agent, and [[memory.shares]] lets named agents search (not change)
// another's memory. Stores live in $WEFT_HOME/memory/<agent>/, outside every workspace.
// Vectors come from the llm service's embeddings; with no embedding provider, search is
// keyword-only (BM25) and says so. See docs/memory.md.
//
// Started by weftd with $WEFT_BUS, $WEFT_ADDRESS, $WEFT_TOKEN_FD, $WEFT_NOTIFY_FD,
// $WEFT_HOME and $WEFT_CONFIG. Reads [memory] and [agents.*].
#include <cstring>
#include <unistd.h>

#include <weft/base/log.hh>
#include <weft/service/exit.hh>
#include <weft/service/paths.hh>
#include <weft/service/service_loop.hh>
#include <weft/service/startup.hh>

#include "services/memory/memory_service.hh"

using namespace weft;

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0) {
      fmt::print(
          "usage: weft-memory\n"
          "The memory service of weft, started by weftd: answers io.weft.Memory.v1 (Put, Search, Forget,\n"
          "Wipe, Stats, export and import in chunks) at bus address 'memory', one namespace per agent,\n"
          "and keeps the signed witness chain of agent actions in $WEFT_HOME/audit.\n\n"
          "Options:\n"
          "  --help   show this help\n\n"
          "Environment:\n"
          "  WEFT_CONFIG       config file ([memory], [agents.*]); built-in default when unset\n"
          "  WEFT_HOME         state directory: memory/<agent>/ (segment files, index checkpoints),\n"
          "                    audit/ (witness segments), keys/witness.key (signing key, 0600)\n"
          "  WEFT_BUS, WEFT_ADDRESS, WEFT_TOKEN_FD, WEFT_NOTIFY_FD   set by weftd\n"
          "  WEFT_LOG          log levels, e.g. 'debug' or 'info,memory=debug'\n");
      return 0;
    }
    return service::usage_error("weft-memory", fmt::format("unknown option '{}'", argv[i]));
  }
  int signal_fd = service::block_stop_signals();
  log::configure_from_env();
  auto& lg = log::get("memory");
  auto cfg = service::load_service_config();
  if (!cfg) return service::exit_with(lg, cfg.err());
  auto on = service::join_bus_from_env();
  if (!on) return service::exit_with(lg, on.err());
  auto home = service::home_dir(cfg->home);
  memory::memory_service svc((*on)->ctx, *(*on)->bus, std::move(*cfg), home);
  int rc = svc.run((*on)->notify, signal_fd);
  ::close(signal_fd);
  return rc;
}
