#include "durable_writer.hh"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <weft/base/io.hh>
#include <weft/base/log.hh>

namespace weft::agent {

status append_durably(int fd, std::string_view bytes, const std::string& path) {
  if (auto s = append(fd, bytes, path); !s) return s;
  if (::fdatasync(fd) != 0) return fail(errc::io, "Failed to sync session '{}': {}", path, std::strerror(errno));
  return {};
}

status append(int fd, std::string_view bytes, const std::string& path) {
  std::size_t off = 0;
  while (off < bytes.size()) {
    auto n = ::write(fd, bytes.data() + off, bytes.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(errc::io, "Failed to append to session '{}': {}", path, std::strerror(errno));
    }
    off += static_cast<std::size_t>(n);
  }
  return {};
}

status write_file_atomically(const std::string& path, std::string_view bytes) {
  auto dir = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  if (ec) return fail(errc::io, "Failed to create directory '{}': {}", dir.string(), ec.message());
  return write_file_atomic(path, bytes, 0600);
}

durable_writer::durable_writer(unsigned threads) : _efd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  for (unsigned i = 0; i < threads; ++i) _threads.emplace_back([this] { work(); });
}

durable_writer::~durable_writer() {
  {
    std::lock_guard l(_mu);
    _stop = true;
  }
  _cv.notify_all();
  for (auto& t : _threads) t.join();
  if (_efd >= 0) ::close(_efd);
}

void durable_writer::submit(job j) {
  {
    std::lock_guard l(_mu);
    _jobs.push_back(std::move(j));
  }
  _cv.notify_one();
}

std::vector<durable_writer::done> durable_writer::take_done() {
  std::uint64_t v;
  while (::read(_efd, &v, sizeof v) == static_cast<ssize_t>(sizeof v)) {
  }
  std::lock_guard l(_mu);
  return std::exchange(_done, {});
}

void durable_writer::work() {
  for (;;) {
    job j;
    {
      std::unique_lock l(_mu);
      _cv.wait(l, [&] { return _stop || !_jobs.empty(); });
      if (_jobs.empty()) return;  // stopping, and everything queued was written
      j = std::move(_jobs.front());
      _jobs.pop_front();
    }
    status s = !j.replace.empty() ? write_file_atomically(j.replace, j.bytes)
               : j.fd < 0         ? status{}
                                  : append_durably(j.fd, j.bytes, j.path);
    if (s && j.dir_fd >= 0 && ::fsync(j.dir_fd) != 0)
      s = fail(errc::io, "Failed to sync the directory of session '{}': {}", j.path, std::strerror(errno));
    if (j.sync_only) {
      // The bytes were written by the loop and the turn answered; only the sync was ours.
      ::close(j.fd);
      if (!s) log::get("agent").error("{}", s.err().message);
      if (j.id == 0) continue;
    }
    {
      std::lock_guard l(_mu);
      _done.push_back({j.id, std::move(s)});
    }
    std::uint64_t one = 1;
    (void)!::write(_efd, &one, sizeof one);
  }
}

}  // namespace weft::agent
