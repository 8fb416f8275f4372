#include "services/tool-shell/shell.hh"

#include <doctest/doctest.h>

#include <poll.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <weft/base/children.hh>
#include "tests/temp_dir.hh"

using namespace weft;
using namespace weft::tools;
namespace fs = std::filesystem;

namespace {

struct runner {
  tool::call call;
  std::unique_ptr<cancel_signal> cancel = std::move(*cancel_signal::create());
  result<tool::result> operator()(const workspace& ws, const json& args, const shell_limits& lim = {}) {
    return exec(ws, args, cancel->context(call), lim);
  }
};

/// Waits (on a pidfd, up to 10 s) until the process with this pid has ended; true if it has.
bool dead(pid_t pid) {
  unique_fd fd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!fd) return errno == ESRCH;
  pollfd p{fd.get(), POLLIN, 0};
  return ::poll(&p, 1, 10000) == 1;
}

}  // namespace

TEST_CASE("exec runs in the workspace with a minimal environment") {
  weft::test::temp_dir d{"weft-shell"};
  fs::create_directories(d.path / "sub");
  auto ws = workspace::open(d.path.string(), "a");
  REQUIRE(ws);
  runner run;
  auto r = run(*ws, {{"command", "pwd; echo \"$HOME\"; env | sort | cut -d= -f1 | tr '\\n' ' '; read x || echo no-stdin"}});
  REQUIRE(r);
  CHECK_FALSE(r->is_error);
  auto root = ws->root();
  CHECK(r->content.find(root + "\n" + root + "\n") == 0);
  CHECK(r->content.find("WEFT_") == std::string::npos);
  CHECK(r->content.find("no-stdin") != std::string::npos);
  CHECK(r->content.find("[exit status 0]") != std::string::npos);
  r = run(*ws, {{"command", "pwd"}, {"cwd", "sub"}});
  REQUIRE(r);
  CHECK(r->content.find(root + "/sub\n") == 0);
}

TEST_CASE("exec reports the exit status and stderr") {
  weft::test::temp_dir d{"weft-shell"};
  auto ws = workspace::open(d.path.string(), "a");
  REQUIRE(ws);
  runner run;
  auto r = run(*ws, {{"command", "echo oops >&2; exit 3"}});
  REQUIRE(r);
  CHECK(r->is_error);
  CHECK(r->content == "oops\n[exit status 3]");
}

TEST_CASE("exec refuses a cwd outside the workspace") {
  weft::test::temp_dir d{"weft-shell"};
  auto ws = workspace::open((d.path / "ws").string(), "a");
  REQUIRE(ws);
  runner run;
  for (std::string cwd : {"..", "/tmp", "/"}) {
    auto r = run(*ws, {{"command", "pwd"}, {"cwd", cwd}});
    CHECK((!r && tool::is(r.err(), tool::error_code::denied)));
  }
}

TEST_CASE("exec kills the whole process group at the time limit") {
  weft::test::temp_dir d{"weft-shell"};
  auto ws = workspace::open(d.path.string(), "a");
  REQUIRE(ws);
  runner run;
  // A background child that ignores TERM: only the KILL after the grace period ends it.
  auto r = run(*ws, {{"command", "sh -c 'trap \"\" TERM; sleep 60' & echo $! > bg.pid; sleep 60"}, {"timeout_ms", 300}},
               shell_limits{.kill_grace = std::chrono::milliseconds(200)});
  REQUIRE(r);
  CHECK(r->is_error);
  CHECK(r->content.find("[timed out after 300 ms") != std::string::npos);
  std::ifstream f(d.path / "bg.pid");
  pid_t bg = 0;
  f >> bg;
  REQUIRE(bg > 0);
  CHECK(dead(bg));
}

TEST_CASE("exec caps output and keeps draining") {
  weft::test::temp_dir d{"weft-shell"};
  auto ws = workspace::open(d.path.string(), "a");
  REQUIRE(ws);
  runner run;
  auto r = run(*ws, {{"command", "head -c 1000000 /dev/zero | tr '\\0' x; echo done >&2"}},
               shell_limits{.max_output = 1000});
  REQUIRE(r);
  CHECK(r->truncated);
  CHECK_FALSE(r->is_error);  // the command finished: the pipe was drained beyond the cap
  CHECK(r->content.substr(0, 1000) == std::string(1000, 'x'));
  CHECK(r->content.find("[… output cut at 1000 bytes]") != std::string::npos);
  CHECK(r->content.find("[exit status 0]") != std::string::npos);
}

TEST_CASE("a cancelled exec is killed") {
  weft::test::temp_dir d{"weft-shell"};
  auto ws = workspace::open(d.path.string(), "a");
  REQUIRE(ws);
  runner run;
  run.cancel->fire();
  auto r = run(*ws, {{"command", "sleep 60"}});
  REQUIRE(r);
  CHECK(r->is_error);
  CHECK(r->content.find("cancelled") != std::string::npos);
}

namespace {

/// What a command's python3 gets for socket(AF_UNIX), a stream socketpair and a datagram
/// socketpair: "ok" or the errno name, one word each.
constexpr const char* unix_probe = R"(/usr/bin/python3 -c '
import socket, errno
def t(f):
    try:
        f()
        return "ok"
    except OSError as e:
        return errno.errorcode[e.errno]
print(t(lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)),
      t(lambda: socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)),
      t(lambda: socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)))
