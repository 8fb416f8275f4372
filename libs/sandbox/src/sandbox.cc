#include <weft/sandbox/sandbox.hh>

#include <fcntl.h>
#include <linux/landlock.h>
#include <net/if.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>

#include <weft/base/log.hh>

namespace weft::sandbox {

namespace {

// Rights newer than the system's <linux/landlock.h> (Debian 12 ships ABI 2 headers); the
// values are fixed kernel ABI.
constexpr std::uint64_t fs_refer = 1ULL << 13;      // ABI 2
constexpr std::uint64_t fs_truncate = 1ULL << 14;   // ABI 3
constexpr std::uint64_t fs_ioctl_dev = 1ULL << 15;  // ABI 5
constexpr std::uint64_t scope_abstract_unix = 1ULL << 0;  // ABI 6
constexpr std::uint64_t scope_signal = 1ULL << 1;         // ABI 6

constexpr std::uint64_t fs_read_execute =
    LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;
// The rights that make sense on a rule for a file (not a directory); others are EINVAL.
constexpr std::uint64_t fs_file_rights = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |
                                         LANDLOCK_ACCESS_FS_READ_FILE | fs_truncate | fs_ioctl_dev;

// The ruleset attribute as of ABI 6; older kernels get a prefix of it (see rules_size).
struct ruleset_attr {
  std::uint64_t handled_access_fs;
  std::uint64_t handled_access_net;
  std::uint64_t scoped;
};

/// Every filesystem right the kernel's ABI knows: the ruleset must handle all of them, or
/// the unhandled ones stay allowed.
std::uint64_t fs_rights_for(int abi) {
  std::uint64_t r = (1ULL << 13) - 1;  // ABI 1: EXECUTE … MAKE_SYM
  if (abi >= 2) r |= fs_refer;
  if (abi >= 3) r |= fs_truncate;
  if (abi >= 5) r |= fs_ioctl_dev;
  return r;
}

/// Syscalls a tool never needs and that widen what a compromised one could do.
constexpr const char* denied_syscalls[] = {
    "ptrace", "process_vm_readv", "process_vm_writev",                       // other processes' memory
    "pidfd_getfd",                                                           // and their descriptors (the bus socket)
    "mount", "umount2", "pivot_root", "fsopen", "fsconfig", "fsmount",       // the mount table
    "fspick", "move_mount", "open_tree", "mount_setattr",
    "kexec_load", "kexec_file_load", "reboot", "swapon", "swapoff",          // the machine
    "init_module", "finit_module", "delete_module",                          // the kernel
    "bpf", "perf_event_open", "userfaultfd",                                 // kernel attack surface
    "keyctl", "add_key", "request_key",                                      // keyrings
    "unshare", "setns",                                                      // namespaces
    "open_by_handle_at", "name_to_handle_at",                                // bypasses path checks
    "io_uring_setup", "io_uring_enter", "io_uring_register",                 // bypasses seccomp checks
};

struct fd_guard {
  int fd = -1;
  ~fd_guard() {
    if (fd >= 0) ::close(fd);
  }
};

/// What a filter refuses: the tool's own (`tool`: the denied syscalls, namespace clones,
/// TIOCSTI; `deny_network`: every socket family but AF_UNIX) or a command's (`deny_unix`).
struct filter_rules {
  bool tool = false;
  bool deny_network = false;
  bool deny_unix = false;
};

result<std::vector<sock_filter>> build_filter(const filter_rules& rules) {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (!ctx) return fail(errc::io, "Failed to build the seccomp filter: seccomp_init failed");
  struct ctx_guard {
    scmp_filter_ctx c;
    ~ctx_guard() { seccomp_release(c); }
  } guard{ctx};
  // no_new_privs is set explicitly in apply_in_child(); the filter is loaded by hand.
  seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
  auto add = [&](int nr, std::uint32_t action, unsigned count, const scmp_arg_cmp* args) -> status {
    int rc = seccomp_rule_add_array(ctx, action, nr, count, args);
    if (rc != 0)
      return fail(errc::io, "Failed to build the seccomp filter: rule for syscall {}: {}", nr, std::strerror(-rc));
    return {};
  };
  if (rules.tool) {
    for (const char* name : denied_syscalls) {
      int nr = seccomp_syscall_resolve_name(name);
      if (nr == __NR_SCMP_ERROR) continue;  // not on this architecture
      if (auto s = add(nr, SCMP_ACT_ERRNO(EPERM), 0, nullptr); !s) return s.take_error();
    }
    // clone() creating namespaces is unshare() by another name.
    for (std::uint64_t flag : {CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWNET, CLONE_NEWPID, CLONE_NEWIPC, CLONE_NEWUTS,
                               CLONE_NEWCGROUP}) {
      scmp_arg_cmp c = SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag);
      if (auto s = add(SCMP_SYS(clone), SCMP_ACT_ERRNO(EPERM), 1, &c); !s) return s.take_error();
    }
    // clone3 passes its flags in memory a filter cannot read: ENOSYS makes libc fall back to clone.
    if (auto s = add(SCMP_SYS(clone3), SCMP_ACT_ERRNO(ENOSYS), 0, nullptr); !s) return s.take_error();
    // Pushing characters into the controlling terminal's input.
    scmp_arg_cmp c = SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCSTI);
    if (auto s = add(SCMP_SYS(ioctl), SCMP_ACT_ERRNO(EPERM), 1, &c); !s) return s.take_error();
  }
  if (rules.deny_network) {
    scmp_arg_cmp c = SCMP_A0(SCMP_CMP_NE, AF_UNIX);
    if (auto s = add(SCMP_SYS(socket), SCMP_ACT_ERRNO(EPERM), 1, &c); !s) return s.take_error();
  }
  if (rules.deny_unix) {
    scmp_arg_cmp unix_family = SCMP_A0(SCMP_CMP_EQ, AF_UNIX);
    if (auto s = add(SCMP_SYS(socket), SCMP_ACT_ERRNO(EPERM), 1, &unix_family); !s) return s.take_error();
    // The type argument carries SOCK_CLOEXEC/SOCK_NONBLOCK above the type's four bits.
    scmp_arg_cmp dgram[2] = {SCMP_A0(SCMP_CMP_EQ, AF_UNIX), SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_DGRAM)};
    if (auto s = add(SCMP_SYS(socketpair), SCMP_ACT_ERRNO(EPERM), 2, dgram); !s) return s.take_error();
  }
  // libseccomp 2.5 can only export to an fd; a memfd keeps it in memory.
  fd_guard mem{::memfd_create("weft-seccomp", MFD_CLOEXEC)};
  if (mem.fd < 0) return fail(errc::io, "Failed to build the seccomp filter: memfd_create: {}", std::strerror(errno));
  if (int rc = seccomp_export_bpf(ctx, mem.fd); rc != 0)
    return fail(errc::io, "Failed to build the seccomp filter: export: {}", std::strerror(-rc));
  struct stat st;
  if (::fstat(mem.fd, &st) != 0 || st.st_size <= 0 || st.st_size % sizeof(sock_filter) != 0)
    return fail(errc::io, "Failed to build the seccomp filter: exported program has a bad size");
  std::vector<sock_filter> prog(static_cast<std::size_t>(st.st_size) / sizeof(sock_filter));
  if (::pread(mem.fd, prog.data(), static_cast<std::size_t>(st.st_size), 0) != st.st_size)
    return fail(errc::io, "Failed to build the seccomp filter: reading the exported program: {}", std::strerror(errno));
  return prog;
}

