#pragma once
/// Threads for blocking work (HTTP) whose results are handed back to the service's single
/// bus thread: work runs on a worker, its completion runs in the bus thread when that
/// thread calls run_completions() after poll() reported fd() readable.

#include <sys/eventfd.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace weft::chan {

class worker_pool {
 public:
  explicit worker_pool(unsigned threads) : _efd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    for (unsigned i = 0; i < threads; ++i) _threads.emplace_back([this] { work(); });
  }
  ~worker_pool() { stop(); ::close(_efd); }
  worker_pool(const worker_pool&) = delete;
  worker_pool& operator=(const worker_pool&) = delete;

  /// Runs `job` on a worker; the completion it returns runs later in the bus thread.
  void submit(std::function<std::function<void()>()> job) {
    {
      std::lock_guard l(_mu);
      _jobs.push_back(std::move(job));
    }
    _cv.notify_one();
  }
  /// From any thread: runs `fn` in the bus thread at the next run_completions().
  void post(std::function<void()> fn) {
    {
      std::lock_guard l(_mu);
      _done.push_back(std::move(fn));
    }
    std::uint64_t one = 1;
    (void)!::write(_efd, &one, sizeof one);
  }
  int fd() const { return _efd; }
  void run_completions() {
    std::uint64_t v;
    (void)!::read(_efd, &v, sizeof v);
    std::deque<std::function<void()>> done;
    {
      std::lock_guard l(_mu);
      done.swap(_done);
    }
    for (auto& f : done) f();
  }
  /// Lets running jobs finish; queued ones are dropped.
  void stop() {
    {
      std::lock_guard l(_mu);
      if (_stopping) return;
      _stopping = true;
      _jobs.clear();
    }
    _cv.notify_all();
    for (auto& t : _threads) t.join();
  }

 private:
  void work() {
    for (;;) {
      std::function<std::function<void()>()> job;
      {
        std::unique_lock l(_mu);
        _cv.wait(l, [&] { return _stopping || !_jobs.empty(); });
        if (_stopping) return;
        job = std::move(_jobs.front());
        _jobs.pop_front();
      }
      auto completion = job();
      if (completion) post(std::move(completion));
    }
  }

  int _efd;
  std::mutex _mu;
  std::condition_variable _cv;
  bool _stopping = false;
  std::deque<std::function<std::function<void()>()>> _jobs;
  std::deque<std::function<void()>> _done;
  std::vector<std::thread> _threads;
};

}  // namespace weft::chan
