#pragma once
/// The reactor every weft process runs on, in the spirit of systemd's sd-event: one thread
/// waits on epoll for the descriptors it was asked to watch, the earliest timer, signals
/// (through a signalfd) and work handed over by other threads (through an eventfd), and
/// calls the registered callbacks. A process never writes its own poll loop; it registers
/// what it waits for here (the bus connection is registered by service::runtime).
///
/// Everything but post() must be called from the loop's own thread. Callbacks may add and
/// remove watches and timers, including their own, at any time.

#include <sys/epoll.h>
#include <sys/signalfd.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include <weft/base/fd.hh>
#include <weft/base/result.hh>
#include <weft/base/time.hh>
#include <weft/base/unique_function.hh>

namespace weft {

class event_loop {
 public:
  using clock = mono_clock;
  /// Names a watch, timer or hook for removal; 0 names nothing.
  using id = std::uint64_t;
  /// Gets the epoll events that happened (EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP …).
  using fd_callback = std::function<void(std::uint32_t events)>;

  /// errc::io when the kernel refuses an epoll instance or an eventfd.
  static result<std::unique_ptr<event_loop>> create();
  ~event_loop();
  event_loop(const event_loop&) = delete;
  event_loop& operator=(const event_loop&) = delete;

  /// Calls `fn` whenever `fd` is ready for `events` (level-triggered, EPOLLIN and/or
  /// EPOLLOUT; errors and hang-ups are always reported). The fd stays the caller's: unwatch
  /// it before closing it. errc::io when epoll refuses the fd (e.g. a regular file).
  result<id> watch(int fd, std::uint32_t events, fd_callback fn);
  /// Changes what a watch waits for (e.g. adds EPOLLOUT while output is queued).
  status modify(id w, std::uint32_t events);
  /// Stops a watch; its callback is not called again, even for events already collected.
  void unwatch(id w);

  /// A callback of a timer, post() or defer(); it may own move-only state (a responder).
  using task = unique_function<void()>;

  /// Calls `fn` once, `delay` from now (rounded up to the next millisecond).
  id after(std::chrono::nanoseconds delay, task fn);
  /// Calls `fn` once at `when`.
  id at(clock::time_point when, task fn);
  /// Calls `fn` every `period`, the first time one period from now, until cancelled.
  id every(std::chrono::nanoseconds period, task fn);
  /// Cancels a timer; nothing happens when it already fired or was cancelled.
  void cancel(id timer);

  /// Runs `fn` on the loop's thread soon. The only call that is safe from any thread: how
  /// worker threads hand their results back.
  void post(task fn);
  /// Runs `fn` on the loop's thread after the current callback, before the next wait.
  void defer(task fn);

  /// Calls `fn` before every wait; when it returns true the loop does not sleep (it has more
  /// work in hand, as a ZeroMQ socket whose edge-triggered ZMQ_FD was already consumed).
  id before_wait(std::function<bool()> fn);
  void remove_before_wait(id h);

  /// Calls `fn` for each delivery of `signo`. The signal must already be blocked in every
  /// thread (service::run_main blocks TERM, INT and HUP before any thread exists).
  status on_signal(int signo, std::function<void(const signalfd_siginfo&)> fn);

  /// Runs until quit(); returns quit()'s code.
  int run();
  /// One pass: waits up to `max_wait` (less when a timer is due sooner, zero when work is
  /// in hand), then runs what became ready. For tests and for callers that must return.
  void run_once(std::chrono::milliseconds max_wait);
  /// Makes run() return `code` after the current pass.
  void quit(int code = 0);
  bool quitting() const { return _quit; }

  /// The epoll descriptor: readable whenever a watched descriptor is ready. Only for
  /// embedding this loop in a foreign poll loop not yet on event_loop (as sd_event_get_fd):
  /// poll it, then run_once(0ms). Timers are not reflected in it.
  int fd() const { return _ep.get(); }

  /// Timers pending (tests and diagnostics).
  std::size_t timers() const { return _timers.size(); }

 private:
  event_loop(unique_fd ep, unique_fd wake);
  struct watch_entry {
    int fd;
    fd_callback fn;
  };
  struct timer_entry {
    task fn;
    std::chrono::nanoseconds period{0};  // 0: once
  };
  std::chrono::milliseconds wait_time(std::chrono::milliseconds max_wait);
  void fire_timers();
  void run_posted();
  void run_deferred();
  void read_signals();

  unique_fd _ep;
  unique_fd _wake;  // eventfd: post() was called
  unique_fd _sfd;   // signalfd of the signals asked for
  sigset_t _sigs;
  std::map<int, std::function<void(const signalfd_siginfo&)>> _signal_fns;
  id _next = 1;
  std::unordered_map<id, std::unique_ptr<watch_entry>> _watches;
  std::vector<std::unique_ptr<watch_entry>> _unwatched;  // freed after the pass that dropped them
  id _firing = 0;             // the periodic timer whose callback runs now
  bool _firing_cancelled = false;
  std::map<std::pair<clock::time_point, id>, timer_entry> _timers;
  std::unordered_map<id, clock::time_point> _timer_at;
  std::map<id, std::function<bool()>> _hooks;
  std::vector<task> _deferred;
  std::mutex _posted_mu;
  std::vector<task> _posted;
  bool _quit = false;
  int _code = 0;
};

}  // namespace weft
