#include <doctest/doctest.h>

#include <cstdlib>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <weft/service/main.hh>
#include <weft/service/notify.hh>
#include <weft/service/paths.hh>

using namespace weft;

TEST_CASE("the notifier speaks on the fd weftd gives it and leaves no trace in the environment") {
  int sv[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0);
  setenv("WEFT_NOTIFY_FD", std::to_string(sv[1]).c_str(), 1);
  setenv("WEFT_WATCHDOG_USEC", "2000000", 1);
  auto n = service::notifier::from_env();
  CHECK(n.active());
  CHECK(n.heartbeat_interval() == std::chrono::milliseconds(1000));
  CHECK(std::getenv("WEFT_NOTIFY_FD") == nullptr);
  REQUIRE(n.ready());
  REQUIRE(n.heartbeat());
  char buf[64];
  auto r = recv(sv[0], buf, sizeof buf, 0);
  CHECK(std::string(buf, static_cast<size_t>(r)) == "READY=1");
  r = recv(sv[0], buf, sizeof buf, 0);
  CHECK(std::string(buf, static_cast<size_t>(r)) == "WATCHDOG=1");
  close(sv[0]);
}

TEST_CASE("the notifier speaks sd_notify to $NOTIFY_SOCKET") {
  auto path = fmt::format("/tmp/weft-notify-test-{}", getpid());
  int s = socket(AF_UNIX, SOCK_DGRAM, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path.c_str());
  unlink(path.c_str());
  REQUIRE(bind(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
  unsetenv("WEFT_NOTIFY_FD");
  setenv("NOTIFY_SOCKET", path.c_str(), 1);
  auto n = service::notifier::from_env();
  REQUIRE(n.status_line("3 services running"));
  char buf[64];
  auto r = recv(s, buf, sizeof buf, 0);
  CHECK(std::string(buf, static_cast<size_t>(r)) == "STATUS=3 services running");
  unsetenv("NOTIFY_SOCKET");
  close(s);
  unlink(path.c_str());
}

TEST_CASE("without a supervisor the notifier is silent and succeeds") {
  unsetenv("WEFT_NOTIFY_FD");
  unsetenv("NOTIFY_SOCKET");
  auto n = service::notifier::from_env();
  CHECK_FALSE(n.active());
  CHECK(n.ready());
  CHECK(n.heartbeat_interval().count() == 0);
}

TEST_CASE("runtime directory resolution order") {
  setenv("WEFT_RUNTIME_DIR", "/tmp/a", 1);
  CHECK(service::runtime_dir("/x") == "/x");
  CHECK(service::runtime_dir() == "/tmp/a");
  unsetenv("WEFT_RUNTIME_DIR");
  unsetenv("RUNTIME_DIRECTORY");
  setenv("XDG_RUNTIME_DIR", "/run/user/7", 1);
  CHECK(service::runtime_dir() == "/run/user/7/weft");
  unsetenv("XDG_RUNTIME_DIR");
  CHECK(service::runtime_dir() == fmt::format("/tmp/weft-{}", getuid()));
  CHECK(service::bus_endpoint("/r") == "ipc:///r/bus");
}

TEST_CASE("beat_if_due sends a heartbeat when due and says how long to wait") {
  int sv[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0);
  setenv("WEFT_NOTIFY_FD", std::to_string(sv[1]).c_str(), 1);
  setenv("WEFT_WATCHDOG_USEC", "60000000", 1);  // heartbeat every 30 s
  auto n = service::notifier::from_env();
  auto wait = n.beat_if_due();  // the first one is always due
  CHECK(wait > std::chrono::seconds(29));
  CHECK(wait <= std::chrono::seconds(30));
  char buf[64];
  auto r = recv(sv[0], buf, sizeof buf, MSG_DONTWAIT);
  CHECK(std::string(buf, static_cast<size_t>(r)) == "WATCHDOG=1");
  n.beat_if_due();  // not due again yet: nothing sent
  CHECK(recv(sv[0], buf, sizeof buf, MSG_DONTWAIT) < 0);
  close(sv[0]);
  unsetenv("WEFT_NOTIFY_FD");
  auto idle = service::notifier::from_env();
  CHECK(idle.beat_if_due(std::chrono::milliseconds(123)) == std::chrono::milliseconds(123));
}

TEST_CASE("run_main tells the supervisor why it fails; a taken address adds ERRNO=98") {
  int sv[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0);
  auto run = [&](const error& e) {
    setenv("WEFT_NOTIFY_FD", std::to_string(sv[1]).c_str(), 1);
    char prog[] = "weft-test";
    char* argv[] = {prog, nullptr};
    service::main_spec spec{.program = "weft-test", .log_name = "test", .help = "usage: weft-test\n", .bus = false,
                            .config = false};
    int rc = service::run_main(1, argv, spec, [&](service::main_context& m) { return m.fail(e); });
    char buf[512];
    auto r = recv(sv[0], buf, sizeof buf, MSG_DONTWAIT);
    return std::pair{rc, r > 0 ? std::string(buf, static_cast<size_t>(r)) : std::string()};
  };
  auto [rc, notice] = run(fail(errc::address_in_use, "Failed to listen on 127.0.0.1:8780: address in use"));
  CHECK(rc == 1);
  CHECK(notice == "STATUS=Failed to listen on 127.0.0.1:8780: address in use\nERRNO=98");
  // Another failure: its first line only, no ERRNO.
  REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0);
  auto [rc2, notice2] = run(fail(errc::config, "clawft.toml:1:2: error: one\nclawft.toml:3:4: error: two"));
  CHECK(rc2 == 2);
  CHECK(notice2 == "STATUS=clawft.toml:1:2: error: one");
  close(sv[0]);
}