/// Writes `text` to `path` (a /proc/self map file). Async-signal-safe.
bool write_proc(const char* path, const char* text) {
  int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  std::size_t n = std::strlen(text);
  bool ok = ::write(fd, text, n) == static_cast<ssize_t>(n);
  ::close(fd);
  return ok;
}

/// The clone/unshare flags of a way of isolating: a network namespace (inside a new user
/// namespace for mode::userns), with a PID namespace when `pids`.
int namespace_flags(network_isolation::mode how, bool pids, bool proc) {
  if (how == network_isolation::mode::none) return 0;
  int flags = CLONE_NEWNET | (pids ? CLONE_NEWPID : 0) | (pids && proc ? CLONE_NEWNS : 0);
  return how == network_isolation::mode::userns ? flags | CLONE_NEWUSER : flags;
}

/// The name of `flags` for an error message. Async-signal-safe (static strings).
const char* unshare_step(int flags) {
  switch (flags) {
    case CLONE_NEWNET: return "unshare(CLONE_NEWNET)";
    case CLONE_NEWNET | CLONE_NEWPID: return "unshare(CLONE_NEWNET|CLONE_NEWPID)";
    case CLONE_NEWUSER | CLONE_NEWNET: return "unshare(CLONE_NEWUSER|CLONE_NEWNET)";
    case CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWPID: return "unshare(CLONE_NEWUSER|CLONE_NEWNET|CLONE_NEWPID)";
    default: return "unshare";
  }
}

