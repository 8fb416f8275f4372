#include <weft/base/worker_pool.hh>

namespace weft {

worker_pool::worker_pool(event_loop& loop, unsigned threads, std::size_t max_queued)
    : _loop(loop), _max_queued(max_queued) {
  if (threads == 0) threads = 1;
  for (unsigned i = 0; i < threads; ++i) _threads.emplace_back([this] { run(); });
}

worker_pool::~worker_pool() { stop(); }

bool worker_pool::push(unique_function<void()> job) {
  {
    std::lock_guard lk(_mu);
    if (_stopping || _jobs.size() >= _max_queued) return false;
    _jobs.push_back(std::move(job));
  }
  ++*_busy;
  _cv.notify_one();
  return true;
}

std::size_t worker_pool::queued() const {
  std::lock_guard lk(_mu);
  return _jobs.size();
}

void worker_pool::stop() {
  std::size_t dropped = 0;
  {
    std::lock_guard lk(_mu);
    if (_stopping) return;
    _stopping = true;
    dropped = _jobs.size();
    _jobs.clear();
  }
  *_busy -= dropped;
  _cv.notify_all();
  for (auto& t : _threads) t.join();
}

void worker_pool::run() {
  for (;;) {
    unique_function<void()> job;
    {
      std::unique_lock lk(_mu);
      _cv.wait(lk, [&] { return _stopping || !_jobs.empty(); });
      if (_jobs.empty()) return;  // stopping
      job = std::move(_jobs.front());
      _jobs.pop_front();
    }
    job();
  }
}

}  // namespace weft
