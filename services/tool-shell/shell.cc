#include "shell.hh"

#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <weft/base/io.hh>

#include "services/tool-shell/children.hh"

namespace weft::tools {

namespace {

using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

tool::result failed(std::string text) { return tool::result{std::move(text), true, false}; }

/// What the forked child needs, all made before fork.
struct child_setup {
  int stdin_fd, output_fd, dir_fd, report_fd;
  const sandbox::command_filter* filter;
  char** argv;
  char** envp;
};

/// The steps start_command() reports a failure of, by index.
constexpr const char* child_steps[] = {"setpgid", "dup2", "fchdir", "the command filter", "exec /bin/sh"};

/// In the forked child (this process has threads: only raw syscalls): its own process group,
/// default signals, stdin /dev/null, stdout and stderr the pipe, the working directory, the
/// command filter (no AF_UNIX sockets), nothing else inherited; then /bin/sh. A failure is
/// written to report_fd as {step, errno}.
[[noreturn]] void start_command(const child_setup& c) noexcept {
  auto fail_at = [&](int step) {
    int msg[2] = {step, errno};
    [[maybe_unused]] auto n = ::write(c.report_fd, msg, sizeof msg);
    ::_exit(127);
  };
  if (::setpgid(0, 0) != 0) fail_at(0);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig : {SIGTERM, SIGINT, SIGPIPE, SIGHUP, SIGQUIT, SIGCHLD}) ::sigaction(sig, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (::dup2(c.stdin_fd, 0) < 0 || ::dup2(c.output_fd, 1) < 0 || ::dup2(c.output_fd, 2) < 0) fail_at(1);
  if (::fchdir(c.dir_fd) != 0) fail_at(2);
  if (c.filter && c.filter->apply_in_child()) fail_at(3);
  // Everything above 2 closes at exec, the report pipe with it (so the parent reads EOF).
  ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
  ::execve("/bin/sh", c.argv, c.envp);
  fail_at(4);
  ::_exit(127);
}

}  // namespace

result<tool::result> exec(const workspace& ws, const json& args, const call_context& ctx, const shell_limits& lim) {
  auto command = string_arg(args, "command");
  if (!command) return command.take_error();
  auto timeout_arg = optional_uint_arg(args, "timeout_ms");
  if (!timeout_arg) return timeout_arg.take_error();
  auto cwd = optional_string_arg(args, "cwd");
  if (!cwd) return cwd.take_error();
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

  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return failed(fmt::format("Failed to run command: pipe: {}", std::strerror(errno)));
  unique_fd rd(out[0]), wr(out[1]);
  int err[2];
  if (::pipe2(err, O_CLOEXEC) != 0) return failed(fmt::format("Failed to run command: pipe: {}", std::strerror(errno)));
  unique_fd err_rd(err[0]), err_wr(err[1]);
  unique_fd null_fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!null_fd) return failed(fmt::format("Failed to run command: /dev/null: {}", std::strerror(errno)));

  // Temporary files go to <workspace>/.tmp: the sandbox gives no access to the shared /tmp.
  std::string tmp = ws.root() + "/.tmp";
  ::mkdir(tmp.c_str(), 0700);
  std::string env_path = "PATH=" + lim.path, env_home = "HOME=" + ws.root(), env_lang = "LANG=C.UTF-8",
              env_tmp = "TMPDIR=" + tmp;
  std::vector<std::string> extra = lim.extra_env;
  std::vector<char*> envp = {env_path.data(), env_home.data(), env_lang.data(), env_tmp.data()};
  for (auto& e : extra) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string sh = "/bin/sh", dash_c = "-c";
  char* argv[] = {sh.data(), dash_c.data(), command->data(), nullptr};
  child_setup setup{null_fd.get(), wr.get(), dir_fd.get(), err_wr.get(), lim.filter.get(), argv, envp.data()};
  auto& kids = children::of_this_process();
  pid_t pid = kids.start([&] {
    pid_t p = ::fork();
    if (p == 0) start_command(setup);
    return p;
  });
  if (pid < 0) return failed(fmt::format("Failed to run command: fork: {}", std::strerror(errno)));
  wr.reset();  // the child's copies are the only write ends: EOF once they are gone
  err_wr.reset();
  // The child reports a failure before exec here; at exec the pipe closes empty.
  int report[2] = {0, 0};
  if (::read(err_rd.get(), report, sizeof report) == static_cast<ssize_t>(sizeof report)) {
    kids.wait(pid);
    return failed(fmt::format("Failed to run command: {}: {}", child_steps[report[0]], std::strerror(report[1])));
  }

