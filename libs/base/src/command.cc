#include <weft/base/command.hh>

#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <weft/base/children.hh>
#include <weft/base/fd.hh>

namespace weft {

namespace {

using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

/// What the forked child needs, all made before fork.
struct child_setup {
  int stdin_fd, output_fd, error_fd, dir_fd, report_fd;
  const command_spec* spec;
  const char* exec;
  char** argv;
  char** envp;
};

/// The steps start_child() reports a failure of, by index; the last is the spec's own.
constexpr const char* child_steps[] = {"setpgid", "dup2", "fchdir", "exec", nullptr};
constexpr int step_exec = 3, step_hook = 4;

/// In the forked child (this process has threads: only raw syscalls): its own process group,
/// default signals, stdin /dev/null, stdout and stderr the pipes, the working directory,
/// the spec's hook, nothing else inherited; then exec. A failure is written to report_fd
/// as {step, errno}.
[[noreturn]] void start_child(const child_setup& c) noexcept {
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
  if (::dup2(c.stdin_fd, 0) < 0 || ::dup2(c.output_fd, 1) < 0 || ::dup2(c.error_fd, 2) < 0) fail_at(1);
  if (c.dir_fd >= 0 && ::fchdir(c.dir_fd) != 0) fail_at(2);
  if (c.spec->before_exec && !c.spec->before_exec(c.spec->before_exec_arg)) fail_at(step_hook);
  // Everything above 2 closes at exec, the report pipe with it (so the parent reads EOF).
  ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
  ::execve(c.exec, c.argv, c.envp);
  fail_at(step_exec);
  ::_exit(127);
}

result<std::pair<unique_fd, unique_fd>> make_pipe(const command_spec& c) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0)
    return fail(errc::io, "Failed to run '{}': pipe: {}", c.exec, std::strerror(errno));
  return std::pair{unique_fd(p[0]), unique_fd(p[1])};
}

}  // namespace

std::string command_outcome::describe() const {
  if (WIFEXITED(status)) return fmt::format("exit status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const char* name = sigabbrev_np(WTERMSIG(status));
    return fmt::format("killed by signal {} ({})", WTERMSIG(status), name ? name : "?");
  }
  return fmt::format("wait status {}", status);
}

