#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>

#include <weft/base/fd_relay.hh>

using namespace weft;
using namespace std::chrono_literals;

namespace {

struct pair_fds {
  unique_fd ours, relays;  // the test's end, the end handed to the relay
};

pair_fds make_pair() {
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) == 0);
  return {unique_fd(sv[0]), unique_fd(sv[1])};
}

struct outcome {
  fd_relay::end why;
  std::uint64_t ab, ba;
};

struct fixture {
  std::unique_ptr<event_loop> loop = [] {
    auto l = event_loop::create();
    REQUIRE(l);
    return std::move(*l);
  }();
  pair_fds a = make_pair(), b = make_pair();
  std::unique_ptr<fd_relay> relay;
  std::optional<outcome> done;

  void start(fd_relay::limits lim, std::string to_b = {}, std::string to_a = {}) {
    auto r = fd_relay::start(*loop, std::move(a.relays), std::move(b.relays), lim,
                             [this](fd_relay::end why, std::uint64_t ab, std::uint64_t ba) {
                               done = outcome{why, ab, ba};
                               relay.reset();  // the owner may destroy it here
                             },
                             std::move(to_b), std::move(to_a));
    REQUIRE(r);
    relay = std::move(*r);
  }
  /// Runs the loop until `n` bytes can be read from `fd` (or EOF); returns what was read.
  std::string read(int fd, std::size_t n) {
    std::string got;
    for (int pass = 0; pass < 1000 && got.size() < n; ++pass) {
      loop->run_once(10ms);
      char buf[4096];
      ssize_t k = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (k == 0) break;
      if (k > 0) got.append(buf, static_cast<std::size_t>(k));
    }
    return got;
  }
  bool eof(int fd) {
    for (int pass = 0; pass < 1000; ++pass) {
      loop->run_once(10ms);
      char c;
      ssize_t k = ::recv(fd, &c, 1, MSG_DONTWAIT);
      if (k == 0) return true;
      if (k > 0) return false;
    }
    return false;
  }
  void run_until_done() {
    for (int pass = 0; pass < 1000 && !done; ++pass) loop->run_once(10ms);
  }
};

}  // namespace

TEST_CASE("fd_relay: both ways, half-close passed on, done once with the byte counts") {
  fixture f;
  f.start({}, "head:", "hello:");
  REQUIRE(::send(f.a.ours.get(), "ping", 4, 0) == 4);
  CHECK(f.read(f.b.ours.get(), 9) == "head:ping");
  CHECK(f.read(f.a.ours.get(), 6) == "hello:");
  REQUIRE(::send(f.b.ours.get(), "pong", 4, 0) == 4);
  CHECK(f.read(f.a.ours.get(), 4) == "pong");
  ::shutdown(f.a.ours.get(), SHUT_WR);
  CHECK(f.eof(f.b.ours.get()));  // a's EOF reached b as a half-close
  CHECK_FALSE(f.done);
  REQUIRE(::send(f.b.ours.get(), "late", 4, 0) == 4);  // the other way still works
  CHECK(f.read(f.a.ours.get(), 4) == "late");
  ::shutdown(f.b.ours.get(), SHUT_WR);
  f.run_until_done();
  REQUIRE(f.done);
  CHECK(f.done->why == fd_relay::end::closed);
  CHECK(f.done->ab == 4);  // bytes read from the sockets, not the ones handed to start()
  CHECK(f.done->ba == 8);
  CHECK_FALSE(f.relay);
}

TEST_CASE("fd_relay: max_bytes ends it and closes both sockets") {
  fixture f;
  f.start({.max_bytes = 10});
  std::string big(32, 'x');
  REQUIRE(::send(f.a.ours.get(), big.data(), big.size(), 0) == 32);
  f.run_until_done();
  REQUIRE(f.done);
  CHECK(f.done->why == fd_relay::end::too_many_bytes);
  CHECK(f.eof(f.a.ours.get()));
  CHECK(f.eof(f.b.ours.get()));
}

TEST_CASE("fd_relay: a connection where nothing moves ends at the idle limit") {
  fixture f;
  f.start({.idle = 20ms});
  f.run_until_done();
  REQUIRE(f.done);
  CHECK(f.done->why == fd_relay::end::idle);
}

TEST_CASE("fd_relay: a side that vanishes ends it") {
  fixture f;
  f.start({});
  f.b.ours.reset();
  REQUIRE(::send(f.a.ours.get(), "x", 1, 0) == 1);
  f.run_until_done();
  REQUIRE(f.done);
  CHECK((f.done->why == fd_relay::end::error || f.done->why == fd_relay::end::closed));
}
