#pragma once
/// Who may speak on weftd's control socket. The socket's file mode (0600) admits every
/// process of weftd's user — including the sandboxed tool processes and the commands the
/// shell tool runs, which Landlock does not keep from connecting to a UNIX socket by path.
/// Through it a command could stop services, reload, or get a `ctl/<pid>` bus token (admin
/// on the bus). So weftd looks at each peer when it connects (SO_PEERCRED, which libzmq
/// hands the ZAP handler as the peer's address) and refuses one that is a sandboxed tool
/// process, runs in the network or PID namespace of one (every tool process has both of its
/// own, and all it starts inherits them), or descends from one (where the system permitted
/// no namespaces). Plain functions: the supervisor feeds them, the tests fake /proc.

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <weft/base/result.hh>

namespace weft::weftd {

/// The namespaces of a process, as inode numbers of /proc/<pid>/ns/{net,pid}.
struct namespace_ids {
  std::uint64_t net = 0, pid = 0;
};

/// Reads /proc/<pid>/ns/{net,pid}. errc::not_found when the process is gone; errc::io when
/// they cannot be read (not weftd's user and weftd not privileged over it).
result<namespace_ids> namespaces_of(pid_t pid);

/// A control peer as the kernel described it when it connected.
struct peer_credentials {
  pid_t pid = 0;  ///< 0: in a PID namespace weftd cannot see into (never a tool of weftd's)
  uid_t uid = 0;
  gid_t gid = 0;
};

/// libzmq's ZAP address of an IPC peer: "<address>:<uid>:<gid>:<pid>"; nullopt when it
/// carries no credentials.
std::optional<peer_credentials> parse_zap_address(std::string_view address);

/// A child weftd sandboxed: the service's name, its pid and the namespaces it was created
/// in (zero when it has none of its own).
struct sandboxed_child {
  std::string service;
  pid_t pid = 0;
  namespace_ids ns;
};

/// What the guard reads of a process: /proc in weftd (proc_processes()), a table in tests.
struct process_view {
  std::function<result<namespace_ids>(pid_t)> namespaces;
  std::function<pid_t(pid_t)> parent;  ///< 0 when unknown or gone
};
process_view proc_processes();

/// nullopt when `peer` may use the control socket; else why not ("it runs in the network
/// namespace of 'tool-shell-a' (pid 4242)"). `self_uid`: weftd's effective user.
std::optional<std::string> refusal(const peer_credentials& peer, std::span<const sandboxed_child> tools,
                                   uid_t self_uid, const process_view& procs);

}  // namespace weft::weftd