/// In a process already in the namespaces of `how` (created with them, or after unshare):
/// maps the caller's user and group to themselves in a new user namespace, and brings the
/// network namespace's `lo` up, so a program can still listen and connect on 127.0.0.1 —
/// its own. Async-signal-safe: raw syscalls on data prepared before fork. Returns nullptr,
/// or the step that failed (errno set).
const char* finish_namespaces(network_isolation::mode how, const char* uid_map, const char* gid_map) {
  if (how == network_isolation::mode::none) return nullptr;
  if (how == network_isolation::mode::userns) {
    // An unprivileged process may map only its own ids, and its group only once setgroups
    // is denied (the supplementary groups it has stay as they are).
    if (!write_proc("/proc/self/uid_map", uid_map)) return "writing /proc/self/uid_map";
    if (!write_proc("/proc/self/setgroups", "deny") && errno != ENOENT) return "writing /proc/self/setgroups";
    if (!write_proc("/proc/self/gid_map", gid_map)) return "writing /proc/self/gid_map";
  }
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return "socket(AF_INET) to bring lo up";
  ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  std::memcpy(ifr.ifr_name, "lo", 3);
  bool ok = ::ioctl(s, SIOCGIFFLAGS, &ifr) == 0;
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
  ok = ok && ::ioctl(s, SIOCSIFFLAGS, &ifr) == 0;
  int e = errno;
  ::close(s);
  errno = e;
  return ok ? nullptr : "bringing lo up";
}

void format_map(char (&out)[48], unsigned id) {
  auto text = fmt::format("{} {} 1\n", id, id);
  std::memcpy(out, text.c_str(), std::min(text.size() + 1, sizeof out));
}

/// Adds a path-beneath rule for `path` to `ruleset`: created first when `create` (a
/// read_write directory), skipped with a line in `warnings` when missing otherwise; a file
/// gets only the rights a file can have.
status add_path_rule(int ruleset, const std::string& path, std::uint64_t rights, std::uint64_t handled, bool create,
                     std::vector<std::string>& warnings) {
  if (create && ::access(path.c_str(), F_OK) != 0) {  // a file (e.g. /dev/null) is fine too
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) return fail(errc::io, "Failed to create sandbox directory '{}': {}", path, ec.message());
  }
  fd_guard dir{::open(path.c_str(), O_PATH | O_CLOEXEC)};
  if (dir.fd < 0) {
    if (errno == ENOENT && !create) {
      warnings.push_back(fmt::format("Failed to allow '{}' in the sandbox: it does not exist, ignoring.", path));
      return {};
    }
    return fail(errc::io, "Failed to open sandbox path '{}': {}", path, std::strerror(errno));
  }
  struct stat st;
  if (::fstat(dir.fd, &st) != 0) return fail(errc::io, "Failed to inspect sandbox path '{}': {}", path, std::strerror(errno));
  if (!S_ISDIR(st.st_mode)) rights &= fs_file_rights;
  landlock_path_beneath_attr rule{rights & handled, dir.fd};
  if (::syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0) != 0)
    return fail(errc::io, "Failed to add Landlock rule for '{}': {}", path, std::strerror(errno));
  return {};
}

}  // namespace

