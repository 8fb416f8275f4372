#include <weft/sandbox/sandbox.hh>

#include <doctest/doctest.h>

#include <fcntl.h>
#include <sched.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <atomic>
#include <thread>
#include "tests/tcp_listener.hh"
#include "tests/temp_dir.hh"

using namespace weft;
namespace fs = std::filesystem;

namespace {

/// Runs `fn` in a forked child (the sandbox is irreversible) and returns its exit status;
/// -1 when it did not exit normally.
int in_child(const std::function<int()>& fn) {
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) ::_exit(fn());
  int ws = 0;
  ::waitpid(pid, &ws, 0);
  return WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
}

void write_file(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

/// 0 when open() succeeds, else errno.
int open_errno(const fs::path& p, int flags = O_RDONLY) {
  int fd = ::open(p.c_str(), flags | O_CLOEXEC, 0644);
  if (fd < 0) return errno;
  ::close(fd);
  return 0;
}

}  // namespace

TEST_CASE("landlock: only the allowed directory is reachable") {
  if (sandbox::landlock_abi() == 0) {
    MESSAGE("Landlock is not available in this kernel: skipped");
    return;
  }
  weft::test::temp_dir inside{"weft-sandbox"}, outside{"weft-sandbox"};
  write_file(inside.path / "in.txt", "in");
  write_file(outside.path / "out.txt", "out");
  sandbox::spec spec;
  spec.enabled = true;
  spec.read_write = {inside.path.string(), "/dev/null"};
  int rc = in_child([&] {
    if (!sandbox::apply(spec)) return 10;
    if (open_errno("/dev/null", O_WRONLY) != 0) return 16;  // a file in read_write
    if (open_errno(inside.path / "in.txt") != 0) return 11;
    if (open_errno(inside.path / "new.txt", O_WRONLY | O_CREAT) != 0) return 12;
    if (open_errno(outside.path / "out.txt") != EACCES) return 13;
    if (open_errno(outside.path / "new.txt", O_WRONLY | O_CREAT) != EACCES) return 14;
    if (open_errno("/etc/passwd") != EACCES) return 15;
    return 0;
  });
  CHECK(rc == 0);
  CHECK(fs::exists(inside.path / "new.txt"));
  CHECK_FALSE(fs::exists(outside.path / "new.txt"));
}

TEST_CASE("landlock: read_only paths can be read but not written") {
  if (sandbox::landlock_abi() == 0) return;
  weft::test::temp_dir rw{"weft-sandbox"}, ro{"weft-sandbox"};
  write_file(ro.path / "r.txt", "r");
  sandbox::spec spec;
  spec.enabled = true;
  spec.read_write = {rw.path.string()};
  spec.read_only = {ro.path.string(), "/nonexistent/weft-sandbox-test"};
  auto p = sandbox::prepare(spec);
  REQUIRE(p);
  CHECK(p->what().landlock_abi == sandbox::landlock_abi());
  REQUIRE(p->what().warnings.size() == 1);  // the missing read_only path
  CHECK(p->what().warnings[0].find("/nonexistent/weft-sandbox-test") != std::string::npos);
  int rc = in_child([&] {
    if (p->apply_in_child() != nullptr) return 10;
    if (open_errno(ro.path / "r.txt") != 0) return 11;
    if (open_errno(ro.path / "r.txt", O_WRONLY) != EACCES) return 12;
    if (open_errno(ro.path / "w.txt", O_WRONLY | O_CREAT) != EACCES) return 13;
    return 0;
  });
  CHECK(rc == 0);
}

TEST_CASE("landlock: /proc/self is the child's own, even when prepared in the parent") {
  if (sandbox::landlock_abi() == 0) return;
  sandbox::spec spec;
  spec.enabled = true;
  spec.read_only = {"/proc/self"};
  auto p = sandbox::prepare(spec);  // in the parent, as weftd does
  REQUIRE(p);
  pid_t parent = ::getpid();
  int rc = in_child([&] {
    if (p->apply_in_child() != nullptr) return 10;
    if (open_errno("/proc/self/status") != 0) return 11;
    if (open_errno("/proc/" + std::to_string(parent) + "/status") != EACCES) return 12;
    return 0;
  });
  CHECK(rc == 0);
}

TEST_CASE("landlock: a missing read_write directory is created") {
  weft::test::temp_dir base{"weft-sandbox"};
  sandbox::spec spec;
  spec.enabled = true;
  spec.read_write = {(base.path / "a/b").string()};
  auto p = sandbox::prepare(spec);
  REQUIRE(p);
  CHECK((sandbox::landlock_abi() == 0 || fs::is_directory(base.path / "a/b")));
}

TEST_CASE("seccomp: ptrace, unshare and namespace clones are refused with EPERM") {
  sandbox::spec spec;
  spec.enabled = true;
  spec.read_write = {fs::temp_directory_path().string()};
  int rc = in_child([&] {
    if (!sandbox::apply(spec)) return 10;
    errno = 0;
    if (::ptrace(PTRACE_TRACEME, 0, nullptr, nullptr) != -1 || errno != EPERM) return 11;
    if (::unshare(CLONE_NEWUSER) != -1 || errno != EPERM) return 12;
    if (::unshare(CLONE_NEWNS) != -1 || errno != EPERM) return 13;
    // Network is allowed unless deny_network.
    int s = ::socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) return 14;
    ::close(s);
    // fork still works (clone without namespace flags).
    pid_t c = ::fork();
    if (c == 0) ::_exit(7);
    int ws = 0;
    if (c < 0 || ::waitpid(c, &ws, 0) != c || !WIFEXITED(ws) || WEXITSTATUS(ws) != 7) return 15;
    return 0;
  });
  CHECK(rc == 0);
}

