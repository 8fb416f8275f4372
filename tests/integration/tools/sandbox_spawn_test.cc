// Integration: weftd's spawn with a sandbox, on real processes. A child confined to one
// directory cannot read a file outside it even through a shell it starts (Landlock is
// inherited), the same command unconfined can (so the check can fail), seccomp refuses
// unshare, the child learns what applied from $WEFT_SANDBOX, and a sandbox that cannot be
// built is a spawn error, not an unconfined child. With own_network the child's 127.0.0.1
// is its own: a listener of the host gets nothing, as root (a plain network namespace) and
// as an unprivileged user (inside a user namespace).
#include <arpa/inet.h>
#include <grp.h>
#include <sched.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <doctest/doctest.h>

#include <seccomp.h>

#include <weft/sandbox/sandbox.hh>

#include "services/weftd/peer_guard.hh"
#include "services/weftd/spawn.hh"
#include "tests/tcp_listener.hh"
#include "tests/temp_dir.hh"

using namespace weft;
namespace fs = std::filesystem;

namespace {

std::string slurp(const std::string& p) {
  std::stringstream s;
  s << std::ifstream(p).rdbuf();
  return s.str();
}

/// Runs `/bin/sh -c script` through weftd::spawn and returns its wait status.
int run_shell(const std::string& script, const service::sandbox_spec& sb) {
  weftd::spawn_request r;
  r.exec = "/bin/sh";
  r.args = {"-c", script};
  r.env = weftd::base_environment();
  r.sandbox = sb;
  auto sp = weftd::spawn(r);
  REQUIRE_MESSAGE(sp, (sp ? "" : sp.err().message));
  sp->notify_fd.reset();
  int ws = 0;
  REQUIRE(::waitpid(sp->pid, &ws, 0) == sp->pid);
  return ws;
}

service::sandbox_spec confined_to(const std::string& dir) {
  service::sandbox_spec sb;
  sb.enabled = true;
  sb.read_write = {dir};
  sb.read_only = {"/usr", "/lib", "/lib64", "/bin", "/etc", "/dev/null"};
  return sb;
}

/// A listener on the host's 127.0.0.1 (a free port), non-blocking.
struct host_listener : weft::test::tcp_listener {
  host_listener() : tcp_listener("127.0.0.1", /*nonblocking=*/true) {}
};

/// Connects to 127.0.0.1:<argv[1]> and to a listener of its own on 127.0.0.1, printing one
/// word for each: connected, refused, or the errno.
constexpr const char* probe_py = R"(import socket, sys
def probe(port):
    try:
        s = socket.socket()
        s.settimeout(10)
        s.connect(("127.0.0.1", port))
        return "connected"
    except ConnectionRefusedError:
        return "refused"
    except OSError as e:
        return "errno%d" % e.errno
try:
    own = socket.socket()
    own.bind(("127.0.0.1", 0))
    own.listen(1)
    self_result = probe(own.getsockname()[1])
except OSError as e:
    self_result = "errno%d" % e.errno
print(probe(int(sys.argv[1])), self_result)
)";

/// Runs probe_py in a sandboxed child (own_network as given) against `port`; what it
/// printed, and $WEFT_SANDBOX.
std::pair<std::string, std::string> probe_network(const std::string& dir, int port, bool own_network) {
  std::ofstream(dir + "/probe.py") << probe_py;
  auto sb = confined_to(dir);
  sb.own_network = own_network;
  sb.own_pids = own_network;
  int ws = run_shell(fmt::format("/usr/bin/python3 {d}/probe.py {p} > {d}/out 2> {d}/err; echo \"$WEFT_SANDBOX\" > {d}/sb; "
                                 "echo $$ > {d}/pid",
                                 fmt::arg("d", dir), fmt::arg("p", port)),
                     sb);
  CHECK(WIFEXITED(ws));
  return {slurp(dir + "/out"), slurp(dir + "/sb")};
}

}  // namespace

