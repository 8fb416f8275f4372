#pragma once
/// Confining a child process before exec, so a tool that runs model-chosen commands cannot
/// reach beyond its workspace: lowered rlimits, Landlock filesystem rules, no_new_privs and
/// a seccomp filter that refuses the syscalls a tool never needs (ptrace, mount, bpf, …).
///
/// Two ways to use it:
///  - `prepare()` in the parent (it allocates, opens paths, builds the Landlock ruleset and
///    the seccomp BPF program), then `prepared::apply_in_child()` in the forked child: only
///    raw syscalls, no allocation, safe between fork and exec.
///  - `apply()` in a single-threaded process that confines itself (tests, tools).
///
/// Landlock is best effort: on a kernel without it the rest still applies and the report
/// says so (weftd logs one warning). seccomp and rlimits are not optional. A network
/// namespace (spec::own_network) and a PID namespace (spec::own_pids) of its own are made
/// when the child is created (clone with prepared::clone_flags()), before anything else;
/// where the system permits none, no internet sockets at all is the fallback, with a warning.
///
/// `command_filter` is the extra rule the shell tool puts on each command it runs: no
/// AF_UNIX socket of its own, so no socket file (weftd's control socket, the bus, another
/// agent's egress) is reachable from a command, whatever Landlock allows.

#include <linux/filter.h>

#include <cstdint>
#include <string>
#include <vector>

#include <weft/base/result.hh>
#include <weft/sandbox/spec.hh>

namespace weft::sandbox {

/// The Landlock ABI version the kernel offers (1 … 7 at the time of writing); 0 when
/// Landlock is not available (not built in, disabled at boot, or blocked).
int landlock_abi();

/// How a child gets a network namespace of its own here: a plain one (CAP_SYS_ADMIN, i.e.
/// weftd runs as root), one inside a new user namespace (an unprivileged user, where the
/// kernel allows unprivileged user namespaces), or none (`why` says what refused it); and
/// whether a PID namespace can be made with it (`pids`; `pids_why` when not: a policy such
/// as systemd's RestrictNamespaces= may allow one kind and not the other).
/// Found once per process (and effective user) by trying each way in a short-lived child.
struct network_isolation {
  enum class mode : std::uint8_t { none = 0, netns = 1, userns = 2 };
  mode how = mode::none;
  bool pids = false;
  std::string why;       ///< for mode::none: "unshare(CLONE_NEWUSER|CLONE_NEWNET): Operation not permitted"
  std::string pids_why;  ///< for !pids: "unshare(CLONE_NEWNET|CLONE_NEWPID): Operation not permitted"
};
network_isolation probe_network_isolation();

/// What was (or will be) applied, for logs and for $WEFT_SANDBOX.
struct report {
  int landlock_abi = 0;          ///< 0: no Landlock, filesystem rules not enforced
  std::uint64_t handled_fs = 0;  ///< the LANDLOCK_ACCESS_FS_* rights the ruleset handles
  bool scoped = false;           ///< ABI ≥ 6: signals and abstract UNIX sockets scoped
  bool seccomp = false;
  /// own_network asked: "netns" (a plain namespace), "userns" (inside a user namespace) or
  /// "none" (neither was possible: no internet sockets instead); empty when not asked.
  std::string network;
  /// own_pids asked: "own" (a PID namespace, the child its init) or "shared" (not possible
  /// here); empty when not asked.
  std::string pids;
  bool proc = false;  ///< own_proc asked and a mount namespace comes with the PID namespace
  std::vector<std::string> warnings;  ///< "Failed to …, ignoring." lines: paths skipped, no Landlock
  /// "landlock=7 seccomp=1 scoped=1" (+ " net=netns" when own_network was asked, + " pids=own"
  /// when own_pids was), the form weftd puts in $WEFT_SANDBOX.
  std::string summary() const;
};

/// Everything the child needs, prepared before fork. Move-only; closes its fds.
class prepared {
 public:
  prepared() = default;
  prepared(prepared&& o) noexcept;
  prepared& operator=(prepared&& o) noexcept;
  prepared(const prepared&) = delete;
  prepared& operator=(const prepared&) = delete;
  ~prepared();

  const report& what() const { return _report; }

  /// Moves the ruleset fd to a number ≥ `min_fd` (so a following dup2 onto low numbers
  /// cannot clobber it). Async-signal-safe. Returns false on failure.
  bool move_fds_above(int min_fd) noexcept;

  /// The namespace flags (CLONE_NEWNET, CLONE_NEWPID, CLONE_NEWUSER) the child must be
  /// created with: `clone(clone_flags() | SIGCHLD)` instead of fork. 0: none.
  int clone_flags() const noexcept;

  /// In the child (created with clone_flags()), just before exec: the namespaces finished
  /// (id maps, lo up), rlimits, no_new_privs, Landlock, seccomp, in that order.
  /// Async-signal-safe: raw syscalls on data prepared in the parent. Returns nullptr on
  /// success, else a static description of the step that failed (errno set).
  const char* apply_in_child() noexcept;

