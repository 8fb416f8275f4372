// The copy of `weftctl skill install`: a walk by directory fds (openat, fstatat with
// AT_SYMLINK_NOFOLLOW, O_NOFOLLOW), so a source that changes under us — a directory swapped
// for a link mid-walk — cannot make us read or write outside the two folders.
#include "skill_install.hh"

#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>  // renameat2, RENAME_NOREPLACE, RENAME_EXCHANGE
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <vector>

#include <fmt/format.h>

#include <weft/base/fd.hh>
#include <weft/base/io.hh>

namespace weft::ctl {

namespace fs = std::filesystem;


namespace {

/// SKILL.md is read whole; libs/skills reads no more of it either.
constexpr std::size_t max_skill_md_bytes = 50 * 1024;
constexpr std::size_t copy_chunk = 64 * 1024;

std::string errno_text() { return std::strerror(errno); }

}  // namespace

result<std::vector<std::string>> names_in(int dfd, std::uint32_t max) {
  int dup = ::fcntl(dfd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return fail(errc::io, "{}", errno_text());
  DIR* d = ::fdopendir(dup);
  if (!d) {
    ::close(dup);
    return fail(errc::io, "{}", errno_text());
  }
  ::rewinddir(d);
  std::vector<std::string> names;
  errno = 0;
  while (auto* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(std::move(n));
    if (names.size() > max) break;
  }
  int err = errno;
  ::closedir(d);
  if (err) return fail(errc::io, "{}", std::strerror(err));
  std::sort(names.begin(), names.end());
  return names;
}

namespace {

/// Hashes a tree in the order and encoding tree_hash documents; `copy` (when set) receives
/// every entry as it is read, so the bytes hashed are the bytes copied.
class tree_walker {
 public:
  struct sink {
    virtual ~sink() = default;
    virtual status dir(const std::string& rel) = 0;
    virtual status file_begin(const std::string& rel, bool exec) = 0;
    virtual status file_data(std::string_view bytes) = 0;
    virtual status file_end() = 0;
    virtual status dir_end(const std::string& rel) = 0;
    virtual status link(const std::string& rel, const std::string& target) = 0;
  };

  tree_walker(const install_limits& lim, sink* out, bool check_links) : _lim(lim), _out(out), _check_links(check_links) {
    crypto_hash_sha256_init(&_sha);
  }

  status walk(int root_fd) { return dir(root_fd, "", 0); }

  std::string hash() {
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&_sha, h);
    std::string hex = "sha256:";
    for (auto c : h) hex += fmt::format("{:02x}", c);
    return hex;
  }
  std::uint64_t files() const { return _files; }
  std::uint64_t bytes() const { return _bytes; }

 private:
  const install_limits& _lim;
  sink* _out;
  bool _check_links;
  crypto_hash_sha256_state _sha{};
  std::uint32_t _entries = 0;
  std::uint64_t _files = 0, _bytes = 0;

  void feed(std::string_view s) { crypto_hash_sha256_update(&_sha, reinterpret_cast<const unsigned char*>(s.data()), s.size()); }
  void feed_z(std::string_view s) {
    feed(s);
    feed(std::string_view("\0", 1));
  }

  status dir(int dfd, const std::string& rel, std::uint32_t depth) {
    auto names = names_in(dfd, _lim.max_entries);
    if (!names) return fail(errc::io, "Failed to read directory '{}': {}", rel.empty() ? "." : rel, names.err().message);
    for (auto& n : *names) {
      if (++_entries > _lim.max_entries) return fail(errc::invalid_argument, "it has more than {} files and directories", _lim.max_entries);
      auto r = rel.empty() ? n : rel + "/" + n;
      struct stat st {};
      if (::fstatat(dfd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
        return fail(errc::io, "Failed to read '{}': {}", r, errno_text());
      if (S_ISLNK(st.st_mode)) {
        if (auto s = link(dfd, n, r); !s) return s;
      } else if (S_ISDIR(st.st_mode)) {
        if (depth + 1 > _lim.max_depth)
          return fail(errc::invalid_argument, "'{}' is nested deeper than {} directories", r, _lim.max_depth);
        unique_fd sub(::openat(dfd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!sub) return fail(errc::io, "Failed to open directory '{}': {}", r, errno_text());
        feed("d ");
        feed_z(r);
        if (_out)
          if (auto s = _out->dir(r); !s) return s;
        if (auto s = dir(sub.get(), r, depth + 1); !s) return s;
        if (_out)
          if (auto s = _out->dir_end(r); !s) return s;
      } else if (S_ISREG(st.st_mode)) {
        if (auto s = file(dfd, n, r); !s) return s;
      } else {
        return fail(errc::invalid_argument, "'{}' is a FIFO, socket or device, which a skill has no use for", r);
      }
    }
    return {};
  }

  status link(int dfd, const std::string& name, const std::string& rel) {
    char buf[PATH_MAX];
    auto n = ::readlinkat(dfd, name.c_str(), buf, sizeof buf);
    if (n < 0) return fail(errc::io, "Failed to read link '{}': {}", rel, errno_text());
    if (static_cast<std::size_t>(n) >= sizeof buf) return fail(errc::invalid_argument, "link '{}' has an overlong target", rel);
    std::string target(buf, static_cast<std::size_t>(n));
    if (_check_links) {
      if (target.empty() || target.front() == '/')
        return fail(errc::invalid_argument, "'{}' is a symlink to '{}', outside the skill folder (links are never followed)",
                    rel, target);
      // Where it leads, lexically; links inside the copy are checked again by the kernel's
      // resolution (the scan's SKL-070) once everything is in place.
      auto where = (fs::path(rel).parent_path() / target).lexically_normal();
      if (where.empty() || *where.begin() == "..")
        return fail(errc::invalid_argument, "'{}' is a symlink to '{}', outside the skill folder (links are never followed)",
                    rel, target);
    }
    feed("l ");
    feed_z(rel);
    feed_z(target);
    if (_out) return _out->link(rel, target);
    return {};
  }

  status file(int dfd, const std::string& name, const std::string& rel) {
    unique_fd f(::openat(dfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!f) return fail(errc::io, "Failed to read '{}': {}", rel, errno_text());
    struct stat st {};
    if (::fstat(f.get(), &st) != 0 || !S_ISREG(st.st_mode))
      return fail(errc::invalid_argument, "'{}' changed while it was read", rel);
    auto size = static_cast<std::uint64_t>(st.st_size);
    if (_bytes + size > _lim.max_bytes)
      return fail(errc::invalid_argument, "its files hold more than {} bytes", _lim.max_bytes);
    bool exec = st.st_mode & S_IXUSR;
    feed("f ");
    feed_z(rel);
    feed_z(exec ? "x" : "-");
    feed_z(std::to_string(size));
    if (_out)
      if (auto s = _out->file_begin(rel, exec); !s) return s;
    std::string buf(copy_chunk, '\0');
    std::uint64_t got = 0;
    while (got < size) {
      auto n = ::read(f.get(), buf.data(), std::min<std::uint64_t>(buf.size(), size - got));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return fail(errc::io, "Failed to read '{}': {}", rel, errno_text());
      if (n == 0) break;
      std::string_view chunk(buf.data(), static_cast<std::size_t>(n));
      feed(chunk);
      if (_out)
        if (auto s = _out->file_data(chunk); !s) return s;
      got += static_cast<std::uint64_t>(n);
    }
    // A file that shrank or grew while read would hash one size and copy another.
    if (got != size) return fail(errc::invalid_argument, "'{}' changed while it was read", rel);
    ++_files;
    _bytes += size;
    if (_out) return _out->file_end();
    return {};
  }
};

/// Writes the entries the walker reads into a destination tree, by directory fds.
class copier : public tree_walker::sink {
 public:
  explicit copier(int root_fd) { _dirs.push_back(root_fd); }

  status dir(const std::string& rel) override {
    auto name = fs::path(rel).filename().string();
    if (::mkdirat(top(), name.c_str(), 0755) != 0) return fail(errc::io, "Failed to create '{}': {}", rel, errno_text());
    unique_fd d(::openat(top(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!d) return fail(errc::io, "Failed to open '{}': {}", rel, errno_text());
    _owned.push_back(std::move(d));
    _dirs.push_back(_owned.back().get());
    return {};
  }
  status dir_end(const std::string& rel) override {
    if (::fsync(top()) != 0) return fail(errc::io, "Failed to sync '{}': {}", rel, errno_text());
    _dirs.pop_back();
    _owned.pop_back();
    return {};
  }
  status file_begin(const std::string& rel, bool exec) override {
    _rel = rel;
    auto name = fs::path(rel).filename().string();
    _file.reset(::openat(top(), name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, exec ? 0755 : 0644));
    if (!_file) return fail(errc::io, "Failed to create '{}': {}", rel, errno_text());
    // The umask may have taken bits; the mode is the install's, not the caller's.
    (void)::fchmod(_file.get(), exec ? 0755 : 0644);
    return {};
  }
  status file_data(std::string_view bytes) override {
    if (auto s = write_all(_file.get(), bytes); !s) return fail(errc::io, "Failed to write '{}': {}", _rel, s.err().message);
    return {};
  }
  status file_end() override {
    if (::fsync(_file.get()) != 0) return fail(errc::io, "Failed to sync '{}': {}", _rel, errno_text());
    _file.reset();
    return {};
  }
  status link(const std::string& rel, const std::string& target) override {
    auto name = fs::path(rel).filename().string();
    if (::symlinkat(target.c_str(), top(), name.c_str()) != 0)
      return fail(errc::io, "Failed to create link '{}': {}", rel, errno_text());
    return {};
  }

 private:
  std::vector<int> _dirs;
  std::vector<unique_fd> _owned;
  unique_fd _file;
  std::string _rel;
  int top() const { return _dirs.back(); }
};

result<unique_fd> open_dir(const std::string& path) {
  unique_fd d(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!d) return fail(errc::io, "Failed to open directory '{}': {}", path, errno_text());
  return d;
}

status sync_dir(const std::string& path) {
  auto d = open_dir(path);
  if (!d) return d.take_error();
  if (::fsync(d->get()) != 0) return fail(errc::io, "Failed to sync '{}': {}", path, errno_text());
  return {};
}

}  // namespace

bool installable_name(const std::string& name) {
  if (name.empty() || name.size() > 64 || name == "." || name == ".." || name.front() == '.' || name.front() == '-')
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

result<skills::skill> read_skill_folder(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return fail(errc::not_found, "'{}' is not a directory", dir);
  auto md = (fs::path(dir) / "SKILL.md").string();
  unique_fd f(::open(md.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!f) {
    if (errno == ELOOP) return fail(errc::malformed, "its SKILL.md is a symlink; a skill's SKILL.md must be a file");
    if (errno == ENOENT) return fail(errc::not_found, "'{}' has no SKILL.md, so it is not a skill folder", dir);
    return fail(errc::io, "Failed to read '{}': {}", md, errno_text());
  }
  struct stat st {};
  if (::fstat(f.get(), &st) != 0 || !S_ISREG(st.st_mode)) return fail(errc::malformed, "its SKILL.md is not a regular file");
  auto text = read_to_end(f.get(), max_skill_md_bytes);
  if (!text) return fail(errc::malformed, "its SKILL.md: {}", text.err().message);
  auto fm = skills::parse_frontmatter(*text);
  if (!fm) return fail(errc::malformed, "its SKILL.md: {}", fm.err().message);
  auto s = skills::make_skill(*fm, md, "source");
  if (!s) return fail(errc::malformed, "its SKILL.md: {}", s.err().message);
  return s;
}

result<staged_skill> stage_skill(const std::string& source, const std::string& skills_dir, const std::string& name,
                                 const install_limits& lim) {
  if (!installable_name(name)) return fail(errc::invalid_argument, "'{}' cannot be a skill folder's name", name);
  std::error_code ec;
  fs::create_directories(skills_dir, ec);
  if (ec) return fail(errc::io, "Failed to create '{}': {}", skills_dir, ec.message());
  auto src = open_dir(source);
  if (!src) return src.take_error();
  // A destination inside the source would be copied into itself.
  auto real_src = fs::weakly_canonical(source, ec), real_dir = fs::weakly_canonical(skills_dir, ec);
  auto rel = real_dir.lexically_relative(real_src);
  if (!ec && (rel.empty() || *rel.begin() != ".."))
    return fail(errc::invalid_argument, "the skills directory '{}' is inside the folder being installed", skills_dir);

  staged_skill s;
  s.target = (fs::path(skills_dir) / name).string();
  auto tmpl = (fs::path(skills_dir) / ("." + name + ".install-XXXXXX")).string();
  if (!::mkdtemp(tmpl.data())) return fail(errc::io, "Failed to create a folder in '{}': {}", skills_dir, errno_text());
  s.path = tmpl;
  auto undo = [&](error e) -> result<staged_skill> {
    discard_staged(s);
    return e;
  };
  ::chmod(s.path.c_str(), 0755);
  auto dst = open_dir(s.path);
  if (!dst) return undo(dst.take_error());
  copier out(dst->get());
  tree_walker w(lim, &out, /*check_links=*/true);
  if (auto st = w.walk(src->get()); !st) return undo(st.take_error());
  if (::fsync(dst->get()) != 0) return undo(fail(errc::io, "Failed to sync '{}': {}", s.path, errno_text()));
  s.hash = w.hash();
  s.files = w.files();
  s.bytes = w.bytes();
  // The hash is of what was written: read back, so a failing disk or a racing writer in the
  // skills directory shows as a mismatch rather than a wrong record.
  auto again = tree_hash(s.path);
  if (!again) return undo(again.take_error());
  if (*again != s.hash) return undo(fail(errc::io, "the copy in '{}' differs from what was read", s.path));
  return s;
}

result<bool> commit_staged(const staged_skill& s, bool replace) {
  auto dir = fs::path(s.target).parent_path().string();
  auto exists = [&] {
    struct stat st {};
    return ::lstat(s.target.c_str(), &st) == 0;
  };
  bool replaced = false;
  if (::renameat2(AT_FDCWD, s.path.c_str(), AT_FDCWD, s.target.c_str(), RENAME_NOREPLACE) != 0) {
    int err = errno;
    if (err == EINVAL) {
      // A filesystem without RENAME_NOREPLACE (some network ones): checked, then renamed.
      if (exists() && !replace) return fail(errc::invalid_argument, "'{}' is already installed", s.target);
      if (exists()) {
        auto aside = s.path + ".old";
        if (::rename(s.target.c_str(), aside.c_str()) != 0)
          return fail(errc::io, "Failed to move '{}' aside: {}", s.target, errno_text());
        if (::rename(s.path.c_str(), s.target.c_str()) != 0) {
          auto e = errno_text();
          (void)::rename(aside.c_str(), s.target.c_str());
          return fail(errc::io, "Failed to rename '{}' to '{}': {}", s.path, s.target, e);
        }
        fs::remove_all(aside);
        replaced = true;
      } else if (::rename(s.path.c_str(), s.target.c_str()) != 0) {
        return fail(errc::io, "Failed to rename '{}' to '{}': {}", s.path, s.target, errno_text());
      }
    } else if (err != EEXIST && err != ENOTEMPTY) {
      return fail(errc::io, "Failed to rename '{}' to '{}': {}", s.path, s.target, std::strerror(err));
    } else if (!replace) {
      return fail(errc::invalid_argument, "'{}' is already installed", s.target);
    } else {
      // Swapped in one step: the staged name now holds the old skill, deleted below.
      if (::renameat2(AT_FDCWD, s.path.c_str(), AT_FDCWD, s.target.c_str(), RENAME_EXCHANGE) != 0)
        return fail(errc::io, "Failed to replace '{}': {}", s.target, errno_text());
      std::error_code ec;
      fs::remove_all(s.path, ec);
      replaced = true;
    }
  }
  if (auto st = sync_dir(dir); !st) return st.take_error();
  return replaced;
}

void discard_staged(const staged_skill& s) {
  if (s.path.empty()) return;
  std::error_code ec;
  fs::remove_all(s.path, ec);
}

status remove_skill_folder(const std::string& folder) {
  auto dir = fs::path(folder).parent_path();
  auto tmpl = (dir / ("." + fs::path(folder).filename().string() + ".remove-XXXXXX")).string();
  if (!::mkdtemp(tmpl.data())) return fail(errc::io, "Failed to create a folder in '{}': {}", dir.string(), errno_text());
  // rename(2) may replace an empty directory: the skill is gone from its name in one step.
  if (::rename(folder.c_str(), tmpl.c_str()) != 0) {
    auto e = errno_text();
    ::rmdir(tmpl.c_str());
    return fail(errc::io, "Failed to remove '{}': {}", folder, e);
  }
  std::error_code ec;
  fs::remove_all(tmpl, ec);  // never follows links: deletes them, not their targets
  if (ec) return fail(errc::io, "Failed to delete '{}': {}", tmpl, ec.message());
  return sync_dir(dir.string());
}

result<std::string> tree_hash(const std::string& dir) {
  auto d = open_dir(dir);
  if (!d) return d.take_error();
  install_limits unlimited{UINT32_MAX, UINT32_MAX, UINT64_MAX};
  tree_walker w(unlimited, nullptr, /*check_links=*/false);
  if (auto s = w.walk(d->get()); !s) return s.take_error();
  return w.hash();
}

}  // namespace weft::ctl
