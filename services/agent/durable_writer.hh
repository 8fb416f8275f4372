#pragma once
/// Makes session files and summaries durable (fdatasync, atomic replace) on worker threads,
/// so the agent's event loop never waits for the disk; completions run on the loop's thread
/// (weft::worker_pool). Concurrent fdatasyncs of different files share the file system's
/// journal commits, which is why there are several workers.
///
/// The rules: a session's lines are appended by the loop (page cache: they survive a crash
/// of this process) and only their sync is done here, on a dup of the file's descriptor;
/// a file just created gets its directory synced after it; a summary file is replaced
/// whole (weft::write_file_atomic). When every worker is busy and the queue is full, the
/// work runs on the loop's thread at once: the disk being that far behind slows the agent
/// down instead of growing a queue without limit.

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include <weft/base/event_loop.hh>
#include <weft/base/fd.hh>
#include <weft/base/result.hh>
#include <weft/base/worker_pool.hh>

namespace weft::agent {

class durable_writer {
 public:
  durable_writer(event_loop& loop, unsigned threads, std::size_t max_queued = 4096);

  /// fdatasync of `file` (a dup of a session file's descriptor, closed after), then fsync of
  /// `dir` when it is set (the file was just created). A failure is logged here; `then`
  /// (may be empty) runs on the loop's thread afterwards either way.
  void sync(unique_fd file, unique_fd dir, std::string path, std::function<void()> then = {});
  /// Replaces the file `path` by `bytes` atomically (missing directories created), then
  /// `done` with how that went, on the loop's thread.
  void replace(std::string path, std::string bytes, std::function<void(status)> done);

  /// Nothing queued or running.
  bool idle() const { return _pool.busy() == 0; }
  /// Waits for the running jobs; queued ones are dropped (the drain waits for idle() first).
  void stop() { _pool.stop(); }

 private:
  worker_pool _pool;
};

/// Writes all of `bytes` to `fd` (retrying short writes and EINTR); no sync.
status append(int fd, std::string_view bytes, const std::string& path);
/// Replaces the file `path` by `bytes` atomically (weft::write_file_atomic, mode 0600),
/// creating missing directories first.
status write_file_atomically(const std::string& path, std::string_view bytes);

}  // namespace weft::agent
