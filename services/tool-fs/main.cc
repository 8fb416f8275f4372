// weft-tool-fs — file tools over one agent's workspace.
//
// Serves io.weft.Tool.v1 at $WEFT_ADDRESS (tool/fs/<agent>): ListTools there, Call at
// tool/fs/<agent>/<tool> for read_file, write_file, edit_file, list_dir. Every path is
// resolved beneath the workspace by the kernel (openat2 RESOLVE_BENEATH); anything outside
// is the error Denied. weftd's Landlock sandbox (when the service is derived from
// [agents.<id>]) is the second line of defence. See docs/tools.md.
//
// Environment (set by weftd):
//   WEFT_WORKSPACE  the agent's workspace directory (created when missing); required
//   WEFT_AGENT      the agent id, for messages; default: the last segment of WEFT_ADDRESS
//   WEFT_BUS, WEFT_ADDRESS, WEFT_TOKEN_FD, WEFT_NOTIFY_FD, WEFT_LOG, WEFT_SANDBOX
//
// Example config (weftd derives this from [agents.work]):
//   [services.tool-fs-work]
//   exec = "/usr/libexec/weft/weft-tool-fs"
//   address = "tool/fs/work"
//   env = { WEFT_AGENT = "work", WEFT_WORKSPACE = "/var/lib/weft/agents/work" }
#include <weft/toolserver/tool_main.hh>

#include "services/tool-fs/fs_tools.hh"

using namespace weft;

namespace {
constexpr const char* help = R"(usage: weft-tool-fs [--help] [--version]
File tools over one agent's workspace, served on the weft bus (io.weft.Tool.v1):
  read_file{path, offset?, limit?}   text, cut at 256 KiB with a marker
  write_file{path, content}          atomic (temp file + rename), parents created
  edit_file{path, old_text, new_text, replace_all?}
  list_dir{path?}                    sorted, type and size, at most 1000 entries
Paths outside the workspace (.., absolute, symlinks out) are refused with Denied.

Environment:
  WEFT_WORKSPACE   the agent's workspace directory (required; created when missing)
  WEFT_AGENT       agent id (default: last segment of WEFT_ADDRESS)
  WEFT_BUS, WEFT_ADDRESS, WEFT_TOKEN_FD, WEFT_NOTIFY_FD   set by weftd
  WEFT_LOG         log levels, e.g. "debug"
)";
}

int main(int argc, char** argv) {
  tools::tool_main_options o{.program = "weft-tool-fs",
                             .log_name = "tool-fs",
                             .help = help,
                             .per_agent = true,
                             .unsandboxed_note = "only the tools' own path checks apply",
                             .server = {.family = "fs", .workers = 4}};
  return tools::tool_main(argc, argv, o, [](const tools::tool_setup& s) { return tools::fs_tools(*s.ws); });
}