  // One thread per running command (the tool server's worker): it polls the pipe, the
  // child's pidfd and the server's cancel fd, so the bus loop never waits on a command.
  unique_fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  std::string output;
  bool truncated = false, timed_out = false, cancelled = false, exited = false;
  int status = 0;
  auto deadline = clock::now() + timeout;
  std::optional<clock::time_point> kill_at;  // TERM sent: KILL at this time
  clock::time_point exited_at;
  auto reap = [&] {
    if (exited) return;
    if (auto s = kids.ended(pid)) {
      status = *s;
      exited = true;
      exited_at = clock::now();
      // Whatever the command left running in its group would keep the pipe open.
      ::kill(-pid, SIGKILL);
    }
  };
  auto terminate = [&] {
    if (kill_at) return;
    ::kill(-pid, SIGTERM);
    kill_at = clock::now() + lim.kill_grace;
  };
  bool eof = false;
  char buf[16384];
  while (!eof || !exited) {
    auto now = clock::now();
    if (!exited && now >= deadline && !kill_at) {
      timed_out = true;
      terminate();
    }
    if (kill_at && now >= *kill_at) {
      ::kill(-pid, SIGKILL);
      kill_at = now + lim.kill_grace;  // keep retrying, group members may have been forking
    }
    auto next = kill_at ? *kill_at : deadline;
    int wait_ms = static_cast<int>(std::max<long>(1, std::chrono::duration_cast<milliseconds>(next - now).count()));
    if (exited && !eof) wait_ms = std::min(wait_ms, 1000);
    pollfd p[3] = {{eof ? -1 : rd.get(), POLLIN, 0}, {exited ? -1 : pidfd.get(), POLLIN, 0},
                   {cancelled ? -1 : ctx.cancel_fd, POLLIN, 0}};
    int n = ::poll(p, 3, pidfd.get() < 0 && !exited ? std::min(wait_ms, 50) : wait_ms);
    if (n < 0 && errno != EINTR) break;
    if (p[2].revents & POLLIN && !cancelled) {
      cancelled = true;
      terminate();
    }
    if (p[0].revents & (POLLIN | POLLHUP)) {
      auto r = ::read(rd.get(), buf, sizeof buf);
      if (r <= 0) {
        if (r == 0 || errno != EINTR) eof = true;
      } else {
        // Keep reading beyond the cap (so the command never blocks on a full pipe), keep nothing.
        std::size_t room = lim.max_output - std::min(lim.max_output, output.size());
        output.append(buf, std::min(room, static_cast<std::size_t>(r)));
        if (static_cast<std::size_t>(r) > room) truncated = true;
      }
    }
    reap();
    // A process that left the group (setsid) may hold the pipe open: stop reading after a grace.
    if (exited && !eof && clock::now() >= exited_at + lim.kill_grace) break;
  }
  if (!exited) {
    ::kill(-pid, SIGKILL);
    status = kids.wait(pid);
  }
  // As its PID namespace's init this process inherits what the group left: collect it.
  kids.collect_group(pid, lim.kill_grace);

  std::string content = std::move(output);
  if (truncated) content += fmt::format("\n[… output cut at {} bytes]", lim.max_output);
  if (!content.empty() && content.back() != '\n') content += '\n';
  bool is_error = true;
  if (timed_out)
    content += fmt::format("[timed out after {} ms: the command's process group was killed]", timeout.count());
  else if (cancelled)
    content += "[cancelled: the shell tool is stopping; the command's process group was killed]";
  else if (WIFEXITED(status)) {
    content += fmt::format("[exit status {}]", WEXITSTATUS(status));
    is_error = WEXITSTATUS(status) != 0;
  } else if (WIFSIGNALED(status))
    content += fmt::format("[killed by signal {} ({})]", WTERMSIG(status),
                           sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?");
  return tool::result{std::move(content), is_error, truncated};
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
            R"json({{"type":"object","properties":{{"command":{{"type":"string","minLength":1,"description":"Shell command line"}},"timeout_ms":{{"type":"integer","minimum":1,"maximum":{},"description":"Time limit in milliseconds"}},"cwd":{{"type":"string","description":"Working directory inside the workspace; default the workspace"}}}},"required":["command"],"additionalProperties":false}})json",
            lim.max_timeout.count())},
       [&ws, lim](const json& args, const call_context& ctx) { return exec(ws, args, ctx, lim); }});
  return out;
}

}  // namespace weft::tools
