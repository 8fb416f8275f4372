#include "durable_writer.hh"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <unistd.h>

#include <weft/base/io.hh>
#include <weft/base/log.hh>

namespace weft::agent {

namespace {

status sync_file(int fd, int dir_fd, const std::string& path) {
  if (::fdatasync(fd) != 0) return fail(errc::io, "Failed to sync session '{}': {}", path, std::strerror(errno));
  if (dir_fd >= 0 && ::fsync(dir_fd) != 0)
    return fail(errc::io, "Failed to sync the directory of session '{}': {}", path, std::strerror(errno));
  return {};
}

}  // namespace

status append(int fd, std::string_view bytes, const std::string& path) {
  if (auto w = write_all(fd, bytes); !w)
    return fail(errc::io, "Failed to append to session '{}': {}", path, w.err().message);
  return {};
}

status write_file_atomically(const std::string& path, std::string_view bytes) {
  auto dir = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  if (ec) return fail(errc::io, "Failed to create directory '{}': {}", dir.string(), ec.message());
  return write_file_atomic(path, bytes, 0600);
}

durable_writer::durable_writer(event_loop& loop, unsigned threads, std::size_t max_queued)
    : _pool(loop, threads, max_queued) {}

void durable_writer::sync(unique_fd file, unique_fd dir, std::string path, std::function<void()> then) {
  struct job {
    unique_fd file, dir;
    std::string path;
  };
  // worker_pool's jobs are copyable functions; the descriptors travel in one shared job.
  auto j = std::make_shared<job>(job{std::move(file), std::move(dir), std::move(path)});
  auto work = [j] { return sync_file(j->file.get(), j->dir.get(), j->path); };
  auto done = [j, then = std::move(then)](status s) {
    j->file.reset();
    if (!s) log::get("agent").error("{}", s.err().message);
    if (then) then();
  };
  if (!_pool.submit(work, done)) done(work());
}

void durable_writer::replace(std::string path, std::string bytes, std::function<void(status)> done) {
  auto j = std::make_shared<std::pair<std::string, std::string>>(std::move(path), std::move(bytes));
  auto work = [j] { return write_file_atomically(j->first, j->second); };
  if (!_pool.submit(work, done)) done(work());
}

}  // namespace weft::agent