 private:
  friend result<prepared> prepare(const sandbox::spec& spec);
  friend status apply(const sandbox::spec& spec);
  struct limit {
    int resource;
    std::uint64_t value;
  };
  /// A path that names a different object in the child (/proc/self/…): opened there.
  struct deferred_rule {
    std::string path;
    std::uint64_t rights;
  };
  report _report;
  int _ruleset_fd = -1;
  limit _limits[4] = {};
  int _limit_count = 0;
  std::vector<sock_filter> _filter;
  std::vector<deferred_rule> _deferred;
  std::uint64_t _handled = 0;
  network_isolation::mode _netns = network_isolation::mode::none;
  bool _pids = false;
  bool _proc = false;      // a mount namespace with a fresh /proc (own_proc, with _pids)
  std::uint64_t _proc_rights = 0;
  char _uid_map[48] = {};  // "<euid> <euid> 1\n" for a user namespace
  char _gid_map[48] = {};
};

/// Builds the rules of `spec` in the calling process: opens read_write (created when
/// missing) and read_only paths (a missing one is skipped with a warning; /proc/self and
/// /proc/thread-self paths are opened in the child, where they name the child), creates the
/// Landlock ruleset for every right the kernel's ABI knows, and compiles the seccomp filter.
result<prepared> prepare(const sandbox::spec& spec);

/// prepare() + apply_in_child() for the calling process itself (single-threaded: it
/// unshares the namespaces own_network asks for; own_pids does not apply). Landlock missing
/// is logged once as a warning and not an error.
status apply(const sandbox::spec& spec);

/// What the shell tool adds for each command it runs, on top of the sandbox the tool itself
/// is in (which the command inherits): socket(AF_UNIX) and socketpair(AF_UNIX, SOCK_DGRAM)
/// refused with EPERM. Landlock (through ABI 7) does not control connect() to a UNIX socket
/// by path, so without this a command could reach every socket file it can name — weftd's
/// control socket, the bus, another agent's egress — and with a datagram socketpair send to
/// any datagram socket by path (journald, /dev/log). A stream socketpair stays allowed: it
/// is connected to itself and can reach nothing else.
class command_filter {
 public:
  /// Compiles the filter (libseccomp) in the calling process.
  static result<command_filter> prepare();
  /// In the forked child, before exec: no_new_privs, then the filter. Async-signal-safe.
  /// Returns nullptr on success, else the step that failed (errno set).
  const char* apply_in_child() const noexcept;
  /// apply_in_child() in the form of weft::command_spec::before_exec, `filter` being a
  /// command_filter: true when it applied.
  static bool before_exec(const void* filter) noexcept {
    return static_cast<const command_filter*>(filter)->apply_in_child() == nullptr;
  }

 private:
  std::vector<sock_filter> _filter;
};

/// One more Landlock layer for the calling thread (and what it starts later): the paths it
/// may still use and, where the kernel has network rules (ABI ≥ 4), the TCP ports it may
/// still connect to (none: no TCP connect or bind at all). What the plugin host puts on each
/// thread that runs plugins, derived from the union of their manifests' permissions: a host
/// escaped from the engine is still held to what the plugins were granted. Layers stack: a
/// thread can only lose rights, never gain them back.
class thread_layer {
 public:
  struct spec {
    std::vector<std::string> read_write;  ///< created when missing
    std::vector<std::string> read_only;   ///< skipped when missing (a warning)
    std::vector<std::uint16_t> connect_ports;
  };
  /// errc::unavailable when the kernel has no Landlock at all.
  static result<thread_layer> prepare(const spec& s);
  thread_layer() = default;
  thread_layer(thread_layer&& o) noexcept : _fd(o._fd), _net(o._net), _warnings(std::move(o._warnings)) { o._fd = -1; }
  thread_layer& operator=(thread_layer&&) = delete;
  thread_layer(const thread_layer&) = delete;
  ~thread_layer();
  /// On the calling thread: no_new_privs, then the layer. nullptr on success, else the step.
  const char* apply() const noexcept;
  bool confines_network() const { return _net; }  ///< ABI ≥ 4: the TCP rules are in it
  const std::vector<std::string>& warnings() const { return _warnings; }

 private:
  int _fd = -1;
  bool _net = false;
  std::vector<std::string> _warnings;
};

/// Landlock's network rules (ABI 4 and later): TCP connect() only to the given ports (on
/// any address: what a port reaches is the network namespace's business — inside a tool's
/// own namespace only its relays listen) and no TCP bind(). What the shell tool puts on a
/// command it runs for a skill with a network list (only that skill's relay port), and what
/// the plugin host puts on the threads that make plugins' fetches (only their relay ports).
/// Where the kernel has no network rules, prepare() fails with errc::unavailable and says so.
class tcp_ports {
 public:
  static result<tcp_ports> prepare(const std::vector<std::uint16_t>& connect_ports);
  tcp_ports() = default;
  tcp_ports(tcp_ports&& o) noexcept : _fd(o._fd) { o._fd = -1; }
  tcp_ports& operator=(tcp_ports&& o) noexcept;
  tcp_ports(const tcp_ports&) = delete;
  tcp_ports& operator=(const tcp_ports&) = delete;
  ~tcp_ports();
  /// In a forked child before exec, or on the calling thread only (Landlock confines the
  /// thread that asks and what it starts later): no_new_privs, then the rules.
  /// Async-signal-safe. nullptr on success, else the step that failed (errno set).
  const char* apply() const noexcept;
  /// apply() in the form of weft::command_spec::before_exec.
  static bool before_exec(const void* rules) noexcept { return static_cast<const tcp_ports*>(rules)->apply() == nullptr; }

 private:
  int _fd = -1;
};

}  // namespace weft::sandbox