network_isolation probe_network_isolation() {
  // Once per user this process runs as (a test drops privileges in a child to see the
  // unprivileged way).
  static std::mutex mu;
  static std::map<uid_t, network_isolation> known;
  std::lock_guard lock(mu);
  auto [it, fresh] = known.try_emplace(::geteuid());
  if (!fresh) return it->second;
  it->second = [] {
    network_isolation r;
    char uid_map[48], gid_map[48];
    format_map(uid_map, ::geteuid());
    format_map(gid_map, ::getegid());
    // Each way is tried in a child of its own, which only exits: nothing here changes.
    auto attempt = [&](network_isolation::mode how, bool pids, std::string& why) -> bool {
      int p[2];
      if (::pipe2(p, O_CLOEXEC) != 0) {
        why = fmt::format("pipe2: {}", std::strerror(errno));
        return false;
      }
      pid_t pid = ::fork();
      if (pid < 0) {
        why = fmt::format("fork: {}", std::strerror(errno));
        ::close(p[0]);
        ::close(p[1]);
        return false;
      }
      if (pid == 0) {
        int flags = namespace_flags(how, pids, /*proc=*/false);
        const char* step = ::unshare(flags) != 0 ? unshare_step(flags) : finish_namespaces(how, uid_map, gid_map);
        if (!step) ::_exit(0);
        int msg[2] = {static_cast<int>(std::strlen(step)), errno};
        [[maybe_unused]] auto w1 = ::write(p[1], msg, sizeof msg);
        [[maybe_unused]] auto w2 = ::write(p[1], step, std::strlen(step));
        ::_exit(1);
      }
      ::close(p[1]);
      int ws = 0;
      while (::waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
      }
      char buf[256] = {};
      int msg[2] = {0, 0};
      if (::read(p[0], msg, sizeof msg) == static_cast<ssize_t>(sizeof msg) && msg[0] > 0 &&
          msg[0] < static_cast<int>(sizeof buf))
        [[maybe_unused]] auto n = ::read(p[0], buf, static_cast<std::size_t>(msg[0]));
      ::close(p[0]);
      if (WIFEXITED(ws) && WEXITSTATUS(ws) == 0) return true;
      why = fmt::format("{}: {}", buf[0] ? buf : "the probe child failed", std::strerror(msg[1]));
      return false;
    };
    // Both namespaces where permitted; else the network one alone (a policy may allow it only).
    for (bool pids : {true, false}) {
      std::string& why = pids ? r.pids_why : r.why;
      for (auto how : {network_isolation::mode::netns, network_isolation::mode::userns})
        if (attempt(how, pids, why)) {
          r.how = how;
          r.pids = pids;
          return r;
        }
    }
    return r;
  }();
  return it->second;
}

int landlock_abi() {
  static const int abi = [] {
    long v = ::syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
    return v < 0 ? 0 : static_cast<int>(v);
  }();
  return abi;
}

std::string report::summary() const {
  auto s = fmt::format("landlock={} seccomp={} scoped={}", landlock_abi, seccomp ? 1 : 0, scoped ? 1 : 0);
  if (!network.empty()) s += " net=" + network;
  if (!pids.empty()) s += " pids=" + pids;
  if (proc) s += " proc=own";
  return s;
}

prepared::prepared(prepared&& o) noexcept { *this = std::move(o); }

prepared& prepared::operator=(prepared&& o) noexcept {
  if (this == &o) return *this;
  if (_ruleset_fd >= 0) ::close(_ruleset_fd);
  _report = std::move(o._report);
  _ruleset_fd = o._ruleset_fd;
  o._ruleset_fd = -1;
  std::memcpy(_limits, o._limits, sizeof _limits);
  _limit_count = o._limit_count;
  _filter = std::move(o._filter);
  _deferred = std::move(o._deferred);
  _handled = o._handled;
  _netns = o._netns;
  _pids = o._pids;
  _proc = o._proc;
  _proc_rights = o._proc_rights;
  std::memcpy(_uid_map, o._uid_map, sizeof _uid_map);
  std::memcpy(_gid_map, o._gid_map, sizeof _gid_map);
  return *this;
}

prepared::~prepared() {
  if (_ruleset_fd >= 0) ::close(_ruleset_fd);
}

bool prepared::move_fds_above(int min_fd) noexcept {
  if (_ruleset_fd < 0 || _ruleset_fd >= min_fd) return true;
  int n = ::fcntl(_ruleset_fd, F_DUPFD_CLOEXEC, min_fd);
  if (n < 0) return false;
  ::close(_ruleset_fd);
  _ruleset_fd = n;
  return true;
}

int prepared::clone_flags() const noexcept { return namespace_flags(_netns, _pids, _proc); }

