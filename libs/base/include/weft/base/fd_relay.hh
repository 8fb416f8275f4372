#pragma once
/// Two connected stream sockets joined on the event loop: what one sends the other
/// receives, both ways, until both sides are done, with a cap on the bytes and on idle
/// time. A proxy needs exactly this after it has decided where a connection goes (the
/// egress proxy: client ↔ target; a tool's relay: TCP inside its namespace ↔ the egress's
/// UNIX socket), so it lives here once.
///
/// An end that finished sending (EOF) is passed on as a half-close (shutdown SHUT_WR), so
/// request/response protocols that close their sending side still work.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <weft/base/event_loop.hh>
#include <weft/base/fd.hh>

namespace weft {

class fd_relay {
 public:
  struct limits {
    std::uint64_t max_bytes = 0;             ///< both ways together; 0: no limit
    std::chrono::milliseconds idle{0};        ///< nothing moved for this long ends it; 0: never
    std::size_t buffer = 64 * 1024;          ///< per direction
  };
  /// Why a relay ended: both sides closed, a socket error, max_bytes passed, idle too long.
  enum class end : std::uint8_t { closed = 0, error = 1, too_many_bytes = 2, idle = 3 };
  /// Called once, from the loop (never from inside start()), with the bytes that went a→b
  /// and b→a. The owner may destroy the relay in it.
  using done_fn = std::function<void(end why, std::uint64_t a_to_b, std::uint64_t b_to_a)>;

  /// Starts relaying between the non-blocking sockets `a` and `b`; `to_b` and `to_a` are
  /// sent first (what a proxy already read past a request head, or its own reply).
  /// errc::io when the loop refuses a socket.
  static result<std::unique_ptr<fd_relay>> start(event_loop& loop, unique_fd a, unique_fd b, limits lim, done_fn done,
                                                 std::string to_b = {}, std::string to_a = {});
  ~fd_relay();
  fd_relay(const fd_relay&) = delete;
  fd_relay& operator=(const fd_relay&) = delete;

  std::uint64_t bytes() const { return _ab.moved + _ba.moved; }

 private:
  struct direction {
    int from = -1, to = -1;
    std::string buf;
    std::size_t off = 0;  // sent up to here
    bool eof = false;     // `from` will send nothing more
    bool shut = false;    // half-close passed on to `to`
    bool dead = false;    // `to` is gone: nothing more can be delivered
    std::uint64_t moved = 0;
    bool finished() const { return dead || shut; }
  };
  fd_relay(event_loop& loop, unique_fd a, unique_fd b, limits lim, done_fn done);
  void on_ready(int fd, std::uint32_t events);
  bool read_into(direction& d);
  bool flush(direction& d);
  void update();
  void finish(end why);
  void arm_idle();

  event_loop& _loop;
  unique_fd _a, _b;
  limits _lim;
  done_fn _done;
  direction _ab, _ba;
  event_loop::id _wa = 0, _wb = 0, _idle = 0;
  std::uint32_t _ea = 0, _eb = 0;
  mono_clock::time_point _last;
  bool _ended = false;
  std::shared_ptr<bool> _alive = std::make_shared<bool>(true);  // for the deferred done call
};

}  // namespace weft
