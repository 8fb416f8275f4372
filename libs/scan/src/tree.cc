// Walking skill folders without trusting them: lstat only, links read but never followed
// (their targets resolved to say where they lead), FIFOs and devices never opened, files
// opened with O_NOFOLLOW|O_NONBLOCK, every limit of `limits` a finding when reached.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include <weft/scan/scanner.hh>

namespace weft::scan {

namespace fs = std::filesystem;

namespace {

std::uint16_t le16(std::string_view b, std::size_t at) {
  return static_cast<std::uint16_t>(static_cast<unsigned char>(b[at]) | static_cast<unsigned char>(b[at + 1]) << 8);
}
std::uint32_t le32(std::string_view b, std::size_t at) { return le16(b, at) | static_cast<std::uint32_t>(le16(b, at + 2)) << 16; }

bool executable_magic(std::string_view h) {
  auto starts = [&](std::string_view m) { return h.substr(0, m.size()) == m; };
  return starts("\x7f" "ELF") || starts("MZ") || starts("\xcf\xfa\xed\xfe") || starts("\xce\xfa\xed\xfe") ||
         starts("\xfe\xed\xfa\xcf") || starts("\xfe\xed\xfa\xce") || starts("\xca\xfe\xba\xbe");
}

/// Reads up to `max` bytes of the file at `fd` from `offset`.
std::string read_at(int fd, std::uint64_t offset, std::uint64_t max) {
  std::string out(max, '\0');
  std::size_t got = 0;
  while (got < max) {
    auto n = ::pread(fd, out.data() + got, max - got, static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  out.resize(got);
  return out;
}

class walker {
 public:
  walker(const limits& lim, tree_report& rep) : _lim(lim), _rep(rep) {}

  void top(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      _rep.errors.push_back(fmt::format("Failed to scan '{}': {}", path, std::strerror(errno)));
      return;
    }
    char buf[PATH_MAX];
    if (!::realpath(path.c_str(), buf)) {
      _rep.errors.push_back(fmt::format("Failed to scan '{}': {}", path, std::strerror(errno)));
      return;
    }
    if (S_ISDIR(st.st_mode)) {
      _root = buf;
      _shown_root = path;
      dir(path, 0);
    } else {
      _root = fs::path(buf).parent_path().string();
      _shown_root = path;
      entry(path, 0);
    }
  }

 private:
  const limits& _lim;
  tree_report& _rep;
  std::string _root, _shown_root;
  bool _stopped = false;
  std::uint32_t _entries = 0;

  void add(std::string_view id, const std::string& file, std::string msg) {
    auto* r = find_rule(id);
    for (auto& f : _rep.findings)
      if (f.r == r && f.file == file) return void(++f.more);
    _rep.findings.push_back(finding{r, file, 0, std::string(r->title) + (msg.empty() ? "" : ": " + msg), 0});
  }
  /// Once per scan: a limit reached.
  void once(std::string_view id, const std::string& file, std::string msg) {
    auto* r = find_rule(id);
    for (auto& f : _rep.findings)
      if (f.r == r) return void(++f.more);
    add(id, file, std::move(msg));
  }

  bool inside_root(const std::string& real) const {
    return real == _root || (real.size() > _root.size() && real.compare(0, _root.size(), _root) == 0 &&
                             (real[_root.size()] == '/' || _root == "/"));
  }

  void dir(const std::string& path, std::uint32_t depth) {
    if (depth > _lim.max_depth) {
      once("SKL-076", path, fmt::format("deeper than {} levels", _lim.max_depth));
      return;
    }
    std::vector<std::string> names;
    std::error_code ec;
    for (fs::directory_iterator it(path, fs::directory_options::none, ec), end; !ec && it != end; it.increment(ec)) {
      names.push_back(it->path().filename().string());
      if (names.size() > _lim.max_files) break;
    }
    if (ec) {
      _rep.errors.push_back(fmt::format("Failed to read directory '{}': {}", path, ec.message()));
      return;
    }
    std::sort(names.begin(), names.end());
    for (auto& n : names) {
      if (_stopped) return;
      entry(path + "/" + n, depth + 1);
    }
  }

  void entry(const std::string& path, std::uint32_t depth) {
    if (++_entries > _lim.max_files) {
      once("SKL-078", path, fmt::format("more than {} entries", _lim.max_files));
      _stopped = true;
      return;
    }
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
      _rep.errors.push_back(fmt::format("Failed to read '{}': {}", path, std::strerror(errno)));
      return;
    }
    if (S_ISLNK(st.st_mode)) return link(path);
    if (S_ISDIR(st.st_mode)) return dir(path, depth);
    if (S_ISREG(st.st_mode)) return file(path, static_cast<std::uint64_t>(st.st_size));
    // FIFOs, sockets and devices are never opened: a FIFO would block the scan forever.
  }

  void link(const std::string& path) {
    char target[PATH_MAX];
    auto n = ::readlink(path.c_str(), target, sizeof target - 1);
    std::string t = n > 0 ? std::string(target, static_cast<std::size_t>(n)) : std::string();
    char buf[PATH_MAX];
    if (::realpath(path.c_str(), buf)) {
      if (!inside_root(buf)) add("SKL-070", path, fmt::format("-> '{}'", t));
      return;
    }
    if (errno == ELOOP) return add("SKL-071", path, fmt::format("-> '{}' loops", t));
    // Dangling: judged by where it would lead if its target appeared.
    auto lexical = (fs::path(t).is_absolute() ? fs::path(t) : fs::path(path).parent_path() / t).lexically_normal();
    char parent[PATH_MAX];
    if (!fs::path(t).is_absolute() && ::realpath(fs::path(path).parent_path().c_str(), parent))
      lexical = (fs::path(parent) / t).lexically_normal();
    if (!inside_root(lexical.string())) add("SKL-070", path, fmt::format("-> '{}' (dangling)", t));
  }

  void file(const std::string& path, std::uint64_t size) {
    int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
      _rep.errors.push_back(fmt::format("Failed to read '{}': {}", path, std::strerror(errno)));
      return;
    }
    auto head = read_at(fd, 0, std::min<std::uint64_t>(size, 8192));
    bool too_big = size > _lim.max_file_bytes;
    bool over_total = !too_big && _rep.bytes + size > _lim.max_total_bytes;
    if (too_big) add("SKL-072", path, fmt::format("{} bytes, limit {}", size, _lim.max_file_bytes));
    if (over_total) once("SKL-078", path, fmt::format("more than {} bytes in all", _lim.max_total_bytes));
    if (executable_magic(head)) {
      add("SKL-073", path, "");
      ::close(fd);
      return;
    }
    if (auto kind = archive_kind(head); !kind.empty()) {
      add("SKL-074", path, std::string(kind));
      if (kind == "zip") {
        // The central directory is at the end: the last 1 MiB holds it for any archive a
        // skill has reason to carry; a longer one is itself a finding (truncated).
        std::uint64_t tail = std::min<std::uint64_t>(size, 1u << 20);
        auto bytes = read_at(fd, size - tail, tail);
        auto z = inspect_zip(bytes);
        std::vector<std::string> why;
        if (z.uncompressed > _lim.max_archive_uncompressed)
          why.push_back(fmt::format("expands to {} bytes", z.uncompressed));
        if (z.compressed && z.uncompressed / std::max<std::uint64_t>(z.compressed, 1) > _lim.max_archive_ratio)
          why.push_back(fmt::format("ratio {}:1", z.uncompressed / std::max<std::uint64_t>(z.compressed, 1)));
        if (z.encrypted) why.push_back("encrypted entries");
        if (z.nested) why.push_back("archives inside");
        if (z.truncated) why.push_back("damaged or truncated directory");
        if (!why.empty()) {
          std::string m;
          for (auto& w : why) m += (m.empty() ? "" : ", ") + w;
          add("SKL-075", path, m);
        }
      }
      ::close(fd);
      return;
    }
    if (too_big || over_total) {
      ::close(fd);
      return;
    }
    auto text = size <= head.size() ? head : read_at(fd, 0, size);
    ::close(fd);
    ++_rep.files;
    _rep.bytes += text.size();
    // Binary data (images, fonts) is not text: only the checks above apply.
    if (std::string_view(text).substr(0, 8192).find('\0') != std::string_view::npos) return;
    auto rel = path;
    for (auto& f : scan_text(rel, text, _lim)) _rep.findings.push_back(std::move(f));
  }
};

}  // namespace