TEST_CASE("seccomp: deny_network refuses every socket family but AF_UNIX") {
  sandbox::spec spec;
  spec.enabled = true;
  spec.deny_network = true;
  int rc = in_child([&] {
    if (!sandbox::apply(spec)) return 10;
    errno = 0;
    if (::socket(AF_INET, SOCK_STREAM, 0) != -1 || errno != EPERM) return 11;
    if (::socket(AF_INET6, SOCK_DGRAM, 0) != -1 || errno != EPERM) return 12;
    if (::socket(AF_NETLINK, SOCK_RAW, 0) != -1 || errno != EPERM) return 13;
    int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
    if (s < 0) return 14;
    ::close(s);
    return 0;
  });
  CHECK(rc == 0);
}

TEST_CASE("tcp_ports: connect only to the allowed ports, no bind; the process that prepared it is not confined") {
  if (sandbox::landlock_abi() < 4) {
    auto t = sandbox::tcp_ports::prepare({1});
    REQUIRE(!t);
    CHECK(t.err().message.find("Failed to confine TCP ports") != std::string::npos);
    MESSAGE("skipped: Landlock ABI " << sandbox::landlock_abi() << " has no network rules");
    return;
  }
  weft::test::tcp_listener allowed, other;
  auto rules = sandbox::tcp_ports::prepare({allowed.port});
  REQUIRE_MESSAGE(rules, (rules ? "" : rules.err().message));
  auto connect_to = [](std::uint16_t port) {
    int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) return errno;
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = ::connect(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0 ? 0 : errno;
    ::close(s);
    return rc;
  };
  int rc = in_child([&] {
    if (rules->apply()) return 10;
    if (connect_to(allowed.port) != 0) return 11;
    if (connect_to(other.port) != EACCES) return 12;
    // No listening of its own either.
    int s = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != -1 || errno != EACCES) return 13;
    return 0;
  });
  CHECK(rc == 0);
  CHECK(connect_to(other.port) == 0);  // the parent is not confined
}

TEST_CASE("thread_layer: the calling thread keeps only its paths and ports; the process's other threads keep theirs") {
  weft::test::temp_dir t{"weft-thread-layer"};
  auto rw = t.path / "rw", ro = t.path / "ro", other = t.path / "other";
  fs::create_directories(ro);
  fs::create_directories(other);
  write_file(ro / "f", "r");
  write_file(other / "f", "o");
  weft::test::tcp_listener target;
  auto layer = sandbox::thread_layer::prepare({.read_write = {rw.string()}, .read_only = {ro.string(), "/nonexistent-weft"}});
  REQUIRE_MESSAGE(layer, (layer ? "" : layer.err().message));
  CHECK(fs::is_directory(rw));  // made when missing
  REQUIRE(layer->warnings().size() == 1);
  CHECK(layer->warnings()[0].find("'/nonexistent-weft'") != std::string::npos);
  int rc = in_child([&] {
    int from_other = -1;
    std::atomic<bool> go{false};
    std::thread other_thread([&] {
      while (!go) std::this_thread::yield();
      from_other = open_errno(other / "f");
    });
    if (layer->apply()) return 10;
    go = true;
    other_thread.join();
    if (from_other != 0) return 11;                              // another thread: not confined
    if (open_errno(rw / "new", O_WRONLY | O_CREAT) != 0) return 12;
    if (open_errno(ro / "f") != 0) return 13;
    if (open_errno(ro / "f", O_WRONLY) != EACCES) return 14;
    if (open_errno(other / "f") != EACCES) return 15;
    if (layer->confines_network()) {
      int s = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_port = htons(target.port);
      sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (::connect(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != -1 || errno != EACCES) return 16;
    }
    return 0;
  });
  CHECK(rc == 0);
}

TEST_CASE("rlimits are lowered, never raised") {
  sandbox::spec spec;
  spec.enabled = true;
  spec.max_open_files = 17;
  spec.max_file_size = 4096;
  int rc = in_child([&] {
    if (!sandbox::apply(spec)) return 10;
    struct rlimit r;
    ::getrlimit(RLIMIT_NOFILE, &r);
    if (r.rlim_cur != 17 || r.rlim_max != 17) return 11;
    ::getrlimit(RLIMIT_FSIZE, &r);
    if (r.rlim_cur != 4096 || r.rlim_max != 4096) return 12;
    // A second, larger limit does not raise it.
    sandbox::spec bigger;
    bigger.max_open_files = 1000;
    if (!sandbox::apply(bigger)) return 13;
    ::getrlimit(RLIMIT_NOFILE, &r);
    if (r.rlim_cur != 17 || r.rlim_max != 17) return 14;
    return 0;
  });
  CHECK(rc == 0);
}

TEST_CASE("report summary names what is applied") {
  sandbox::spec spec;
  spec.enabled = true;
  auto p = sandbox::prepare(spec);
  REQUIRE(p);
  CHECK(p->what().seccomp);
  CHECK(p->what().summary().find("seccomp=1") != std::string::npos);
  CHECK(p->what().summary().find(fmt::format("landlock={}", sandbox::landlock_abi())) != std::string::npos);
}
