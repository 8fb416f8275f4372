#include <weft/base/children.hh>

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

namespace weft {

children& children::of_this_process() {
  static children c;
  return c;
}

bool children::is_init() { return ::getpid() == 1; }

pid_t children::start(const std::function<pid_t()>& start) {
  std::lock_guard lock(_mu);
  pid_t pid = start();
  if (pid > 0) _tracked[pid] = std::nullopt;
  return pid;
}

void children::sweep_locked() {
  for (;;) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    if (auto it = _tracked.find(pid); it != _tracked.end()) it->second = status;
  }
}

std::optional<int> children::ended(pid_t pid) {
  std::lock_guard lock(_mu);
  auto it = _tracked.find(pid);
  if (it == _tracked.end()) return std::nullopt;
  if (is_init()) {
    sweep_locked();
  } else if (!it->second) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) it->second = status;
  }
  auto status = it->second;
  if (status) _tracked.erase(it);
  return status;
}

int children::wait(pid_t pid) {
  for (;;) {
    {
      std::lock_guard lock(_mu);
      if (!_tracked.count(pid)) return 0;  // not one of ours, or collected already
    }
    if (auto s = ended(pid)) return *s;
    // Outside the lock, so other workers go on. If a sweep collects it meanwhile, this
    // waitpid fails (ECHILD) and the next round finds the status in the table.
    int status = 0;
    if (::waitpid(pid, &status, 0) == pid) {
      std::lock_guard lock(_mu);
      _tracked.erase(pid);
      return status;
    }
  }
}

void children::collect_group(pid_t pgid, std::chrono::milliseconds grace) {
  if (!is_init()) return;
  auto until = std::chrono::steady_clock::now() + grace;
  for (;;) {
    {
      std::lock_guard lock(_mu);
      sweep_locked();
    }
    // A zombie still counts as a member: the group is gone once all are collected.
    if (::kill(-pgid, 0) != 0 || std::chrono::steady_clock::now() >= until) return;
    // Members die at once (SIGKILL) but are reparented here only as their parents go:
    // there is nothing to wait on for that but time.
    ::poll(nullptr, 0, 5);
  }
}

}  // namespace weft
