#include <doctest/doctest.h>

#include "spawn.hh"
#include "supervisor.hh"

using namespace weft;
using namespace std::chrono_literals;

TEST_CASE("backoff doubles from the initial delay up to the maximum") {
  service::supervisor_settings s;
  s.restart_backoff_initial_ms = 100;
  s.restart_backoff_max_ms = 500;
  s.restart_intensity = 100;
  weftd::restart_policy p(s);
  weftd::mono t{};
  std::vector<long> got;
  for (int i = 0; i < 5; ++i) got.push_back(p.on_crash(t + std::chrono::seconds(i), std::nullopt)->count());
  CHECK(got == std::vector<long>{100, 200, 400, 500, 500});
}

TEST_CASE("too many crashes within the window give up; old crashes age out") {
  service::supervisor_settings s;
  s.restart_intensity = 3;
  s.restart_window_s = 60;
  weftd::restart_policy p(s);
  weftd::mono t{};
  CHECK(p.on_crash(t, std::nullopt));
  CHECK(p.on_crash(t + 1s, std::nullopt));
  CHECK(p.on_crash(t + 2s, std::nullopt));
  CHECK_FALSE(p.on_crash(t + 3s, std::nullopt));
  weftd::restart_policy q(s);
  CHECK(q.on_crash(t, std::nullopt));
  CHECK(q.on_crash(t + 1s, std::nullopt));
  CHECK(q.on_crash(t + 2s, std::nullopt));
  CHECK(q.on_crash(t + 70s, std::nullopt));  // the first three are outside the window now
}

TEST_CASE("a service that ran well restarts with the initial delay again") {
  service::supervisor_settings s;
  s.restart_backoff_initial_ms = 100;
  s.restart_intensity = 100;
  weftd::restart_policy p(s);
  weftd::mono t{};
  CHECK(p.on_crash(t, std::nullopt)->count() == 100);
  CHECK(p.on_crash(t + 1s, std::nullopt)->count() == 200);
  CHECK(p.on_crash(t + 60s, t + 5s)->count() == 100);  // was ready for 55 s
}

TEST_CASE("exit statuses are described for people") {
  CHECK(weftd::describe_exit(0) == "exited with status 0");
  CHECK(weftd::describe_exit(3 << 8) == "exited with status 3");
  CHECK(weftd::describe_exit(9) == "killed by signal 9 (KILL)");
}

TEST_CASE("check_executable explains what is wrong") {
  auto r = weftd::check_executable("/nonexistent/weft-x");
  REQUIRE_FALSE(r);
  CHECK(r.err().message == "Failed to start '/nonexistent/weft-x': No such file or directory");
  CHECK_FALSE(weftd::check_executable("/etc"));
  CHECK(weftd::check_executable("/bin/sh"));
}