')";

}  // namespace

TEST_CASE("the command filter: no AF_UNIX socket, no datagram socketpair; a stream socketpair works") {
  weft::test::temp_dir d{"weft-shell"};
  auto ws = workspace::open(d.path.string(), "a");
  REQUIRE(ws);
  auto filter = sandbox::command_filter::prepare();
  REQUIRE(filter);
  shell_limits lim;
  lim.filter = std::make_shared<const sandbox::command_filter>(std::move(*filter));
  runner run;
  auto r = run(*ws, {{"command", unix_probe}}, lim);
  REQUIRE(r);
  CHECK(r->content == "EPERM ok EPERM\n[exit status 0]");
  // Without it the same probe gets all three: the check above can fail.
  r = run(*ws, {{"command", unix_probe}});
  REQUIRE(r);
  CHECK(r->content == "ok ok ok\n[exit status 0]");
}

TEST_CASE("as its PID namespace's init, exec collects what the command left behind") {
  weft::test::temp_dir d{"weft-shell"};
  pid_t outer = ::fork();
  REQUIRE(outer >= 0);
  if (outer == 0) {
    // A PID namespace for the next child: as root a plain one, else inside a user namespace.
    if (::unshare(CLONE_NEWPID) != 0 && ::unshare(CLONE_NEWUSER | CLONE_NEWPID) != 0) ::_exit(77);
    pid_t init = ::fork();
    if (init < 0) ::_exit(70);
    if (init == 0) {
      if (!children::is_init()) ::_exit(71);
      auto ws = workspace::open(d.path.string(), "a");
      if (!ws) ::_exit(72);
      runner run;
      // The subshell exits at once: its `sleep` is reparented to this process, still in the
      // command's process group, killed at the command's end.
      auto r = run(*ws, {{"command", "(sleep 60 &); echo started"}}, shell_limits{.kill_grace = std::chrono::seconds(10)});
      if (!r || r->content != "started\n[exit status 0]") ::_exit(73);
      // Nothing left: no child at all, not even a zombie.
      int status = 0;
      if (::waitpid(-1, &status, WNOHANG) != -1 || errno != ECHILD) ::_exit(74);
      ::_exit(0);
    }
    int ws = 0;
    ::waitpid(init, &ws, 0);
    ::_exit(WIFEXITED(ws) ? WEXITSTATUS(ws) : 75);
  }
  int ws = 0;
  REQUIRE(::waitpid(outer, &ws, 0) == outer);
  REQUIRE(WIFEXITED(ws));
  if (WEXITSTATUS(ws) == 77) {
    MESSAGE("no PID namespace permitted here: skipped");
    return;
  }
  CHECK(WEXITSTATUS(ws) == 0);
}

TEST_CASE("skill_lanes: which skill a command runs for, the skills read again when they change") {
  weft::test::temp_dir t{"weft-skill-lanes"};
  auto shared = t.path / "skills";
  auto write_skill = [&](const std::string& name, const std::string& network) {
    std::filesystem::create_directories(shared / name);
    std::ofstream(shared / name / "SKILL.md", std::ios::trunc)
        << "---\nname: " << name << "\ndescription: d\n" << network << "---\nbody\n";
  };
  write_skill("plain", "");
  auto loop = std::move(*event_loop::create());
  std::thread th([&] { loop->run(); });
  auto egress = (t.path / "egress").string();
  tools::skill_lanes lanes(*loop, egress, {{shared.string(), "shared"}}, log::get("test"));

  auto none = lanes.lane_for("ls", std::nullopt);
  REQUIRE(none);
  CHECK(!*none);
  CHECK(lanes.lane_for("true", std::string("plain")));  // known, no list: no lane
  auto unknown = lanes.lane_for("true", std::string("weather"));
  REQUIRE(!unknown);
  CHECK(unknown.err().message.find("no skill 'weather' (the agent's skills: plain)") != std::string::npos);

  // Installed afterwards: known at once.
  write_skill("weather", "network: [api.weather.example]\n");
  auto by_name = lanes.lane_for("true", std::string("weather"));
  // Its list gets a lane where the kernel can enforce it; else the command is refused.
  if (by_name) {
    REQUIRE(*by_name);
    CHECK((*by_name)->skill == "weather");
    CHECK(std::find((*by_name)->env.begin(), (*by_name)->env.end(), "http_proxy=http://127.0.0.1:3140") != (*by_name)->env.end());
  } else {
    CHECK(by_name.err().message.find("cannot be enforced here") != std::string::npos);
  }
  // Named by its folder, and two skills with lists in one command.
  auto by_folder = lanes.lane_for("python3 " + (shared / "weather" / "run.py").string(), std::nullopt);
  CHECK(bool(by_folder) == bool(by_name));
  // A list added to a skill in place (its SKILL.md rewritten): seen at the next call.
  write_skill("plain", "network: [api.plain.example]\n");
  auto two = lanes.lane_for("sh skills/plain/a.sh && sh skills/weather/b.sh", std::nullopt);
  REQUIRE(!two);
  CHECK(two.err().message.find("names the folders of skills") != std::string::npos);
  // Removed: unknown again.
  std::filesystem::remove_all(shared / "weather");
  CHECK(!lanes.lane_for("true", std::string("weather")));
  loop->post([&] { loop->quit(); });
  th.join();
}
