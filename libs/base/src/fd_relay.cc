#include <weft/base/fd_relay.hh>

#include <sys/socket.h>

#include <cerrno>

namespace weft {

result<std::unique_ptr<fd_relay>> fd_relay::start(event_loop& loop, unique_fd a, unique_fd b, limits lim, done_fn done,
                                                  std::string to_b, std::string to_a) {
  std::unique_ptr<fd_relay> r(new fd_relay(loop, std::move(a), std::move(b), lim, std::move(done)));
  r->_ab.buf = std::move(to_b);
  r->_ba.buf = std::move(to_a);
  auto* self = r.get();
  int fa = r->_a.get(), fb = r->_b.get();
  auto wa = loop.watch(fa, 0, [self, fa](std::uint32_t ev) { self->on_ready(fa, ev); });
  if (!wa) return wa.take_error();
  r->_wa = *wa;
  auto wb = loop.watch(fb, 0, [self, fb](std::uint32_t ev) { self->on_ready(fb, ev); });
  if (!wb) return wb.take_error();
  r->_wb = *wb;
  r->arm_idle();
  r->flush(r->_ab);
  r->flush(r->_ba);
  r->update();
  return r;
}

fd_relay::fd_relay(event_loop& loop, unique_fd a, unique_fd b, limits lim, done_fn done)
    : _loop(loop), _a(std::move(a)), _b(std::move(b)), _lim(lim), _done(std::move(done)), _last(mono_clock::now()) {
  _ab.from = _a.get(), _ab.to = _b.get();
  _ba.from = _b.get(), _ba.to = _a.get();
}

fd_relay::~fd_relay() {
  *_alive = false;
  if (_wa) _loop.unwatch(_wa);
  if (_wb) _loop.unwatch(_wb);
  if (_idle) _loop.cancel(_idle);
}

void fd_relay::arm_idle() {
  if (_lim.idle.count() == 0) return;
  auto left = _lim.idle - std::chrono::duration_cast<std::chrono::milliseconds>(mono_clock::now() - _last);
  if (left.count() <= 0) return finish(end::idle);
  _idle = _loop.after(left, [this] {
    _idle = 0;
    arm_idle();
  });
}

bool fd_relay::read_into(direction& d) {
  if (d.eof || d.buf.size() >= _lim.buffer) return true;
  char tmp[16384];
  std::size_t want = std::min(sizeof tmp, _lim.buffer - d.buf.size());
  ssize_t n = ::recv(d.from, tmp, want, MSG_DONTWAIT);
  if (n > 0) {
    d.buf.append(tmp, static_cast<std::size_t>(n));
    d.moved += static_cast<std::uint64_t>(n);
    _last = mono_clock::now();
    if (_lim.max_bytes && _ab.moved + _ba.moved > _lim.max_bytes) {
      finish(end::too_many_bytes);
      return false;
    }
  } else if (n == 0) {
    d.eof = true;
  } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
    finish(end::error);
    return false;
  }
  return true;
}

bool fd_relay::flush(direction& d) {
  while (!d.dead && d.off < d.buf.size()) {
    ssize_t n = ::send(d.to, d.buf.data() + d.off, d.buf.size() - d.off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      d.off += static_cast<std::size_t>(n);
      _last = mono_clock::now();
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      break;
    } else {
      finish(end::error);
      return false;
    }
  }
  if (d.off == d.buf.size()) {
    d.buf.clear();
    d.off = 0;
    if (d.eof && !d.shut && !d.dead) {
      ::shutdown(d.to, SHUT_WR);
      d.shut = true;
    }
  }
  return true;
}

void fd_relay::on_ready(int fd, std::uint32_t events) {
  if (_ended) return;
  bool is_a = fd == _a.get();
  direction& out = is_a ? _ab : _ba;  // read from fd
  direction& in = is_a ? _ba : _ab;   // written to fd
  if (events & EPOLLERR) return finish(end::error);
  if ((events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP)) && !read_into(out)) return;
  if ((events & EPOLLOUT) && !flush(in)) return;
  // The other end of fd is gone entirely: what is still owed to it can never arrive.
  if ((events & EPOLLHUP) && !in.shut) in.dead = true, in.buf.clear(), in.off = 0;
  if (!flush(out)) return;
  update();
}

void fd_relay::update() {
  if (_ended) return;
  if (_ab.finished() && _ba.finished()) return finish(end::closed);
  auto interest = [&](direction& out, direction& in) -> std::uint32_t {
    std::uint32_t e = 0;
    if (!out.eof && out.buf.size() < _lim.buffer) e |= EPOLLIN;
    if (!in.dead && in.off < in.buf.size()) e |= EPOLLOUT;
    return e;
  };
  auto set = [&](event_loop::id& w, std::uint32_t& cur, std::uint32_t want, bool done_with) {
    if (!w) return;
    // An fd we will neither read nor write again is dropped, or its hang-up would be
    // reported on every pass.
    if (done_with) {
      _loop.unwatch(w);
      w = 0;
      return;
    }
    if (want != cur) (void)_loop.modify(w, want), cur = want;
  };
  set(_wa, _ea, interest(_ab, _ba), _ab.eof && _ba.finished());
  set(_wb, _eb, interest(_ba, _ab), _ba.eof && _ab.finished());
}

void fd_relay::finish(end why) {
  if (_ended) return;
  _ended = true;
  if (_wa) _loop.unwatch(_wa), _wa = 0;
  if (_wb) _loop.unwatch(_wb), _wb = 0;
  if (_idle) _loop.cancel(_idle), _idle = 0;
  _loop.defer([this, alive = _alive, why] {
    if (!*alive || !_done) return;
    // Moved out first: the owner may destroy the relay (and so _done) in it.
    auto done = std::move(_done);
    done(why, _ab.moved, _ba.moved);
  });
}

}  // namespace weft
