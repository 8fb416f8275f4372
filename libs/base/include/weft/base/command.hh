#pragma once
/// Running a program in a process group of its own and waiting for it without ever hanging:
/// what a tool process does for a shell command or a delegated Claude Code run. The program
/// gets stdin from /dev/null, its output on a pipe handed to the caller chunk by chunk (so a
/// long run streams), stderr on the same pipe or kept apart; at the time limit, or when the
/// caller's cancel descriptor becomes readable, the whole group gets TERM and, after a
/// grace, KILL. Exits go through weft::children (correct as a PID namespace's init too).
///
/// Blocks the calling thread (a tool server's worker); the callbacks run on it.

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <weft/base/result.hh>

namespace weft {

struct command_spec {
  std::string exec;                ///< the program: an absolute path (no PATH search)
  std::vector<std::string> argv;   ///< argv[0] included
  std::vector<std::string> env;    ///< NAME=value: the whole environment, nothing inherited
  int dir_fd = -1;                 ///< working directory (an O_PATH descriptor); -1: this one's
  bool merge_stderr = true;        ///< stderr on the output pipe; else kept apart (outcome::stderr_tail)
  /// Called in the forked child right before exec, after everything else (this process
  /// has threads: raw system calls only). Returns false, errno set, to fail the start.
  bool (*before_exec)(const void* arg) noexcept = nullptr;
  const void* before_exec_arg = nullptr;
  const char* before_exec_step = "the pre-exec step";  ///< named in the start failure
};

struct command_limits {
  std::chrono::milliseconds timeout{30000};
  std::chrono::milliseconds kill_grace{2000};  ///< between TERM and KILL, and for a pipe held by a leaver
  std::size_t stderr_tail = 4096;              ///< bytes of stderr kept when not merged
};

struct command_outcome {
  int status = 0;            ///< wait status (WIFEXITED, WEXITSTATUS, …)
  bool timed_out = false;    ///< killed at the time limit
  bool cancelled = false;    ///< killed because cancel_fd became readable
  bool stopped_early = false;  ///< on_output returned false: the group was killed
  std::string stderr_tail;   ///< the last bytes of stderr (merge_stderr false)

  /// "exit status 2", "killed by signal 9 (KILL)".
  std::string describe() const;
  bool succeeded() const;  ///< exited 0, not killed
};

/// Runs `c` until it ends (and its output pipe closes, or kill_grace after its end when
/// something it left holds the pipe). `on_output` gets each chunk read from the output
/// pipe; returning false stops the run (the group is killed, stopped_early set).
/// `cancel_fd` (-1: none) ends the run when readable.
/// Errors: errc::not_found when `exec` does not exist, errc::io when the program could not
/// be started ("Failed to run '<exec>': <step>: <reason>").
result<command_outcome> run_command(const command_spec& c, const command_limits& l, int cancel_fd,
                                    const std::function<bool(std::string_view)>& on_output);

/// The first executable regular file `name` in the directories of `path` (a PATH-style
/// list; relative entries are skipped), as "<dir>/<name>"; nullopt when there is none.
std::optional<std::string> find_executable(std::string_view name, std::string_view path);

}  // namespace weft
