#pragma once
/// Collecting the exits of the commands a tool process runs (run_command in command.hh),
/// from several worker threads at once, when this process may be the init of a PID
/// namespace. weftd starts the tool
/// processes in a PID namespace of their own (so that killing one kills everything it
/// started); there the tool process is PID 1, and whatever a command leaves behind — a
/// background job whose shell exited, the members of its process group killed at its end —
/// is reparented to it and stays a zombie until it is reaped. A worker that reaps only its
/// own command (waitpid(pid)) would never collect them; one that reaps everything
/// (waitpid(-1)) would take the exits of other workers' commands. So every exit goes through
/// here: as PID 1 every ended child is collected, the status of a tracked command kept for
/// its worker, the others dropped; otherwise each command is collected by its own pid.

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>

namespace weft {

class children {
 public:
  /// The one registry of this process (its children are per process).
  static children& of_this_process();

  /// Whether this process is the init of its PID namespace (and so inherits orphans). Asked
  /// each time: a forked copy of this process is another one.
  static bool is_init();

  /// Starts a child with `start` (returns its pid, or -1) while nothing can collect it: its
  /// exit is kept for ended() and wait() even if it ends at once.
  pid_t start(const std::function<pid_t()>& start);

  /// The wait status of `pid` if it has ended (it is then forgotten); nullopt while it runs.
  /// As PID 1, collects every other child that ended too.
  std::optional<int> ended(pid_t pid);

  /// Blocks until `pid` has ended; its wait status.
  int wait(pid_t pid);

  /// As PID 1: after `pgid` was killed, collects its members as they end (they are
  /// reparented here as their parents die), for at most `grace`. Elsewhere nothing to do.
  void collect_group(pid_t pgid, std::chrono::milliseconds grace);

 private:
  /// Reaps every ended child; keeps tracked statuses. Caller holds _mu.
  void sweep_locked();

  std::mutex _mu;
  std::map<pid_t, std::optional<int>> _tracked;
};

}  // namespace weft
