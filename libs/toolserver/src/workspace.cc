#include <weft/toolserver/workspace.hh>

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
  unique_fd fd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return fail(errc::io, "Failed to open workspace '{}' of agent '{}': {}", dir, agent, std::strerror(errno));
  char real[PATH_MAX];
  if (!::realpath(dir.c_str(), real))
    return fail(errc::io, "Failed to resolve workspace '{}' of agent '{}': {}", dir, agent, std::strerror(errno));
  std::string given = fs::path(dir).lexically_normal().string();
  while (given.size() > 1 && given.back() == '/') given.pop_back();
  return workspace(std::move(fd), real, given, agent);
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

result<unique_fd> workspace::open_rel(const std::string& rel, std::string_view shown, int flags,
                                      std::string_view verb, int mode) const {
  const char* r = rel.empty() ? "." : rel.c_str();
  unique_fd fd(openat2_beneath(_fd.get(), r, flags | O_CLOEXEC, mode));
  if (fd) return fd;
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
  fd.reset(::open(full.c_str(), flags | O_CLOEXEC, mode));
  if (!fd) return fail(errc::io, "Failed to {} '{}': {}", verb, shown, std::strerror(errno));
  return fd;
}

result<unique_fd> workspace::open_beneath(std::string_view path, int flags, std::string_view verb, int mode) const {
  auto rel = relative(path, verb);
  if (!rel) return rel.take_error();
  return open_rel(*rel, path, flags, verb, mode);
}

result<workspace::parent> workspace::open_parent(std::string_view path, bool create, std::string_view verb) const {
  auto rel = relative(path, verb);
  if (!rel) return rel.take_error();
  if (rel->empty()) return fail(errc::invalid_argument, "Failed to {} '{}': it is the workspace directory", verb, path);
  fs::path p(*rel);
  std::string name = p.filename().string();
  std::string parent_rel = p.parent_path().string();
  // Read access (not O_PATH): the caller syncs this directory after renaming into it.
  constexpr int dir_flags = O_RDONLY | O_DIRECTORY;
  auto dir = open_rel(parent_rel, path, dir_flags, verb, 0);
  if (dir || !create) {
    if (!dir) return dir.take_error();
    return parent{std::move(*dir), name};
  }
  if (!dir.err().is(errc::domain, errc::io)) return dir.take_error();
  // Create the missing directories one at a time, each beneath the one before; a new
  // directory's entry is synced in its parent, so the file renamed into it later lasts.
  auto cur = open_rel("", path, dir_flags, verb, 0);
  if (!cur) return cur.take_error();
  unique_fd fd = std::move(*cur);
  for (auto& part : fs::path(parent_rel)) {
    std::string comp = part.string();
    if (::mkdirat(fd.get(), comp.c_str(), 0755) == 0) {
      if (::fsync(fd.get()) != 0)
        return fail(errc::io, "Failed to {} '{}': syncing after creating directory '{}': {}", verb, path, comp,
                    std::strerror(errno));
    } else if (errno != EEXIST) {
      return fail(errc::io, "Failed to {} '{}': creating directory '{}': {}", verb, path, comp, std::strerror(errno));
    }
    unique_fd next(openat2_beneath(fd.get(), comp.c_str(), dir_flags | O_CLOEXEC, 0));
    if (!next) {
      if (errno == EXDEV) return denied(path, verb);
      return fail(errc::io, "Failed to {} '{}': opening directory '{}': {}", verb, path, comp, std::strerror(errno));
    }
    fd = std::move(next);
  }
  return parent{std::move(fd), name};
}

}  // namespace weft::tools
