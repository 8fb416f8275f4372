#include "shell.hh"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>

#include <weft/base/command.hh>

namespace weft::tools {

namespace {

using std::chrono::milliseconds;

tool::result failed(std::string text) { return tool::result{std::move(text), true, false}; }

/// What goes on a command in its child before exec: a skill's TCP rules, then the filter.
struct child_rules {
  const sandbox::tcp_ports* ports = nullptr;
  const sandbox::command_filter* filter = nullptr;
  static bool apply(const void* p) noexcept {
    auto* r = static_cast<const child_rules*>(p);
    if (r->ports && r->ports->apply()) return false;
    return !r->filter || r->filter->apply_in_child() == nullptr;
  }
};


}  // namespace

result<tool::result> exec(const workspace& ws, const json& args, const call_context& ctx, const shell_limits& lim) {
  auto command = string_arg(args, "command");
  if (!command) return command.take_error();
  auto timeout_arg = optional_uint_arg(args, "timeout_ms");
  if (!timeout_arg) return timeout_arg.take_error();
  auto cwd = optional_string_arg(args, "cwd");
  if (!cwd) return cwd.take_error();
  auto skill = optional_string_arg(args, "skill");
  if (!skill) return skill.take_error();
  if (command->empty()) return tool::make(tool::error_code::bad_arguments, "command must not be empty");
  if (command->find('\0') != std::string::npos)
    return tool::make(tool::error_code::bad_arguments, "command must not contain NUL bytes");

  milliseconds timeout = lim.default_timeout;
  if (*timeout_arg) timeout = milliseconds(**timeout_arg);
  else if (ctx.call.timeout_ms) timeout = milliseconds(ctx.call.timeout_ms);
  timeout = std::clamp(timeout, milliseconds(1), lim.max_timeout);

  // The working directory is opened beneath the workspace (Denied outside) and entered by
  // fd in the child, so a symlink swapped in between cannot redirect it.
  auto dir = ws.open_beneath(cwd->value_or("."), O_PATH | O_DIRECTORY, "run in");
  if (!dir) {
    if (dir.err().domain == tool::interface_name) return dir.take_error();
    return failed(dir.err().message);
  }
  unique_fd dir_fd = std::move(*dir);

  // Temporary files go to <workspace>/.tmp: the sandbox gives no access to the shared /tmp.
  std::string tmp = ws.root() + "/.tmp";
  ::mkdir(tmp.c_str(), 0700);
  command_spec spec{.exec = "/bin/sh",
                    .argv = {"/bin/sh", "-c", *command},
                    .env = {"PATH=" + lim.path, "HOME=" + ws.root(), "LANG=C.UTF-8", "TMPDIR=" + tmp},
                    .dir_fd = dir_fd.get()};
  // A command run for a skill with a network list goes out through that skill's lane only.
  std::optional<skill_lane> lane;
  if (lim.lane_of) {
    auto l = lim.lane_of(*command, *skill);
    if (!l) {
      if (l.err().domain == tool::interface_name) return l.take_error();
      return failed(l.err().message);
    }
    lane = std::move(*l);
  }
  const auto& env = lane ? lane->env : lim.extra_env;
  spec.env.insert(spec.env.end(), env.begin(), env.end());
  child_rules rules{lane ? lane->rules.get() : nullptr, lim.filter.get()};
  if (rules.ports || rules.filter) {
    spec.before_exec = child_rules::apply;
    spec.before_exec_arg = &rules;
    spec.before_exec_step = rules.ports ? "the command's confinement (the skill's TCP rules, the command filter)"
                                        : "the command filter";
  }
  std::string output;
  bool truncated = false;
  auto ran = run_command(spec, {.timeout = timeout, .kill_grace = lim.kill_grace}, ctx.cancel_fd,
                         [&](std::string_view chunk) {
                           // Keep reading beyond the cap (so the command never blocks on a full pipe), keep nothing.
                           std::size_t room = lim.max_output - std::min(lim.max_output, output.size());
                           output.append(chunk.substr(0, room));
                           if (chunk.size() > room) truncated = true;
                           return true;
                         });
  if (!ran) return failed(ran.err().message);
  auto& o = *ran;

  std::string content = std::move(output);
  if (truncated) content += fmt::format("\n[… output cut at {} bytes]", lim.max_output);
  if (!content.empty() && content.back() != '\n') content += '\n';
  if (o.timed_out)
    content += fmt::format("[timed out after {} ms: the command's process group was killed]", timeout.count());
  else if (o.cancelled)
    content += "[cancelled: the shell tool is stopping; the command's process group was killed]";
  else
    content += "[" + o.describe() + "]";
  return tool::result{std::move(content), !o.succeeded(), truncated};
}

std::vector<tool_def> shell_tools(const workspace& ws, shell_limits lim) {
  std::vector<tool_def> out;
  out.push_back(
      {{"exec",
        fmt::format("Run a shell command (/bin/sh -c) in the workspace. stdin is empty; stdout and stderr are "
                    "returned together (at most {} KiB) with the exit status. The command and everything it starts "
                    "are killed at the time limit (default {} s, at most {} s).",
                    lim.max_output / 1024, lim.default_timeout.count() / 1000, lim.max_timeout.count() / 1000),
        fmt::format(
            R"json({{"type":"object","properties":{{"command":{{"type":"string","minLength":1,"description":"Shell command line"}},"timeout_ms":{{"type":"integer","minimum":1,"maximum":{},"description":"Time limit in milliseconds"}},"cwd":{{"type":"string","description":"Working directory inside the workspace; default the workspace"}},"skill":{{"type":"string","description":"The skill this command runs for: its network list (SKILL.md network:) then applies. Without it, a command naming a skill's folder runs for that skill"}}}},"required":["command"],"additionalProperties":false}})json",
            lim.max_timeout.count())},
       [&ws, lim](const json& args, const call_context& ctx) { return exec(ws, args, ctx, lim); }});
  return out;
}

}  // namespace weft::tools
