#include "spawn.hh"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <initializer_list>
#include <mutex>
#include <optional>
#include <set>

#include <fmt/core.h>

#include <weft/base/log.hh>
#include <weft/sandbox/sandbox.hh>

#include "peer_guard.hh"

namespace weft::weftd {

status check_executable(const std::string& exec) {
  struct stat st;
  if (::stat(exec.c_str(), &st) != 0)
    return fail(errc::not_found, "Failed to start '{}': {}", exec, std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return fail(errc::invalid_argument, "Failed to start '{}': not a regular file", exec);
  if (::access(exec.c_str(), X_OK) != 0)
    return fail(errc::invalid_argument, "Failed to start '{}': {}", exec, std::strerror(errno));
  return {};
}

std::map<std::string, std::string> base_environment() {
  std::map<std::string, std::string> env;
  for (const char* k : {"PATH", "HOME", "LANG", "LC_ALL", "TZ", "JOURNAL_STREAM", "WEFT_LOG", "USER", "LOGNAME"})
    if (const char* v = std::getenv(k)) env[k] = v;
  if (!env.count("PATH")) env["PATH"] = "/usr/local/bin:/usr/bin:/bin";
  return env;
}

std::string describe_exit(int ws) {
  if (WIFEXITED(ws)) return fmt::format("exited with status {}", WEXITSTATUS(ws));
  if (WIFSIGNALED(ws)) return fmt::format("killed by signal {} ({})", WTERMSIG(ws), sigabbrev_np(WTERMSIG(ws)) ? sigabbrev_np(WTERMSIG(ws)) : "?");
  return fmt::format("ended with wait status {}", ws);
}

namespace {

/// In the forked child, before exec: says why it cannot go on, on stderr ("weftd: …") and
/// as STATUS= on the notify socket, then exits 127. Only async-signal-safe calls.
[[noreturn]] void child_failed(std::initializer_list<const char*> parts) {
  char line[512] = "STATUS=";
  std::size_t n = 7;
  for (const char* p : parts)
    for (; *p && n < sizeof line - 1; ++p) line[n++] = *p;
  [[maybe_unused]] auto w1 = ::write(2, "weftd: ", 7);
  [[maybe_unused]] auto w2 = ::write(2, line + 7, n - 7);
  [[maybe_unused]] auto w3 = ::write(2, "\n", 1);
  ::send(child_notify_fd, line, n, MSG_NOSIGNAL | MSG_DONTWAIT);
  ::_exit(127);
}

/// fork(), or a child created in the namespaces of `flags` (CLONE_NEWNET, CLONE_NEWPID, …):
/// the raw clone syscall without a new stack is fork with those flags (glibc has no wrapper
/// for that; the child only makes raw syscalls until exec, as after any fork here).
pid_t fork_into(int flags) {
  if (flags == 0) return ::fork();
  return static_cast<pid_t>(::syscall(SYS_clone, static_cast<unsigned long>(flags) | SIGCHLD, nullptr, nullptr, nullptr, 0));
}

}  // namespace

result<spawned> spawn(const spawn_request& r) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
    return fail(errc::io, "Failed to create a notify socket for '{}': {}", r.exec, std::strerror(errno));
  int cred[2];
  if (::pipe2(cred, O_CLOEXEC) != 0) {
    int e = errno;
    ::close(sv[0]);
    ::close(sv[1]);
    return fail(errc::io, "Failed to create a credential pipe for '{}': {}", r.exec, std::strerror(e));
  }
  // A credential is tiny; the pipe buffer takes it without blocking.
  if (!r.credential.empty()) {
    [[maybe_unused]] auto n = ::write(cred[1], r.credential.data(), r.credential.size());
  }
  ::close(cred[1]);

  // Everything the child needs is prepared before fork: after fork only async-signal-safe
  // calls. That includes the sandbox: paths opened, Landlock ruleset built, seccomp program
  // compiled here; the child only hands them to the kernel.
  std::optional<sandbox::prepared> sb;
  auto env = r.env;
  if (r.sandbox.enabled) {
    auto spec = r.sandbox;
    spec.read_only.push_back(r.exec);  // exec itself must be readable and executable
    auto p = sandbox::prepare(spec);
    if (!p) {
      ::close(sv[0]);
      ::close(sv[1]);
      ::close(cred[0]);
      return fail(errc::io, "Failed to sandbox '{}': {}", r.exec, p.err().message);
    }
    // Each distinct warning once per weftd (e.g. "Landlock is not available").
    static std::mutex warned_mu;
    static std::set<std::string> warned;
    std::lock_guard lock(warned_mu);
    for (auto& w : p->what().warnings)
      if (warned.insert(w).second) log::get("weftd").warning("{}: {}", r.exec, w);
    env["WEFT_SANDBOX"] = p->what().summary();
    sb = std::move(*p);
  }
  std::vector<std::string> env_strings;
  for (auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp, argv;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string exec = r.exec;
  argv.push_back(exec.data());
  std::vector<std::string> args = r.args;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t parent = ::getpid();
  int ns_flags = sb ? sb->clone_flags() : 0;
  // In a PID namespace of its own the child's getppid() is 0: it watches weftd's pidfd instead.
  unique_fd parent_fd;
  if (ns_flags & CLONE_NEWPID) parent_fd = unique_fd(static_cast<int>(::syscall(SYS_pidfd_open, parent, 0)));

  pid_t pid = fork_into(ns_flags);
  if (pid < 0) {
    int e = errno;
    ::close(sv[0]);
    ::close(sv[1]);
    ::close(cred[0]);
    return fail(errc::io, "Failed to fork for '{}': {}", r.exec, std::strerror(e));
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    // weftd died between fork and prctl?
    if (parent_fd) {
      pollfd p{parent_fd.get(), POLLIN, 0};
      if (::poll(&p, 1, 0) != 0) ::_exit(127);
    } else if (::getppid() != parent) {
      ::_exit(127);
    }
    ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    // Its own process group: a Ctrl-C at weftd's terminal reaches weftd only, which then
    // stops the services in order.
    ::setpgid(0, 0);
    struct rlimit no_core{0, 0};
    ::setrlimit(RLIMIT_CORE, &no_core);
    // Signals weftd blocked for its signalfd must be unblocked for the child.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    // The ruleset fd may sit on 3 or 4: move it out of the way of the dup2s below.
    if (sb && !sb->move_fds_above(10)) ::_exit(127);
    // dup2 onto fixed numbers; careful when the source already sits on a target number.
    int n = ::fcntl(sv[1], F_DUPFD, 10);
    int c = ::fcntl(cred[0], F_DUPFD, 10);
    if (n < 0 || c < 0 || ::dup2(n, child_notify_fd) < 0 || ::dup2(c, child_credential_fd) < 0) ::_exit(127);
    if (sb) {
      // Last before exec (it closes its ruleset fd itself; close_range below is still allowed).
      if (const char* step = sb->apply_in_child()) {
        const char* why = std::strerror(errno);
        child_failed({"Failed to sandbox '", argv[0], "': ", step, ": ", why});
      }
    }
    ::close_range(child_credential_fd + 1, ~0U, 0);
    ::execve(argv[0], argv.data(), envp.data());
    const char* why = std::strerror(errno);
    child_failed({"Failed to exec '", argv[0], "': ", why});
  }
  ::close(sv[1]);
  ::close(cred[0]);
  ::fcntl(sv[0], F_SETFL, ::fcntl(sv[0], F_GETFL) | O_NONBLOCK);
  std::string summary = sb ? env["WEFT_SANDBOX"] : std::string();
  return spawned{pid, unique_fd(sv[0]), ns_flags & (CLONE_NEWNET | CLONE_NEWPID), std::move(summary)};
}

}  // namespace weft::weftd
