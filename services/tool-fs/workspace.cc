#include "workspace.hh"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>

#include "proto/tool_v1.hh"

namespace weft::tools {

namespace tool = weft::proto::tool_v1;
namespace fs = std::filesystem;

namespace {

/// openat2 with RESOLVE_BENEATH; kernels before 5.6 fall back to a realpath() check.
int openat2_beneath(int dir_fd, const char* rel, int flags, int mode) {
  open_how how{};
  how.flags = static_cast<std::uint64_t>(flags);
  how.mode = static_cast<std::uint64_t>((flags & (O_CREAT | O_TMPFILE)) ? mode : 0);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  return static_cast<int>(::syscall(SYS_openat2, dir_fd, rel, &how, sizeof how));
}

bool inside(const std::string& root, const std::string& p) {
  return p == root || (p.size() > root.size() && p.compare(0, root.size(), root) == 0 && p[root.size()] == '/');
}

}  // namespace

result<workspace> workspace::open(const std::string& dir, const std::string& agent) {
  if (dir.empty()) return fail(errc::invalid_argument, "Failed to open the workspace of agent '{}': no directory given", agent);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return fail(errc::io, "Failed to create workspace '{}' of agent '{}': {}", dir, agent, ec.message());
  int fd = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return fail(errc::io, "Failed to open workspace '{}' of agent '{}': {}", dir, agent, std::strerror(errno));
  char real[PATH_MAX];
  if (!::realpath(dir.c_str(), real)) {
    int e = errno;
    ::close(fd);
    return fail(errc::io, "Failed to resolve workspace '{}' of agent '{}': {}", dir, agent, std::strerror(e));
  }
  std::string given = fs::path(dir).lexically_normal().string();
  while (given.size() > 1 && given.back() == '/') given.pop_back();
  return workspace(fd, real, given, agent);
}

workspace::workspace(workspace&& o) noexcept
    : _fd(o._fd), _root(std::move(o._root)), _given(std::move(o._given)), _agent(std::move(o._agent)) {
  o._fd = -1;
}

workspace::~workspace() {
  if (_fd >= 0) ::close(_fd);
}

error workspace::denied(std::string_view path, std::string_view verb) const {
  return tool::make(tool::error_code::denied, "Failed to {} '{}': outside the workspace of agent '{}'", verb, path,
                    _agent);
}

result<std::string> workspace::relative(std::string_view path, std::string_view verb) const {
  if (path.find('\0') != std::string_view::npos)
    return tool::make(tool::error_code::bad_arguments, "Failed to {} a path with a NUL byte", verb);
  fs::path p{std::string(path)};
  std::string rel;
  if (p.is_absolute()) {
    std::string norm = p.lexically_normal().string();
    while (norm.size() > 1 && norm.back() == '/') norm.pop_back();
    const std::string* base = inside(_root, norm) ? &_root : inside(_given, norm) ? &_given : nullptr;
    if (!base) return denied(path, verb);
    rel = norm.size() == base->size() ? std::string() : norm.substr(base->size() + 1);
  } else {
    rel = p.lexically_normal().string();
  }
  while (!rel.empty() && rel.back() == '/') rel.pop_back();
  if (rel == ".") rel.clear();
  // Lexically above the workspace: refused before the kernel is asked.
  if (rel == ".." || rel.rfind("../", 0) == 0) return denied(path, verb);
  return rel;
}

result<int> workspace::open_rel(const std::string& rel, std::string_view shown, int flags, std::string_view verb,
                                int mode) const {
  const char* r = rel.empty() ? "." : rel.c_str();
  int fd = openat2_beneath(_fd, r, flags | O_CLOEXEC, mode);
  if (fd >= 0) return fd;
  if (errno == EXDEV) return denied(shown, verb);
  if (errno != ENOSYS) return fail(errc::io, "Failed to {} '{}': {}", verb, shown, std::strerror(errno));
  // No openat2 (kernel before 5.6): resolve and compare.
  std::string full = rel.empty() ? _root : _root + "/" + rel;
  char real[PATH_MAX];
  fs::path probe = full;
  // For a path that does not exist yet, check its nearest existing ancestor.
  while (!::realpath(probe.c_str(), real)) {
    if (errno != ENOENT || !probe.has_parent_path() || probe == probe.parent_path())
      return fail(errc::io, "Failed to {} '{}': {}", verb, shown, std::strerror(errno));
    probe = probe.parent_path();
  }
  if (!inside(_root, real)) return denied(shown, verb);
  fd = ::open(full.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) return fail(errc::io, "Failed to {} '{}': {}", verb, shown, std::strerror(errno));
  return fd;
}

result<int> workspace::open_beneath(std::string_view path, int flags, std::string_view verb, int mode) const {
  auto rel = relative(path, verb);
  if (!rel) return rel.take_error();
  return open_rel(*rel, path, flags, verb, mode);
}

result<std::pair<int, std::string>> workspace::open_parent(std::string_view path, bool create,
                                                           std::string_view verb) const {
  auto rel = relative(path, verb);
  if (!rel) return rel.take_error();
  if (rel->empty()) return fail(errc::invalid_argument, "Failed to {} '{}': it is the workspace directory", verb, path);
  fs::path p(*rel);
  std::string name = p.filename().string();
  std::string parent = p.parent_path().string();
  auto dir = open_rel(parent, path, O_PATH | O_DIRECTORY, verb, 0);
  if (dir || !create) {
    if (!dir) return dir.take_error();
    return std::pair<int, std::string>{*dir, name};
  }
  if (!dir.err().is(errc::domain, errc::io)) return dir.take_error();
  // Create the missing directories one at a time, each beneath the one before.
  auto cur = open_rel("", path, O_PATH | O_DIRECTORY, verb, 0);
  if (!cur) return cur.take_error();
  int fd = *cur;
  for (auto& part : fs::path(parent)) {
    std::string comp = part.string();
    if (::mkdirat(fd, comp.c_str(), 0755) != 0 && errno != EEXIST) {
      int e = errno;
      ::close(fd);
      return fail(errc::io, "Failed to {} '{}': creating directory '{}': {}", verb, path, comp, std::strerror(e));
    }
    int next = openat2_beneath(fd, comp.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
    int e = errno;
    ::close(fd);
    if (next < 0) {
      if (e == EXDEV) return denied(path, verb);
      return fail(errc::io, "Failed to {} '{}': opening directory '{}': {}", verb, path, comp, std::strerror(e));
    }
    fd = next;
  }
  return std::pair<int, std::string>{fd, name};
}

status write_atomic(int dir_fd, const std::string& name, std::string_view content, int mode, std::string_view shown) {
  if (name.empty() || name == "." || name == "..")
    return fail(errc::invalid_argument, "Failed to write '{}': not a file name", shown);
  // An existing file keeps its permissions.
  struct stat st;
  if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISDIR(st.st_mode)) return fail(errc::invalid_argument, "Failed to write '{}': it is a directory", shown);
    if (S_ISREG(st.st_mode)) mode = static_cast<int>(st.st_mode & 07777);
  }
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string tmp = fmt::format(".{}.weft-{:016x}.tmp", name.substr(0, 100), rng());
  int fd = ::openat(dir_fd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return fail(errc::io, "Failed to write '{}': {}", shown, std::strerror(errno));
  auto give_up = [&](int e) -> status {
    ::close(fd);
    ::unlinkat(dir_fd, tmp.c_str(), 0);
    return fail(errc::io, "Failed to write '{}': {}", shown, std::strerror(e));
  };
  std::size_t off = 0;
  while (off < content.size()) {
    auto n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return give_up(errno);
    }
    off += static_cast<std::size_t>(n);
  }
  if (::fchmod(fd, static_cast<mode_t>(mode)) != 0 || ::fsync(fd) != 0) return give_up(errno);
  if (::close(fd) != 0) {
    int e = errno;
    ::unlinkat(dir_fd, tmp.c_str(), 0);
    return fail(errc::io, "Failed to write '{}': {}", shown, std::strerror(e));
  }
  if (::renameat(dir_fd, tmp.c_str(), dir_fd, name.c_str()) != 0) {
    int e = errno;
    ::unlinkat(dir_fd, tmp.c_str(), 0);
    return fail(errc::io, "Failed to write '{}': {}", shown, std::strerror(e));
  }
  return {};
}

}  // namespace weft::tools
