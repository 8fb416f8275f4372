// weft-memory — per-agent memory: entries in segment files, keyword and vector search,
// export/import, and the witness chain of agent actions.
//
// Serves io.weft.Memory.v1 at bus address `memory`. The namespace of a request is the
// caller's own (agent/<id> → <id>, from the sender the bus authenticated); only weftd and
// ctl/* may name another agent, and [[memory.shares]] lets named agents search (not change)
// another's memory. Stores live in $WEFT_HOME/memory/<agent>/, outside every workspace.
// Vectors come from the llm service's embeddings (Llm.v1 Embed at `llm`); with no embedding
// provider, search is keyword-only (BM25) and says so. Records the published audit events
// (Chat.v1 Explanation, Bus.v1 AccessDenied, Memory.v1 ToolCalled) in the witness chain.
// See docs/memory.md.
//
// Options: --help, --version.
// Started by weftd with $WEFT_BUS, $WEFT_ADDRESS, $WEFT_TOKEN_FD, $WEFT_NOTIFY_FD,
// $WEFT_EVENTS, $WEFT_HOME and $WEFT_CONFIG. Reads [memory] and [agents.*].
//
// Example config:
//   [memory]
//   checkpoint_s = 300
//   [[memory.shares]]
//   owner = "work-agent"
//   readers = ["main"]
#include <weft/service/main.hh>
#include <weft/service/paths.hh>

#include "services/memory/memory_service.hh"

using namespace weft;

namespace {

constexpr std::string_view help = R"(usage: weft-memory [--help] [--version]
The memory service of weft, started by weftd: answers io.weft.Memory.v1 (Put, Search, Forget,
Wipe, Stats, export and import in chunks) at bus address 'memory', one namespace per agent,
and keeps the signed witness chain of agent actions in $WEFT_HOME/audit.

Options:
  --help      show this help
  --version   show the version

Environment:
  WEFT_CONFIG       config file ([memory], [agents.*]); built-in default when unset
  WEFT_HOME         state directory: memory/<agent>/ (segment files, index checkpoints),
                    audit/ (witness segments), keys/witness.key (signing key, 0600)
  WEFT_BUS, WEFT_ADDRESS, WEFT_TOKEN_FD, WEFT_NOTIFY_FD, WEFT_EVENTS   set by weftd
  WEFT_LOG          log levels, e.g. 'debug' or 'info,memory=debug'
)";

}  // namespace

int main(int argc, char** argv) {
  return service::run_main(argc, argv, {.program = "weft-memory", .log_name = "memory", .help = help},
                           [](service::main_context& m) {
                             auto home = service::home_dir(m.cfg.home);
                             memory::memory_service svc(*m.rt, std::move(m.cfg), home);
                             return m.rt->run();
                           });
}