const char* prepared::apply_in_child() noexcept {
  // First: writing the id maps needs /proc, which Landlock closes.
  if (const char* step = finish_namespaces(_netns, _uid_map, _gid_map)) return step;
  // A procfs of its own PID namespace on /proc, in its own mount namespace (mounts do not
  // propagate back: / is made private first). Before Landlock, which forbids mounting.
  // Refused (a container's masked /proc): /proc stays closed, never the host's opened.
  bool proc_mounted = _proc && ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0 &&
                      ::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) == 0;
  for (int i = 0; i < _limit_count; ++i) {
    // Lower only: raising a hard limit needs CAP_SYS_RESOURCE and is never what we want.
    struct rlimit cur;
    if (::getrlimit(_limits[i].resource, &cur) != 0) return "getrlimit";
    rlim_t v = static_cast<rlim_t>(_limits[i].value);
    if (cur.rlim_max == RLIM_INFINITY || cur.rlim_max > v) cur.rlim_max = v;
    if (cur.rlim_cur == RLIM_INFINITY || cur.rlim_cur > cur.rlim_max) cur.rlim_cur = cur.rlim_max;
    if (::setrlimit(_limits[i].resource, &cur) != 0) return "setrlimit";
  }
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return "prctl(PR_SET_NO_NEW_PRIVS)";
  if (_ruleset_fd >= 0) {
    for (auto& d : _deferred) {
      int fd = ::open(d.path.c_str(), O_PATH | O_CLOEXEC);
      if (fd < 0) continue;  // reported as missing in the parent already, if it was
      struct stat st;
      std::uint64_t rights = d.rights;
      if (::fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode)) rights &= fs_file_rights;
      landlock_path_beneath_attr rule{rights & _handled, fd};
      long rc = ::syscall(SYS_landlock_add_rule, _ruleset_fd, LANDLOCK_RULE_PATH_BENEATH, &rule, 0);
      ::close(fd);
      if (rc != 0) return "landlock_add_rule(/proc/self)";
    }
    if (proc_mounted) {
      int fd = ::open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (fd < 0) return "open(/proc) after mounting it";
      landlock_path_beneath_attr rule{_proc_rights & _handled, fd};
      long rc = ::syscall(SYS_landlock_add_rule, _ruleset_fd, LANDLOCK_RULE_PATH_BENEATH, &rule, 0);
      ::close(fd);
      if (rc != 0) return "landlock_add_rule(/proc)";
    }
    if (::syscall(SYS_landlock_restrict_self, _ruleset_fd, 0) != 0) return "landlock_restrict_self";
    ::close(_ruleset_fd);
    _ruleset_fd = -1;
  }
  if (!_filter.empty()) {
    sock_fprog prog{static_cast<unsigned short>(_filter.size()), _filter.data()};
    if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) return "prctl(PR_SET_SECCOMP)";
  }
  return nullptr;
}

