#include <signal.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include <doctest/doctest.h>

#include <weft/base/command.hh>

using namespace weft;
using namespace std::chrono_literals;

namespace {

command_spec sh(std::string script) {
  return command_spec{.exec = "/bin/sh", .argv = {"sh", "-c", std::move(script)}, .env = {"PATH=/usr/bin:/bin"}};
}

/// Whether `pid` is gone (polling: nothing signals the end of a process we did not start).
bool gone_within(pid_t pid, std::chrono::milliseconds limit) {
  for (auto until = std::chrono::steady_clock::now() + limit; std::chrono::steady_clock::now() < until;) {
    if (::kill(pid, 0) != 0) return true;
    ::usleep(10000);
  }
  return ::kill(pid, 0) != 0;
}

std::string temp_file() {
  char name[] = "/tmp/weft-command-XXXXXX";
  int fd = ::mkstemp(name);
  ::close(fd);
  return name;
}

}  // namespace

TEST_CASE("run_command: output in chunks, stderr apart, the environment given and nothing else") {
  auto c = sh("echo out; echo err >&2; echo \"${HOME:-no home} $PATH\"; exit 3");
  c.merge_stderr = false;
  std::string out;
  auto r = run_command(c, {}, -1, [&](std::string_view s) {
    out += s;
    return true;
  });
  REQUIRE(r);
  CHECK(out == "out\nno home /usr/bin:/bin\n");
  CHECK(r->stderr_tail == "err\n");
  CHECK(r->describe() == "exit status 3");
  CHECK_FALSE(r->succeeded());

  c.merge_stderr = true;
  out.clear();
  r = run_command(sh("echo a; echo b >&2"), {}, -1, [&](std::string_view s) {
    out += s;
    return true;
  });
  REQUIRE(r);
  CHECK(out == "a\nb\n");
  CHECK(r->succeeded());
}

TEST_CASE("run_command: a program that is not there is not_found, named") {
  auto r = run_command({.exec = "/nonexistent/claude", .argv = {"claude"}}, {}, -1, [](std::string_view) { return true; });
  REQUIRE_FALSE(r);
  CHECK(r.err().code == errc::not_found);
  CHECK(r.err().message == "Failed to run '/nonexistent/claude': exec: No such file or directory");
}

TEST_CASE("run_command: a failing pre-exec step is named and nothing runs") {
  auto c = sh("echo should not run");
  c.before_exec = [](const void*) noexcept {
    errno = EPERM;
    return false;
  };
  c.before_exec_step = "the command filter";
  bool called = false;
  auto r = run_command(c, {}, -1, [&](std::string_view) { return called = true; });
  REQUIRE_FALSE(r);
  CHECK(r.err().code == errc::io);
  CHECK(r.err().message == "Failed to run '/bin/sh': the command filter: Operation not permitted");
  CHECK_FALSE(called);
}

TEST_CASE("run_command: the time limit kills the whole process group") {
  auto pids = temp_file();
  auto r = run_command(sh("sleep 60 & echo $! > " + pids + "; sleep 60"), {.timeout = 300ms, .kill_grace = 500ms}, -1,
                       [](std::string_view) { return true; });
  REQUIRE(r);
  CHECK(r->timed_out);
  CHECK_FALSE(r->succeeded());
  std::ifstream f(pids);
  pid_t background = 0;
  f >> background;
  REQUIRE(background > 0);
  CHECK(gone_within(background, 2000ms));
  std::remove(pids.c_str());
}

TEST_CASE("run_command: the cancel descriptor ends the run; on_output false stops it") {
  int efd = ::eventfd(0, EFD_CLOEXEC);
  REQUIRE(efd >= 0);
  std::thread later([efd] {
    std::this_thread::sleep_for(200ms);
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(efd, &one, sizeof one);
  });
  auto r = run_command(sh("sleep 60"), {.timeout = 60s, .kill_grace = 500ms}, efd, [](std::string_view) { return true; });
  later.join();
  ::close(efd);
  REQUIRE(r);
  CHECK(r->cancelled);
  CHECK(WIFSIGNALED(r->status));  // killed, not ended by itself

  int lines = 0;
  r = run_command(sh("while true; do echo line; sleep 0.01; done"), {.timeout = 60s, .kill_grace = 500ms}, -1,
                  [&](std::string_view s) {
                    for (char ch : s) lines += ch == '\n';
                    return lines < 3;
                  });
  REQUIRE(r);
  CHECK(r->stopped_early);
  CHECK(lines >= 3);
  CHECK(WIFSIGNALED(r->status));
}
