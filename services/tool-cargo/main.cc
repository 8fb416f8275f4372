// weft-tool-cargo — cargo on Rust crates in one agent's workspace (docs/tools.md).
//
// Serves io.weft.Tool.v1 at $WEFT_ADDRESS (tool/cargo/<agent>): cargo_check, cargo_build,
// cargo_test, cargo_clippy, cargo_fmt, cargo_doc, cargo_package. Started per agent by weftd with the tool sandbox when
// the agent's families list "cargo"; weftd opens the toolchain's directories to it.
#include <cstdlib>

#include <weft/sandbox/sandbox.hh>
#include <weft/service/exit.hh>
#include <weft/toolserver/tool_main.hh>

#include "services/tool-cargo/cargo_tools.hh"

using namespace weft;

namespace {
constexpr const char* help = R"(usage: weft-tool-cargo [--help] [--version]
cargo on Rust crates in one agent's workspace, served on the weft bus (io.weft.Tool.v1):
  cargo_check, cargo_build, cargo_test, cargo_clippy {path?, timeout_ms?}
      cargo <command> --offline --message-format=json in the crate's directory (default: the
      workspace): compiler messages as structured diagnostics; cargo_test runs every test
      (--no-fail-fast) and reports passed, failed (with their output) and ignored
  cargo_fmt {path?}   cargo fmt --check: the files that need formatting and the diff
  cargo_doc {path?, timeout_ms?}   cargo doc --no-deps: doc warnings as diagnostics
  cargo_package {path?, timeout_ms?}   cargo package --allow-dirty, a dry run: the .crate
      built and verified in target/package; nothing is published
  CARGO_HOME is <workspace>/.weft/cargo-home; offline: no registry is reached.
  Time limit: timeout_ms, at most WEFT_CARGO_TIMEOUT_MS (default 10 min); then the whole
  process group is killed. Commands may create no AF_UNIX socket (as the shell tool's).

Environment (set by weftd from [tools.cargo]):
  WEFT_WORKSPACE, WEFT_AGENT   the agent's workspace and id
  WEFT_CARGO                   the cargo executable (default: cargo on PATH)
  RUSTUP_HOME                  passed on (a rustup toolchain)
  PATH                         for cargo and rustc
  WEFT_CARGO_TIMEOUT_MS        the time limit's cap
  WEFT_BUS, WEFT_ADDRESS, WEFT_TOKEN_FD, WEFT_NOTIFY_FD, WEFT_LOG   set by weftd
)";
}  // namespace

int main(int argc, char** argv) {
  tools::tool_main_options o{.program = "weft-tool-cargo",
                             .log_name = "tool-cargo",
                             .help = help,
                             .per_agent = true,
                             .unsandboxed_note = "cargo and its build scripts can reach anything this user can",
                             .server = {.family = "cargo", .workers = 2, .max_queued = 16}};
  auto filter = sandbox::command_filter::prepare();
  if (!filter) {
    fmt::print(stderr, "weft-tool-cargo: {}\n", filter.err().message);
    return service::to_int(service::exit_code::failure);
  }
  return tools::tool_main(argc, argv, o, [&](const tools::tool_setup& s) {
    tools::cargo::cargo_limits lim;
    if (const char* c = std::getenv("WEFT_CARGO"); c && *c) lim.cargo = c;
    if (const char* p = std::getenv("PATH"); p && *p) lim.path = p;
    if (const char* r = std::getenv("RUSTUP_HOME"); r && *r) lim.extra_env.push_back(std::string("RUSTUP_HOME=") + r);
    if (const char* t = std::getenv("WEFT_CARGO_TIMEOUT_MS"); t && std::atol(t) > 0)
      lim.timeout = std::chrono::milliseconds(std::atol(t));
    lim.before_exec = sandbox::command_filter::before_exec;
    lim.before_exec_arg = &*filter;
    s.log.info("cargo: {}", lim.cargo);
    return tools::cargo::cargo_tools(*s.ws, lim);
  });
}
