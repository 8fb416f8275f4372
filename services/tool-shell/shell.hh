#pragma once
/// The shell tool family: `exec` runs `/bin/sh -c <command>` in the agent's workspace, in
/// its own process group, with stdin from /dev/null, a minimal environment, no AF_UNIX
/// sockets (the command filter), merged stdout+stderr captured up to a cap, and the whole
/// group killed (TERM, then KILL) at the time limit. Plain functions, tested without a bus.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <weft/sandbox/sandbox.hh>
#include <weft/toolserver/tool.hh>
#include <weft/toolserver/workspace.hh>

#include "services/tool-shell/skill_lanes.hh"

namespace weft::tools {

struct shell_limits {
  std::chrono::milliseconds default_timeout{30000};   ///< when neither argument nor Call sets one
  std::chrono::milliseconds max_timeout{600000};      ///< 10 min
  std::chrono::milliseconds kill_grace{2000};         ///< between TERM and KILL
  std::size_t max_output = 64 * 1024;                 ///< bytes of output kept
  std::string path = "/usr/local/bin:/usr/bin:/bin";  ///< PATH of the command
  /// More NAME=value for the command: the proxy variables when the agent's network is
  /// "public" (tools::proxy_environment).
  std::vector<std::string> extra_env;
  /// Put on each command before exec: no AF_UNIX sockets of its own (sandbox::command_filter).
  /// weft-tool-shell always sets it; null (tests of other things) puts none.
  std::shared_ptr<const sandbox::command_filter> filter;
  /// The lane of the skill a command runs for (skill_lanes::lane_for): its proxy variables
  /// replace extra_env's and its TCP rules go on the command. Unset: no skill lists.
  std::function<result<std::optional<skill_lane>>(std::string_view command, const std::optional<std::string>& skill)> lane_of;
};

/// exec{command, timeout_ms?, cwd?, skill?}. Blocks the calling (worker) thread until the command
/// ends, times out, or ctx is cancelled.
result<tool::result> exec(const workspace& ws, const json& args, const call_context& ctx, const shell_limits& lim = {});

std::vector<tool_def> shell_tools(const workspace& ws, shell_limits lim = {});

}  // namespace weft::tools
