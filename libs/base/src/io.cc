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

status write_file_atomic(const std::filesystem::path& file, std::string_view data, unsigned mode) {
  auto tmp = file;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return fail(errc::io, "Failed to create '{}': {}", tmp.string(), std::strerror(errno));
  auto failed = [&](std::string_view what, int e) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return fail(errc::io, "Failed to {} '{}': {}", what, tmp.string(), std::strerror(e));
  };
  if (::fchmod(fd, mode) != 0) return failed("set the mode of", errno);  // the umask may have taken bits
  for (std::size_t done = 0; done < data.size();) {
    auto n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return failed("write", n < 0 ? errno : EIO);
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) return failed("sync", errno);
  ::close(fd);
  if (::rename(tmp.c_str(), file.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return fail(errc::io, "Failed to rename '{}' to '{}': {}", tmp.string(), file.string(), std::strerror(e));
  }
  return sync_dir(file.parent_path().empty() ? std::filesystem::path(".") : file.parent_path());
}

status write_file_atomic_at(int dir_fd, std::string_view name, std::string_view data, unsigned mode) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos)
    return fail(errc::invalid_argument, "'{}' is not a file name", name);
  thread_local std::mt19937_64 rng{std::random_device{}()};
  // NAME_MAX is 255: the prefix of a long name is enough to tell what the file was for.
  std::string tmp = fmt::format(".{}.{:016x}.tmp", name.substr(0, 100), rng());
  std::string target(name);
  unique_fd fd(::openat(dir_fd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!fd) return fail(errc::io, "create a temporary file: {}", std::strerror(errno));
  auto failed = [&](std::string_view step, int e) {
    fd.reset();
    ::unlinkat(dir_fd, tmp.c_str(), 0);
    return fail(errc::io, "{}: {}", step, std::strerror(e));
  };
  if (::fchmod(fd.get(), mode) != 0) return failed("set the mode", errno);  // the umask may have taken bits
  for (std::size_t done = 0; done < data.size();) {
    auto n = ::write(fd.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return failed("write", n < 0 ? errno : EIO);
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd.get()) != 0) return failed("sync", errno);
  fd.reset();
  if (::renameat(dir_fd, tmp.c_str(), dir_fd, target.c_str()) != 0) return failed("rename", errno);
  if (::fsync(dir_fd) != 0) return fail(errc::io, "sync the directory: {}", std::strerror(errno));
  return {};
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