result<prepared> prepare(const sandbox::spec& spec) {
  prepared p;
  auto limit = [&](int resource, std::uint64_t v) {
    if (v != 0) p._limits[p._limit_count++] = {resource, v};
  };
  limit(RLIMIT_AS, spec.max_address_space);
  limit(RLIMIT_NOFILE, spec.max_open_files);
  limit(RLIMIT_NPROC, spec.max_processes);
  limit(RLIMIT_FSIZE, spec.max_file_size);

  int abi = landlock_abi();
  p._report.landlock_abi = abi;
  if (abi == 0) {
    p._report.warnings.push_back(
        "Failed to confine the filesystem: Landlock is not available in this kernel, ignoring.");
  } else {
    std::uint64_t handled = fs_rights_for(abi);
    ruleset_attr attr{handled, 0, 0};
    std::size_t size = sizeof(std::uint64_t);  // ABI 1-3: handled_access_fs only
    if (abi >= 4) size = 2 * sizeof(std::uint64_t);
    if (abi >= 6) {
      attr.scoped = scope_abstract_unix | scope_signal;
      size = sizeof attr;
      p._report.scoped = true;
    }
    long fd = ::syscall(SYS_landlock_create_ruleset, &attr, size, 0);
    if (fd < 0) return fail(errc::io, "Failed to create a Landlock ruleset: {}", std::strerror(errno));
    p._ruleset_fd = static_cast<int>(fd);
    p._report.handled_fs = handled;
    p._handled = handled;
    auto add_path = [&](const std::string& path, std::uint64_t rights, bool create) -> status {
      // In weftd, /proc/self is weftd: the child opens these itself.
      if (path == "/proc/self" || path.rfind("/proc/self/", 0) == 0 || path == "/proc/thread-self" ||
          path.rfind("/proc/thread-self/", 0) == 0) {
        p._deferred.push_back({path, rights});
        return {};
      }
      return add_path_rule(p._ruleset_fd, path, rights, handled, create, p._report.warnings);
    };
    for (auto& path : spec.read_write)
      if (auto s = add_path(path, handled, /*create=*/true); !s) return s.take_error();
    for (auto& path : spec.read_only)
      if (auto s = add_path(path, fs_read_execute, /*create=*/false); !s) return s.take_error();
  }
  bool deny_network = spec.deny_network;
  if (spec.own_pids && !spec.own_network)
    return fail(errc::invalid_argument, "Failed to prepare the sandbox: own_pids is made with own_network, which is not set");
  if (spec.own_network) {
    auto iso = probe_network_isolation();
    p._netns = iso.how;
    format_map(p._uid_map, ::geteuid());
    format_map(p._gid_map, ::getegid());
    if (iso.how == network_isolation::mode::netns) {
      p._report.network = "netns";
    } else if (iso.how == network_isolation::mode::userns) {
      p._report.network = "userns";
    } else {
      // Never an unconfined network: without a namespace of its own, no internet at all.
      p._report.network = "none";
      deny_network = true;
      p._report.warnings.push_back(fmt::format(
          "Failed to give tool processes a network namespace of their own ({}); they may open no network "
          "sockets but AF_UNIX instead, so no network = \"public\" either, ignoring.",
          iso.why));
    }
    if (spec.own_pids) {
      p._pids = iso.pids;
      p._report.pids = iso.pids ? "own" : "shared";
      p._proc = spec.own_proc && iso.pids;
      p._proc_rights = fs_read_execute;
      p._report.proc = p._proc;
      // Without a network namespace the warning above already says why; else say it here.
      if (!iso.pids && iso.how != network_isolation::mode::none)
        p._report.warnings.push_back(fmt::format(
            "Failed to give tool processes a PID namespace of their own ({}); a command may outlive a tool "
            "process that is killed, ignoring.",
            iso.pids_why));
    }
  }
  auto filter = build_filter({.tool = true, .deny_network = deny_network});
  if (!filter) return filter.take_error();
  p._filter = std::move(*filter);
  p._report.seccomp = true;
  return p;
}

status apply(const sandbox::spec& spec) {
  auto p = prepare(spec);
  if (!p) return p.take_error();
  // The caller is not created in the namespaces: it enters them (a PID namespace would take
  // only its children, so none, and no /proc of its own either).
  p->_proc = false;
  if (int flags = p->clone_flags() & ~CLONE_NEWPID; flags != 0 && ::unshare(flags) != 0)
    return fail(errc::io, "Failed to apply the sandbox: {}: {}", unshare_step(flags), std::strerror(errno));
  if (!p->what().warnings.empty()) {
    static std::once_flag once;
    std::call_once(once, [&] {
      for (auto& w : p->what().warnings) log::get("sandbox").warning("{}", w);
    });
  }
  if (const char* step = p->apply_in_child())
    return fail(errc::io, "Failed to apply the sandbox: {}: {}", step, std::strerror(errno));
  return {};
}

}  // namespace weft::sandbox

namespace weft::sandbox {

result<command_filter> command_filter::prepare() {
  auto f = build_filter({.deny_unix = true});
  if (!f) return f.take_error();
  command_filter c;
  c._filter = std::move(*f);
  return c;
}

const char* command_filter::apply_in_child() const noexcept {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return "prctl(PR_SET_NO_NEW_PRIVS)";
  sock_fprog prog{static_cast<unsigned short>(_filter.size()), const_cast<sock_filter*>(_filter.data())};
  if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) return "prctl(PR_SET_SECCOMP)";
  return nullptr;
}

}  // namespace weft::sandbox

