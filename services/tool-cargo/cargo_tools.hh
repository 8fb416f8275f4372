#pragma once
/// The cargo tool family over one agent's workspace: cargo check, build, test, clippy and
/// fmt --check on a crate inside the workspace, offline, with CARGO_HOME inside the
/// workspace. Compiler messages (--message-format=json) become structured diagnostics
/// (level, code, message, file, line, column, suggested replacement), test runs their
/// outcomes (passed, failed with output, ignored); the model gets a compact summary and the
/// structured part. A time limit kills the whole process group (a hanging test).

#include <chrono>
#include <string>
#include <vector>

#include <weft/toolserver/tool.hh>
#include <weft/toolserver/workspace.hh>

#include "services/tool-cargo/cargo_output.hh"

namespace weft::tools::cargo {

struct cargo_limits {
  std::string cargo = "cargo";          ///< the executable (absolute), or looked up on `path`
  std::string path = "/usr/local/bin:/usr/bin:/bin";  ///< PATH for cargo and rustc
  std::vector<std::string> extra_env;   ///< NAME=value (RUSTUP_HOME for a rustup install)
  std::chrono::milliseconds timeout{600000};
  std::size_t max_diagnostics = 200;
  std::size_t max_output_bytes = 64 * 1024;  ///< a failed test's output, a fmt diff
  /// Put on cargo before exec (the shell tool's AF_UNIX filter).
  bool (*before_exec)(const void* arg) noexcept = nullptr;
  const void* before_exec_arg = nullptr;
};

/// `cargo <command>` (check, build, test, clippy, fmt) on the crate at args.path.
result<tool::result> run(const workspace& ws, const std::string& command, const json& args, const call_context& ctx,
                         const cargo_limits& lim);

std::vector<tool_def> cargo_tools(const workspace& ws, cargo_limits lim);

}  // namespace weft::tools::cargo
