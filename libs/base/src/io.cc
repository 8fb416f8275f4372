#include <weft/base/io.hh>

#include <csignal>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include <weft/base/fd.hh>

namespace weft {

result<std::string> read_to_end(int fd, std::size_t max_bytes) {
  std::string out;
  char buf[64 * 1024];
  for (;;) {
    auto n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(errc::io, "{}", std::strerror(errno));
    if (n == 0) return out;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > max_bytes) return fail(errc::invalid_argument, "larger than {} bytes", max_bytes);
  }
}

status write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    auto n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(errc::io, "{}", std::strerror(errno));
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

status sync_dir(const std::filesystem::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return fail(errc::io, "Failed to open directory '{}': {}", dir.string(), std::strerror(errno));
  int rc = ::fsync(fd);
  int e = errno;
  ::close(fd);
  if (rc != 0) return fail(errc::io, "Failed to sync directory '{}': {}", dir.string(), std::strerror(e));
  return {};
}

namespace {
std::string temp_name(std::string_view name) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  // NAME_MAX is 255: the prefix of a long name is enough to tell what the file was for.
  return fmt::format(".{}.{:016x}.tmp", name.substr(0, 100), rng());
}
}  // namespace

result<atomic_file> atomic_file::create_at(int dir_fd, std::string_view name, unsigned mode) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos)
    return fail(errc::invalid_argument, "'{}' is not a file name", name);
  atomic_file f;
  f._dir = dir_fd;
  f._name = name;
  f._tmp = temp_name(name);
  f._fd = ::openat(dir_fd, f._tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (f._fd < 0) return f.failed("create a temporary file", errno);
  if (::fchmod(f._fd, mode) != 0) return f.failed("set the mode", errno);  // the umask may have taken bits
  return f;
}

result<atomic_file> atomic_file::create(const std::filesystem::path& file, unsigned mode) {
  auto dir = file.parent_path().empty() ? std::filesystem::path(".") : file.parent_path();
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return fail(errc::io, "Failed to create '{}': {}", file.string(), std::strerror(errno));
  auto f = create_at(dfd, file.filename().string(), mode);
  if (!f) {
    ::close(dfd);
    auto e = f.take_error();
    if (e.code == errc::io) e.message = fmt::format("Failed to create '{}': {}", file.string(), e.message);
    return e;
  }
  f->_own_dir = true;
  f->_path = file.string();
  return f;
}

atomic_file::atomic_file(atomic_file&& o) noexcept
    : _dir(std::exchange(o._dir, -1)),
      _own_dir(std::exchange(o._own_dir, false)),
      _fd(std::exchange(o._fd, -1)),
      _tmp(std::move(o._tmp)),
      _name(std::move(o._name)),
      _path(std::move(o._path)) {}

atomic_file::~atomic_file() {
  discard();
  if (_own_dir && _dir >= 0) ::close(_dir);
}

void atomic_file::discard() {
  if (_fd < 0) return;
  ::close(_fd);
  _fd = -1;
  ::unlinkat(_dir, _tmp.c_str(), 0);
}

error atomic_file::failed(std::string_view step, int err) {
  discard();
  if (_path.empty()) return fail(errc::io, "{}: {}", step, std::strerror(err));
  return fail(errc::io, "Failed to {} '{}': {}", step, _path, std::strerror(err));
}

status atomic_file::write(std::string_view bytes) {
  if (_fd < 0) return fail(errc::io, "write: the file is already committed or discarded");
  while (!bytes.empty()) {
    auto n = ::write(_fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return failed("write", n < 0 ? errno : EIO);
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

status atomic_file::commit() { return finish(/*durable=*/true); }
status atomic_file::commit_volatile() { return finish(/*durable=*/false); }

status atomic_file::finish(bool durable) {
  if (_fd < 0) return fail(errc::io, "commit: the file is already committed or discarded");
  if (durable && ::fsync(_fd) != 0) return failed("sync", errno);
  ::close(_fd);
  _fd = -1;
  if (::renameat(_dir, _tmp.c_str(), _dir, _name.c_str()) != 0) {
    int e = errno;
    ::unlinkat(_dir, _tmp.c_str(), 0);
    return failed("rename", e);
  }
  if (durable && ::fsync(_dir) != 0) return failed(_path.empty() ? "sync the directory" : "sync the directory of", errno);
  return {};
}

status write_file_atomic(const std::filesystem::path& file, std::string_view data, unsigned mode) {
  auto f = atomic_file::create(file, mode);
  if (!f) return f.take_error();
  if (auto w = f->write(data); !w) return w;
  return f->commit();
}

status write_file_volatile(const std::filesystem::path& file, std::string_view data, unsigned mode) {
  auto f = atomic_file::create(file, mode);
  if (!f) return f.take_error();
  if (auto w = f->write(data); !w) return w;
  return f->commit_volatile();
}

status write_file_atomic_at(int dir_fd, std::string_view name, std::string_view data, unsigned mode) {
  auto f = atomic_file::create_at(dir_fd, name, mode);
  if (!f) return f.take_error();
  if (auto w = f->write(data); !w) return w;
  return f->commit();
}

std::string to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

void init_child_spawnattr(posix_spawnattr_t& attr) {
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none, defaults;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigemptyset(&defaults);
  for (int s : {SIGTERM, SIGINT, SIGPIPE, SIGHUP, SIGQUIT, SIGCHLD}) sigaddset(&defaults, s);
  posix_spawnattr_setsigdefault(&attr, &defaults);
}

}  // namespace weft
