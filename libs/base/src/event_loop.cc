#include <weft/base/event_loop.hh>

#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace weft {

namespace {
// epoll data of the loop's own descriptors; watch ids start above them.
constexpr event_loop::id wake_key = 1;
constexpr event_loop::id signal_key = 2;
constexpr event_loop::id first_id = 16;
}  // namespace

result<std::unique_ptr<event_loop>> event_loop::create() {
  unique_fd ep(::epoll_create1(EPOLL_CLOEXEC));
  if (!ep) return fail(errc::io, "Failed to create an epoll instance: {}", std::strerror(errno));
  unique_fd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake) return fail(errc::io, "Failed to create an eventfd: {}", std::strerror(errno));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = wake_key;
  if (::epoll_ctl(ep.get(), EPOLL_CTL_ADD, wake.get(), &ev) != 0)
    return fail(errc::io, "Failed to watch an eventfd: {}", std::strerror(errno));
  return std::unique_ptr<event_loop>(new event_loop(std::move(ep), std::move(wake)));
}

event_loop::event_loop(unique_fd ep, unique_fd wake) : _ep(std::move(ep)), _wake(std::move(wake)), _next(first_id) {
  sigemptyset(&_sigs);
}

event_loop::~event_loop() = default;

result<event_loop::id> event_loop::watch(int fd, std::uint32_t events, fd_callback fn) {
  id w = _next++;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = w;
  if (::epoll_ctl(_ep.get(), EPOLL_CTL_ADD, fd, &ev) != 0)
    return fail(errc::io, "Failed to watch descriptor {}: {}", fd, std::strerror(errno));
  _watches.emplace(w, std::make_unique<watch_entry>(watch_entry{fd, std::move(fn)}));
  return w;
}

status event_loop::modify(id w, std::uint32_t events) {
  auto it = _watches.find(w);
  if (it == _watches.end()) return fail(errc::invalid_argument, "no watch {}", w);
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = w;
  if (::epoll_ctl(_ep.get(), EPOLL_CTL_MOD, it->second->fd, &ev) != 0)
    return fail(errc::io, "Failed to change the watch of descriptor {}: {}", it->second->fd, std::strerror(errno));
  return {};
}

void event_loop::unwatch(id w) {
  auto it = _watches.find(w);
  if (it == _watches.end()) return;
  // The fd may already be closed (then the kernel dropped it from the set itself).
  (void)::epoll_ctl(_ep.get(), EPOLL_CTL_DEL, it->second->fd, nullptr);
  // Its callback may be the one running: it is freed after this pass.
  _unwatched.push_back(std::move(it->second));
  _watches.erase(it);
}

event_loop::id event_loop::at(clock::time_point when, task fn) {
  id t = _next++;
  _timers.emplace(std::pair{when, t}, timer_entry{std::move(fn), {}});
  _timer_at.emplace(t, when);
  return t;
}

event_loop::id event_loop::after(std::chrono::nanoseconds delay, task fn) {
  return at(clock::now() + delay, std::move(fn));
}

event_loop::id event_loop::every(std::chrono::nanoseconds period, task fn) {
  if (period <= std::chrono::nanoseconds::zero()) period = std::chrono::milliseconds(1);
  id t = at(clock::now() + period, std::move(fn));
  _timers.find(std::pair{_timer_at[t], t})->second.period = period;
  return t;
}

void event_loop::cancel(id timer) {
  if (timer != 0 && timer == _firing) _firing_cancelled = true;
  auto it = _timer_at.find(timer);
  if (it == _timer_at.end()) return;
  _timers.erase(std::pair{it->second, timer});
  _timer_at.erase(it);
}

void event_loop::post(task fn) {
  {
    std::lock_guard lk(_posted_mu);
    _posted.push_back(std::move(fn));
  }
  std::uint64_t one = 1;
  (void)!::write(_wake.get(), &one, sizeof one);
}

void event_loop::defer(task fn) { _deferred.push_back(std::move(fn)); }

event_loop::id event_loop::before_wait(std::function<bool()> fn) {
  id h = _next++;
  _hooks.emplace(h, std::move(fn));
  return h;
}

void event_loop::remove_before_wait(id h) { _hooks.erase(h); }