bool command_outcome::succeeded() const {
  return !timed_out && !cancelled && !stopped_early && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

result<command_outcome> run_command(const command_spec& c, const command_limits& l, int cancel_fd,
                                    const std::function<bool(std::string_view)>& on_output) {
  if (c.argv.empty()) return fail(errc::invalid_argument, "Failed to run '{}': no argv[0]", c.exec);
  auto out = make_pipe(c);
  if (!out) return out.take_error();
  auto& [rd, wr] = *out;
  auto report = make_pipe(c);
  if (!report) return report.take_error();
  auto& [report_rd, report_wr] = *report;
  std::optional<std::pair<unique_fd, unique_fd>> err;
  if (!c.merge_stderr) {
    auto e = make_pipe(c);
    if (!e) return e.take_error();
    err = std::move(*e);
  }
  unique_fd null_fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!null_fd) return fail(errc::io, "Failed to run '{}': /dev/null: {}", c.exec, std::strerror(errno));

  std::vector<std::string> args = c.argv, env = c.env;
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  child_setup setup{null_fd.get(), wr.get(), err ? err->second.get() : wr.get(), c.dir_fd, report_wr.get(),
                    &c, c.exec.c_str(), argv.data(), envp.data()};
  auto& kids = children::of_this_process();
  pid_t pid = kids.start([&] {
    pid_t p = ::fork();
    if (p == 0) start_child(setup);
    return p;
  });
  if (pid < 0) return fail(errc::io, "Failed to run '{}': fork: {}", c.exec, std::strerror(errno));
  wr.reset();  // the child's copies are the only write ends: EOF once they are gone
  if (err) err->second.reset();
  report_wr.reset();
  // The child reports a failure before exec here; at exec the pipe closes empty.
  int failed_at[2] = {0, 0};
  if (::read(report_rd.get(), failed_at, sizeof failed_at) == static_cast<ssize_t>(sizeof failed_at)) {
    kids.wait(pid);
    const char* step = failed_at[0] == step_hook ? c.before_exec_step : child_steps[failed_at[0]];
    return fail(failed_at[0] == step_exec && failed_at[1] == ENOENT ? errc::not_found : errc::io,
                "Failed to run '{}': {}: {}", c.exec, step, std::strerror(failed_at[1]));
  }

  // The calling thread polls the pipes, the child's pidfd and the cancel descriptor.
  unique_fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  command_outcome o;
  bool exited = false, eof = false, err_eof = !err;
  auto deadline = clock::now() + l.timeout;
  std::optional<clock::time_point> kill_at;  // TERM sent: KILL at this time
  clock::time_point exited_at;
  auto reap = [&] {
    if (exited) return;
    if (auto s = kids.ended(pid)) {
      o.status = *s;
      exited = true;
      exited_at = clock::now();
      // Whatever the program left running in its group would keep the pipe open.
      ::kill(-pid, SIGKILL);
    }
  };
  auto terminate = [&] {
    if (kill_at) return;
    ::kill(-pid, SIGTERM);
    kill_at = clock::now() + l.kill_grace;
  };
  char buf[16384];
  while (!eof || !err_eof || !exited) {
    auto now = clock::now();
    if (!exited && now >= deadline && !kill_at) {
      o.timed_out = true;
      terminate();
    }
    if (kill_at && now >= *kill_at) {
      ::kill(-pid, SIGKILL);
      kill_at = now + l.kill_grace;  // keep retrying, group members may have been forking
    }
    auto next = kill_at ? *kill_at : deadline;
    int wait_ms = static_cast<int>(std::max<long>(1, std::chrono::duration_cast<milliseconds>(next - now).count()));
    if (exited && (!eof || !err_eof)) wait_ms = std::min(wait_ms, 1000);
    bool watching_cancel = cancel_fd >= 0 && !o.cancelled;
    pollfd p[4] = {{eof ? -1 : rd.get(), POLLIN, 0},
                   {exited ? -1 : pidfd.get(), POLLIN, 0},
                   {watching_cancel ? cancel_fd : -1, POLLIN, 0},
                   {err_eof ? -1 : err->first.get(), POLLIN, 0}};
    int n = ::poll(p, 4, pidfd.get() < 0 && !exited ? std::min(wait_ms, 50) : wait_ms);
    if (n < 0 && errno != EINTR) break;
    if (p[2].revents & POLLIN && watching_cancel) {
      o.cancelled = true;
      terminate();
    }
    if (p[0].revents & (POLLIN | POLLHUP)) {
      auto r = ::read(rd.get(), buf, sizeof buf);
      if (r <= 0) {
        if (r == 0 || errno != EINTR) eof = true;
      } else if (!o.stopped_early && !on_output(std::string_view(buf, static_cast<std::size_t>(r)))) {
        // Reading goes on (so nothing blocks on a full pipe) until the group is gone.
        o.stopped_early = true;
        terminate();
      }
    }
    if (p[3].revents & (POLLIN | POLLHUP)) {
      auto r = ::read(err->first.get(), buf, sizeof buf);
      if (r <= 0) {
        if (r == 0 || errno != EINTR) err_eof = true;
      } else {
        o.stderr_tail.append(buf, static_cast<std::size_t>(r));
        if (o.stderr_tail.size() > l.stderr_tail) o.stderr_tail.erase(0, o.stderr_tail.size() - l.stderr_tail);
      }
    }
    reap();
    // A process that left the group (setsid) may hold a pipe open: stop reading after a grace.
    if (exited && (!eof || !err_eof) && clock::now() >= exited_at + l.kill_grace) break;
  }
  if (!exited) {
    ::kill(-pid, SIGKILL);
    o.status = kids.wait(pid);
  }
  // As its PID namespace's init this process inherits what the group left: collect it.
  kids.collect_group(pid, l.kill_grace);
  return o;
}

std::optional<std::string> find_executable(std::string_view name, std::string_view path) {
  for (std::size_t start = 0; start <= path.size();) {
    auto end = std::min(path.find(':', start), path.size());
    auto dir = path.substr(start, end - start);
    start = end + 1;
    if (dir.empty() || dir.front() != '/') continue;
    auto file = std::string(dir) + "/" + std::string(name);
    struct stat st;
    if (::stat(file.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(file.c_str(), X_OK) == 0) return file;
  }
  return std::nullopt;
}

}  // namespace weft