namespace weft::sandbox {

namespace {

// Landlock's network access rights and rule type (ABI 4), absent from older kernel headers.
constexpr std::uint64_t net_bind_tcp = 1ULL << 0;
constexpr std::uint64_t net_connect_tcp = 1ULL << 1;
constexpr int rule_net_port = 2;
struct net_port_attr {
  std::uint64_t allowed_access;
  std::uint64_t port;
};

}  // namespace

result<tcp_ports> tcp_ports::prepare(const std::vector<std::uint16_t>& connect_ports) {
  int abi = landlock_abi();
  if (abi < 4)
    return fail(errc::unavailable, "Failed to confine TCP ports: {}",
                abi == 0 ? std::string("Landlock is not available in this kernel")
                         : fmt::format("Landlock ABI {} has no network rules (4 or later needed)", abi));
  ruleset_attr attr{0, net_bind_tcp | net_connect_tcp, 0};
  long fd = ::syscall(SYS_landlock_create_ruleset, &attr, 2 * sizeof(std::uint64_t), 0);
  if (fd < 0) return fail(errc::io, "Failed to create a Landlock ruleset for TCP ports: {}", std::strerror(errno));
  tcp_ports t;
  t._fd = static_cast<int>(fd);
  for (auto port : connect_ports) {
    net_port_attr rule{net_connect_tcp, port};
    if (::syscall(SYS_landlock_add_rule, t._fd, rule_net_port, &rule, 0) != 0)
      return fail(errc::io, "Failed to allow TCP port {} in a Landlock ruleset: {}", port, std::strerror(errno));
  }
  return t;
}

tcp_ports& tcp_ports::operator=(tcp_ports&& o) noexcept {
  if (this != &o) {
    if (_fd >= 0) ::close(_fd);
    _fd = o._fd;
    o._fd = -1;
  }
  return *this;
}

tcp_ports::~tcp_ports() {
  if (_fd >= 0) ::close(_fd);
}

const char* tcp_ports::apply() const noexcept {
  if (_fd < 0) {
    errno = EBADF;
    return "the TCP port rules (not prepared)";
  }
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return "prctl(PR_SET_NO_NEW_PRIVS)";
  if (::syscall(SYS_landlock_restrict_self, _fd, 0) != 0) return "landlock_restrict_self (TCP ports)";
  return nullptr;
}

}  // namespace weft::sandbox

namespace weft::sandbox {

result<thread_layer> thread_layer::prepare(const spec& sp) {
  int abi = landlock_abi();
  if (abi == 0) return fail(errc::unavailable, "Failed to confine a thread: Landlock is not available in this kernel");
  std::uint64_t handled = fs_rights_for(abi);
  thread_layer t;
  t._net = abi >= 4;
  ruleset_attr attr{handled, t._net ? net_bind_tcp | net_connect_tcp : 0, 0};
  long fd = ::syscall(SYS_landlock_create_ruleset, &attr, (t._net ? 2 : 1) * sizeof(std::uint64_t), 0);
  if (fd < 0) return fail(errc::io, "Failed to create a Landlock ruleset for a thread: {}", std::strerror(errno));
  t._fd = static_cast<int>(fd);
  auto add_path = [&](const std::string& path, std::uint64_t rights, bool create) {
    return add_path_rule(t._fd, path, rights, handled, create, t._warnings);
  };
  for (auto& path : sp.read_write)
    if (auto st = add_path(path, handled, /*create=*/true); !st) return st.take_error();
  for (auto& path : sp.read_only)
    if (auto st = add_path(path, fs_read_execute, /*create=*/false); !st) return st.take_error();
  if (t._net)
    for (auto port : sp.connect_ports) {
      net_port_attr rule{net_connect_tcp, port};
      if (::syscall(SYS_landlock_add_rule, t._fd, rule_net_port, &rule, 0) != 0)
        return fail(errc::io, "Failed to allow TCP port {} in a Landlock ruleset: {}", port, std::strerror(errno));
    }
  return t;
}

thread_layer::~thread_layer() {
  if (_fd >= 0) ::close(_fd);
}

const char* thread_layer::apply() const noexcept {
  if (_fd < 0) {
    errno = EBADF;
    return "the thread's Landlock layer (not prepared)";
  }
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return "prctl(PR_SET_NO_NEW_PRIVS)";
  if (::syscall(SYS_landlock_restrict_self, _fd, 0) != 0) return "landlock_restrict_self (thread layer)";
  return nullptr;
}

}  // namespace weft::sandbox
