#pragma once
/// Starting a child the way weftd wants it: an explicit environment (nothing inherited
/// but a short allow-list), its notify socket on fd 3, a credential on fd 4, no other
/// fds, no_new_privs, no core dumps, its own process group, and death when weftd dies.
/// A sandboxed child is created in the namespaces its sandbox asks for (a network and a PID
/// namespace of its own, of which it is the init) and confined (libs/sandbox) right before exec.

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <weft/base/fd.hh>
#include <weft/base/result.hh>
#include <weft/service/config.hh>

namespace weft::weftd {

struct spawn_request {
  std::string exec;
  std::vector<std::string> args;
  std::map<std::string, std::string> env;  ///< the complete environment of the child
  std::string credential;                  ///< written to a pipe the child reads on fd 4
  /// When enabled: rlimits, Landlock, seccomp applied in the child just before exec (the
  /// executable itself is added to read_only). The child's $WEFT_SANDBOX then says what
  /// applied ("landlock=7 seccomp=1 scoped=1"); Landlock missing is a warning, not a failure.
  service::sandbox_spec sandbox;
};

struct spawned {
  pid_t pid;
  unique_fd notify_fd;  ///< our end of the child's notify socket (SOCK_SEQPACKET, non-blocking)
  /// The namespaces its sandbox created it in (CLONE_NEWNET, CLONE_NEWPID; 0: none), what
  /// weftd's control socket refuses a peer in (peer_guard). Their ids are read later, from
  /// /proc/<pid>/ns, once the child has exec'd: reading them sooner waits for the exec.
  int ns_flags = 0;
  /// What the sandbox applied, as its $WEFT_SANDBOX says it ("landlock=7 seccomp=1 …");
  /// empty when it runs without one. Reported in the status (ServiceInfo.sandbox).
  std::string sandbox;
};

inline constexpr int child_notify_fd = 3;
inline constexpr int child_credential_fd = 4;

/// Checks that `exec` is an executable file, with a message a person can act on.
status check_executable(const std::string& exec);

/// Forks and execs. Exec and sandbox failures in the child show as exit status 127, a line
/// on stderr and the same text as STATUS= on its notify socket (what `weftctl status` shows).
result<spawned> spawn(const spawn_request& r);

/// The variables of weftd's own environment that children inherit when set.
std::map<std::string, std::string> base_environment();

/// "exited with status 3", "killed by signal 9"
std::string describe_exit(int wait_status);

}  // namespace weft::weftd