TEST_CASE("a sandboxed child cannot read outside its workspace, even through a shell") {
  if (sandbox::landlock_abi() == 0) {
    MESSAGE("Landlock is not available in this kernel: skipped");
    return;
  }
  weft::test::temp_dir inside{"weft-sbx-it"}, outside{"weft-sbx-it"};
  std::ofstream(inside.path.string() + "/mine.txt") << "mine";
  std::ofstream(outside.path.string() + "/theirs.txt") << "theirs";
  auto script = fmt::format(
      "cat {in}/mine.txt > {in}/copy; "
      "(cat {out}/theirs.txt) > {in}/leak 2> {in}/err; echo $? > {in}/rc; "
      "sh -c 'cat {out}/theirs.txt' >> {in}/leak 2>> {in}/err; "
      "echo \"$WEFT_SANDBOX\" > {in}/sandbox; "
      "unshare -U true 2>> {in}/unshare; echo $? > {in}/unshare_rc",
      fmt::arg("in", inside.path.string()), fmt::arg("out", outside.path.string()));

  int ws = run_shell(script, confined_to(inside.path.string()));
  CHECK(WIFEXITED(ws));
  CHECK(slurp(inside.path.string() + "/copy") == "mine");
  CHECK(slurp(inside.path.string() + "/leak").empty());
  CHECK(slurp(inside.path.string() + "/rc") != "0\n");
  CHECK(slurp(inside.path.string() + "/err").find("Permission denied") != std::string::npos);
  CHECK(slurp(inside.path.string() + "/sandbox").rfind(fmt::format("landlock={} seccomp=1", sandbox::landlock_abi()), 0) == 0);
  CHECK(slurp(inside.path.string() + "/unshare_rc") != "0\n");
  CHECK(slurp(inside.path.string() + "/unshare").find("Operation not permitted") != std::string::npos);

  // The same script unconfined reads the other directory: the check above can fail.
  fs::remove(inside.path.string() + "/leak");
  service::sandbox_spec none;
  ws = run_shell(script, none);
  CHECK(slurp(inside.path.string() + "/leak") == "theirstheirs");
  CHECK(slurp(inside.path.string() + "/rc") == "0\n");
}

TEST_CASE("a sandbox that cannot be built is a spawn error") {
  weftd::spawn_request r;
  r.exec = "/bin/true";
  r.env = weftd::base_environment();
  r.sandbox.enabled = true;
  r.sandbox.read_write = {"/proc/weft-cannot-create-this"};
  auto sp = weftd::spawn(r);
  if (sandbox::landlock_abi() == 0) return;  // no ruleset, no paths opened
  REQUIRE_FALSE(sp);
  CHECK(sp.err().message.find("Failed to sandbox '/bin/true'") == 0);
  CHECK(sp.err().message.find("/proc/weft-cannot-create-this") != std::string::npos);
}

TEST_CASE("unsandboxed spawn is unchanged: no WEFT_SANDBOX") {
  weft::test::temp_dir d{"weft-sbx-it"};
  service::sandbox_spec none;
  int ws = run_shell(fmt::format("echo \"[$WEFT_SANDBOX]\" > {}/sb", d.path.string()), none);
  CHECK(WIFEXITED(ws));
  CHECK(slurp(d.path.string() + "/sb") == "[]\n");
}

TEST_CASE("own_network: the child's 127.0.0.1 is its own; the host's listener gets nothing") {
  weft::test::temp_dir d{"weft-sbx-it"};
  host_listener host;
  auto [out, sb] = probe_network(d.path.string(), host.port, /*own_network=*/true);
  CAPTURE(slurp(d.path.string() + "/err"));
  // Its own lo is up: it can still listen and connect to itself.
  CHECK(out == "refused connected\n");
  auto iso = sandbox::probe_network_isolation();
  CHECK(sb.find(iso.how == sandbox::network_isolation::mode::netns ? " net=netns" : " net=userns") != std::string::npos);
  // And a PID namespace of its own, of which it is the init.
  CHECK(sb.find(" pids=own") != std::string::npos);
  CHECK(slurp(d.path.string() + "/pid") == "1\n");
  CHECK_FALSE(host.accepted_any());

  // Without it the same probe reaches the host's listener: the check above can fail.
  auto [open, open_sb] = probe_network(d.path.string(), host.port, /*own_network=*/false);
  CHECK(open == "connected connected\n");
  CHECK(open_sb.find("net=") == std::string::npos);
  CHECK(host.accepted_any());
}

/// Runs probe_py through weftd::spawn (own_network) as uid 65534 in a forked child, as
/// weftd runs under systemd's DynamicUser; with `no_namespaces` that child may create no
/// namespaces at all (as under RestrictNamespaces=yes). Returns the probe's output and
/// $WEFT_SANDBOX.
std::pair<std::string, std::string> probe_unprivileged(const std::string& dir, int port, bool no_namespaces) {
  ::chmod(dir.c_str(), 0777);
  std::ofstream(dir + "/probe.py") << probe_py;
  ::chmod((dir + "/probe.py").c_str(), 0644);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (::setgroups(0, nullptr) != 0 || ::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0)
      ::_exit(3);
    // Changing the uid made this process undumpable, which hands its /proc/self files to
    // root; a process started as the user (weftd under systemd) is dumpable.
    ::prctl(PR_SET_DUMPABLE, 1);
    if (no_namespaces) {
      scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
      if (!ctx || seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 0) != 0 || seccomp_load(ctx) != 0)
        ::_exit(6);
    }
    auto sb = confined_to(dir);
    sb.own_network = true;
    sb.own_pids = true;
    weftd::spawn_request r;
    r.exec = "/bin/sh";
    r.args = {"-c", fmt::format("/usr/bin/python3 {d}/probe.py {p} > {d}/out 2> {d}/err; echo \"$WEFT_SANDBOX\" > {d}/sb; "
                                "echo $$ > {d}/pid",
                                fmt::arg("d", dir), fmt::arg("p", port))};
    r.env = weftd::base_environment();
    r.sandbox = sb;
    auto sp = weftd::spawn(r);
    if (!sp) ::_exit(4);
    int ws = 0;
    ::waitpid(sp->pid, &ws, 0);
    ::_exit(WIFEXITED(ws) ? WEXITSTATUS(ws) : 5);
  }
  int ws = 0;
  REQUIRE(::waitpid(pid, &ws, 0) == pid);
  REQUIRE(WIFEXITED(ws));
  CHECK(WEXITSTATUS(ws) == 0);
  return {slurp(dir + "/out"), slurp(dir + "/sb")};
}