std::string_view archive_kind(std::string_view h) {
  auto starts = [&](std::string_view m) { return h.substr(0, m.size()) == m; };
  if (starts("PK\x03\x04") || starts("PK\x05\x06") || starts("PK\x07\x08")) return "zip";
  if (starts("\x1f\x8b")) return "gzip";
  if (starts("7z\xbc\xaf\x27\x1c")) return "7z";
  if (starts("Rar!\x1a\x07")) return "rar";
  if (starts("\xfd" "7zXZ")) return "xz";
  if (starts("BZh")) return "bzip2";
  if (starts("\x28\xb5\x2f\xfd")) return "zstd";
  if (h.size() >= 262 && h.substr(257, 5) == "ustar") return "tar";
  return {};
}

archive_info inspect_zip(std::string_view b) {
  archive_info z;
  z.kind = "zip";
  // End of central directory: signature, then 18 bytes and a comment of up to 64 KiB.
  constexpr std::size_t eocd_size = 22;
  if (b.size() < eocd_size) return z.truncated = true, z;
  std::size_t eocd = std::string_view::npos;
  for (std::size_t i = b.size() - eocd_size + 1; i-- > 0 && b.size() - i <= eocd_size + 65535;)
    if (b.compare(i, 4, "PK\x05\x06") == 0) {
      eocd = i;
      break;
    }
  if (eocd == std::string_view::npos) return z.truncated = true, z;
  std::uint64_t entries = le16(b, eocd + 10);
  std::uint64_t dir_size = le32(b, eocd + 12);
  z.entries = entries;
  // The directory ends where the EOCD starts (ZIP64 archives are judged by their EOCD only).
  if (dir_size > eocd) return z.truncated = true, z;
  std::size_t p = eocd - dir_size;
  for (std::uint64_t i = 0; i < entries; ++i) {
    if (p + 46 > eocd || b.compare(p, 4, "PK\x01\x02") != 0) return z.truncated = true, z;
    auto flags = le16(b, p + 8);
    std::uint64_t csize = le32(b, p + 20), usize = le32(b, p + 24);
    std::size_t name_len = le16(b, p + 28), extra_len = le16(b, p + 30), comment_len = le16(b, p + 32);
    if (p + 46 + name_len > eocd) return z.truncated = true, z;
    auto name = b.substr(p + 46, name_len);
    if (flags & 1) z.encrypted = true;
    z.compressed += csize;
    z.uncompressed += usize;
    for (auto ext : {".zip", ".gz", ".tgz", ".7z", ".rar", ".xz", ".bz2", ".tar", ".jar"})
      if (name.size() >= std::strlen(ext) && name.substr(name.size() - std::strlen(ext)) == ext) z.nested = true;
    p += 46 + name_len + extra_len + comment_len;
  }
  return z;
}

tree_report scan_paths(const std::vector<std::string>& paths, const limits& lim) {
  tree_report rep;
  for (auto& p : paths) {
    walker w(lim, rep);
    w.top(p);
  }
  return rep;
}

}  // namespace weft::scan
