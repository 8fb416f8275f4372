#pragma once
/// Appends to session files and makes them durable (write + fdatasync) on worker threads,
/// so the agent's event loop never waits for the disk. Completions are collected by the
/// loop after its eventfd becomes readable. Concurrent fdatasyncs of different files share
/// the file system's journal commits, which is why there are several workers.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <weft/base/result.hh>

namespace weft::agent {

class durable_writer {
 public:
  struct job {
    std::uint64_t id = 0;
    int fd = -1;          ///< opened O_APPEND by the caller, kept open until the completion
    int dir_fd = -1;      ///< >= 0: fsync this directory too (the file was just created)
    std::string bytes;
    std::string path;     ///< for messages
    bool sync_only = false;  ///< bytes already written: fdatasync `fd` (a dup, closed after); reported only when id != 0
    std::string replace;     ///< non-empty (and fd < 0): write `bytes` as this whole file, atomically
  };
  struct done {
    std::uint64_t id = 0;
    status result;
  };

  explicit durable_writer(unsigned threads);
  ~durable_writer();
  durable_writer(const durable_writer&) = delete;
  durable_writer& operator=(const durable_writer&) = delete;

  /// Readable when completions are waiting.
  int event_fd() const { return _efd; }
  void submit(job j);
  std::vector<done> take_done();

 private:
  void work();

  int _efd = -1;
  std::mutex _mu;
  std::condition_variable _cv;
  std::deque<job> _jobs;
  std::vector<done> _done;
  bool _stop = false;
  std::vector<std::thread> _threads;
};

/// Writes all of `bytes` to `fd` (retrying short writes and EINTR), then fdatasync.
status append_durably(int fd, std::string_view bytes, const std::string& path);
/// Replaces the file `path` by `bytes` atomically: a temporary file beside it, written and
/// fsynced, renamed over `path`, and the directory fsynced. Creates missing directories.
status write_file_atomically(const std::string& path, std::string_view bytes);
/// Writes all of `bytes` to `fd` (retrying short writes and EINTR); no sync.
status append(int fd, std::string_view bytes, const std::string& path);

}  // namespace weft::agent