TEST_CASE("own_network as an unprivileged user: a user namespace, the same result") {
  if (::geteuid() != 0) {
    MESSAGE("not root: cannot drop to another user to try; skipped");
    return;
  }
  weft::test::temp_dir d{"weft-sbx-it"};
  host_listener host;
  auto [out, sb] = probe_unprivileged(d.path.string(), host.port, /*no_namespaces=*/false);
  CAPTURE(slurp(d.path.string() + "/err"));
  CAPTURE(sb);
  if (sb.find(" net=userns") != std::string::npos) {
    CHECK(out == "refused connected\n");
    CHECK(sb.find(" pids=own") != std::string::npos);
    CHECK(slurp(d.path.string() + "/pid") == "1\n");
  } else {
    MESSAGE("this kernel refuses unprivileged user namespaces: only the fallback is checked");
    CHECK(sb.find(" net=none") != std::string::npos);
  }
  CHECK_FALSE(host.accepted_any());
}

TEST_CASE("own_network where no namespace is permitted: no internet sockets at all, never the host's network") {
  if (::geteuid() != 0) {
    MESSAGE("not root: cannot drop to another user to try; skipped");
    return;
  }
  weft::test::temp_dir d{"weft-sbx-it"};
  host_listener host;
  auto [out, sb] = probe_unprivileged(d.path.string(), host.port, /*no_namespaces=*/true);
  CAPTURE(slurp(d.path.string() + "/err"));
  CHECK(sb.find(" net=none") != std::string::npos);
  CHECK(sb.find(" pids=shared") != std::string::npos);
  CHECK(slurp(d.path.string() + "/pid") != "1\n");
  CHECK(out == "errno1 errno1\n");  // socket(AF_INET): EPERM from seccomp
  CHECK_FALSE(host.accepted_any());
}

TEST_CASE("own_pids: a killed child takes everything it started with it") {
  if (!sandbox::probe_network_isolation().pids) {
    MESSAGE("no PID namespace permitted here: skipped");
    return;
  }
  weft::test::temp_dir d{"weft-sbx-it"};
  auto sb = confined_to(d.path.string());
  sb.own_network = true;
  sb.own_pids = true;
  // A grandchild in a process group and session of its own (out of reach of a group kill),
  // its host pid found through its parent.
  weftd::spawn_request r;
  r.exec = "/bin/sh";
  r.args = {"-c", "setsid sleep 300 & wait"};
  r.env = weftd::base_environment();
  r.sandbox = sb;
  auto sp = weftd::spawn(r);
  REQUIRE_MESSAGE(sp, (sp ? "" : sp.err().message));
  CHECK(sp->ns_flags == (CLONE_NEWNET | CLONE_NEWPID));
  auto ns = weftd::namespaces_of(sp->pid), self = weftd::namespaces_of(::getpid());
  REQUIRE(ns);
  REQUIRE(self);
  CHECK(ns->net != self->net);
  CHECK(ns->pid != self->pid);
  // Its children, by /proc/<pid>/task/<pid>/children (host pids).
  std::string kids;
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
       kids.empty() && std::chrono::steady_clock::now() < until;) {
    kids = slurp(fmt::format("/proc/{0}/task/{0}/children", sp->pid));
    if (kids.empty()) ::usleep(20000);  // polling /proc: nothing signals a fork
  }
  REQUIRE_FALSE(kids.empty());
  pid_t grandchild = std::stoi(kids);
  auto stat_of = [](pid_t pid) { return slurp(fmt::format("/proc/{}/stat", pid)); };
  auto before = stat_of(grandchild);
  REQUIRE_FALSE(before.empty());
  ::kill(sp->pid, SIGKILL);
  int ws = 0;
  REQUIRE(::waitpid(sp->pid, &ws, 0) == sp->pid);
  // By the time its init is reaped the kernel has killed (and reaped) the rest.
  auto after = stat_of(grandchild);
  auto start_time = [](const std::string& stat) {  // field 22, after the ')' of the name
    std::istringstream in(stat.substr(stat.rfind(')') + 1));
    std::string w;
    for (int i = 3; i <= 22 && in >> w; ++i) {
    }
    return w;
  };
  CHECK((after.empty() || start_time(after) != start_time(before)));
}
