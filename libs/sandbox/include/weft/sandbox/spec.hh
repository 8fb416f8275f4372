#pragma once
/// What weftd confines a child to before exec (Landlock, seccomp, rlimits): plain data, so
/// the config (libs/service) can describe it and weftd's spawn can apply it without the
/// sandbox depending on the config.

#include <cstdint>
#include <string>
#include <vector>

namespace weft::sandbox {

/// Derived for per-agent tool processes; not settable in [services.*] yet.
struct spec {
  bool enabled = false;
  std::vector<std::string> read_write;  ///< paths with full access (the agent workspace)
  std::vector<std::string> read_only;   ///< paths readable and executable (/usr, /etc, …)
  bool deny_network = false;            ///< seccomp: no socket() except AF_UNIX
  /// A network namespace of its own, where only its own `lo` exists (brought up), so
  /// 127.0.0.1 is not the host's and nothing else is routed. Entered with a user namespace
  /// when a plain one is not permitted; where neither is, deny_network applies instead
  /// (prepare() says so in a warning).
  bool own_network = false;
  /// A PID namespace of its own, the process its init: when it ends, however it ends, the
  /// kernel kills everything it started, so no command outlives a killed tool process.
  /// Only with own_network, created together (it needs the same permission); where the
  /// system permits none, skipped with a warning. Only for a spawned child (clone), not for
  /// apply() on the calling process.
  bool own_pids = false;
  /// With own_pids: a mount namespace of its own with a fresh procfs on /proc, which shows
  /// only the processes of its PID namespace (itself and what it started), readable in the
  /// sandbox. For programs that read /proc/self/maps and the like in the children the tool
  /// starts (Claude Code aborts without it), which a /proc/self rule naming the tool itself
  /// cannot cover. Where the mount is refused, /proc stays closed (a warning-free fallback:
  /// the program fails and says so).
  bool own_proc = false;
  std::uint64_t max_address_space = 0;  ///< RLIMIT_AS bytes; 0: unchanged
  std::uint64_t max_open_files = 0;     ///< RLIMIT_NOFILE; 0: unchanged
  std::uint64_t max_processes = 0;      ///< RLIMIT_NPROC; 0: unchanged
  std::uint64_t max_file_size = 0;      ///< RLIMIT_FSIZE bytes; 0: unchanged
  bool operator==(const spec&) const = default;
};

}  // namespace weft::sandbox