status event_loop::on_signal(int signo, std::function<void(const signalfd_siginfo&)> fn) {
  sigaddset(&_sigs, signo);
  bool fresh = !_sfd;
  int fd = ::signalfd(_sfd ? _sfd.get() : -1, &_sigs, SFD_CLOEXEC | SFD_NONBLOCK);
  if (fd < 0) return fail(errc::io, "Failed to create a signalfd: {}", std::strerror(errno));
  if (fresh) {
    _sfd.reset(fd);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = signal_key;
    if (::epoll_ctl(_ep.get(), EPOLL_CTL_ADD, fd, &ev) != 0)
      return fail(errc::io, "Failed to watch a signalfd: {}", std::strerror(errno));
  }
  _signal_fns[signo] = std::move(fn);
  return {};
}

void event_loop::read_signals() {
  signalfd_siginfo si;
  while (::read(_sfd.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si))
    if (auto it = _signal_fns.find(static_cast<int>(si.ssi_signo)); it != _signal_fns.end()) it->second(si);
}

void event_loop::run_posted() {
  std::uint64_t n;
  (void)!::read(_wake.get(), &n, sizeof n);
  std::vector<task> fns;
  {
    std::lock_guard lk(_posted_mu);
    fns.swap(_posted);
  }
  for (auto& f : fns) f();
}

void event_loop::run_deferred() {
  // A deferred callback may defer more; those run in this pass too, in order.
  for (std::size_t i = 0; i < _deferred.size(); ++i) {
    auto f = std::move(_deferred[i]);
    f();
  }
  _deferred.clear();
}

void event_loop::fire_timers() {
  if (_timers.empty()) return;
  auto now = clock::now();
  // The timers due now; those a callback adds (even already due) wait for the next pass.
  std::vector<std::pair<clock::time_point, id>> due;
  for (auto it = _timers.begin(); it != _timers.end() && it->first.first <= now; ++it) due.push_back(it->first);
  for (auto& key : due) {
    auto it = _timers.find(key);
    if (it == _timers.end()) continue;  // cancelled by an earlier callback
    auto entry = std::move(it->second);
    _timers.erase(it);
    _timer_at.erase(key.second);
    if (entry.period > std::chrono::nanoseconds::zero()) {
      _firing = key.second;
      _firing_cancelled = false;
      entry.fn();
      _firing = 0;
      if (!_firing_cancelled) {  // the callback may have cancelled its own timer
        auto next = std::max(key.first + entry.period, clock::now());
        _timers.emplace(std::pair{next, key.second}, std::move(entry));
        _timer_at.emplace(key.second, next);
      }
    } else {
      entry.fn();
    }
    run_deferred();
  }
}

std::chrono::milliseconds event_loop::wait_time(std::chrono::milliseconds max_wait) {
  bool busy = !_deferred.empty();
  for (auto it = _hooks.begin(); it != _hooks.end();) {
    auto next = std::next(it);  // a hook may remove itself
    if (it->second()) busy = true;
    it = next;
  }
  run_deferred();
  if (busy || _quit) return std::chrono::milliseconds::zero();
  if (!_timers.empty()) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(_timers.begin()->first.first - clock::now());
    max_wait = std::clamp(left, std::chrono::milliseconds::zero(), max_wait);
  }
  return max_wait;
}

void event_loop::run_once(std::chrono::milliseconds max_wait) {
  auto wait = wait_time(max_wait);
  epoll_event evs[64];
  int n = ::epoll_wait(_ep.get(), evs, 64, static_cast<int>(wait.count()));
  for (int i = 0; i < n; ++i) {
    auto key = evs[i].data.u64;
    if (key == wake_key) {
      run_posted();
    } else if (key == signal_key) {
      read_signals();
    } else if (auto it = _watches.find(key); it != _watches.end()) {
      it->second->fn(evs[i].events);
    }
    run_deferred();
  }
  fire_timers();
  _unwatched.clear();
}

int event_loop::run() {
  while (!_quit) run_once(std::chrono::hours(1));
  return _code;
}

void event_loop::quit(int code) {
  if (!_quit) _code = code;
  _quit = true;
}

}  // namespace weft
