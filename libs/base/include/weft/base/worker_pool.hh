#pragma once
/// Threads for blocking work (a child process, an HTTP transfer, an fsync) whose results go
/// back to the event loop's thread: `work` runs on a worker, and what it returns is passed
/// to `done` on the loop's thread (event_loop::post). The loop's thread never blocks and
/// stays the only one that touches its state.
///
/// Bounded: at most `max_queued` jobs wait for a worker; submit() refuses more, so a peer
/// that sends work faster than it is done cannot make the queue grow without limit.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

#include <weft/base/event_loop.hh>

namespace weft {

class worker_pool {
 public:
  worker_pool(event_loop& loop, unsigned threads, std::size_t max_queued = 1024);
  ~worker_pool();  ///< stop(): running jobs finish, queued ones are dropped
  worker_pool(const worker_pool&) = delete;
  worker_pool& operator=(const worker_pool&) = delete;

  /// Runs `work` on a worker, then `done(work())` on the loop's thread. False (nothing
  /// runs) when max_queued jobs already wait or the pool is stopping.
  template <class Work, class Done>
  bool submit(Work work, Done done) {
    using R = std::invoke_result_t<Work&>;
    if constexpr (std::is_void_v<R>) {
      return push([loop = &_loop, busy = _busy, work = std::move(work), done = std::move(done)]() mutable {
        work();
        loop->post([busy, done = std::move(done)]() mutable {
          --*busy;
          done();
        });
      });
    } else {
      return push([loop = &_loop, busy = _busy, work = std::move(work), done = std::move(done)]() mutable {
        auto r = std::make_shared<R>(work());
        loop->post([busy, r, done = std::move(done)]() mutable {
          --*busy;
          done(std::move(*r));
        });
      });
    }
  }

  /// Jobs submitted whose `done` has not run yet (queued, running or being handed back).
  std::size_t busy() const { return *_busy; }
  std::size_t queued() const;
  /// Refuses new work, drops what is queued (its `done` never runs) and waits for the
  /// running jobs; their completions are still posted to the loop.
  void stop();

 private:
  bool push(unique_function<void()> job);
  void run();

  event_loop& _loop;
  std::size_t _max_queued;
  // Loop thread only; shared with the completions in flight, which may run after the pool
  // is gone (they still call `done`: stop the pool before what `done` uses goes away).
  std::shared_ptr<std::size_t> _busy = std::make_shared<std::size_t>(0);
  mutable std::mutex _mu;
  std::condition_variable _cv;
  std::deque<unique_function<void()>> _jobs;
  bool _stopping = false;
  std::vector<std::thread> _threads;
};

}  // namespace weft
