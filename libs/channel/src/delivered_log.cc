#include <weft/channel/delivered_log.hh>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include <weft/base/io.hh>

namespace weft::chan {

namespace fs = std::filesystem;

std::string escape_field(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '%' || c == '\t' || c == '\n' || c == '\r')
      out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    else
      out += c;
  }
  return out;
}

std::string unescape_field(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      auto hex = std::string(s.substr(i + 1, 2));
      char* end = nullptr;
      long v = std::strtol(hex.c_str(), &end, 16);
      if (end == hex.c_str() + 2) {
        out += static_cast<char>(v);
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

namespace {
std::vector<std::string_view> split_tabs(std::string_view line) {
  std::vector<std::string_view> f;
  std::size_t start = 0;
  for (;;) {
    auto p = line.find('\t', start);
    if (p == std::string_view::npos) {
      f.push_back(line.substr(start));
      return f;
    }
    f.push_back(line.substr(start, p - start));
    start = p + 1;
  }
}
}  // namespace

result<std::unique_ptr<delivered_log>> delivered_log::open(std::string path, std::size_t max_entries) {
  std::unique_ptr<delivered_log> log(new delivered_log(path, max_entries ? max_entries : 1));
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  if (ec) return fail(errc::io, "Failed to create the directory of '{}': {}", path, ec.message());
  {
    std::ifstream in(path, std::ios::binary);
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::size_t start = 0;
    while (start < content.size()) {
      auto nl = content.find('\n', start);
      if (nl == std::string::npos) break;  // torn last line: ignored
      std::string_view line(content.data() + start, nl - start);
      start = nl + 1;
      ++log->_lines;
      auto f = split_tabs(line);
      if (f.size() != 3) continue;
      auto id = unescape_field(f[1]);
      if (f[0] == "D") {
        log->_progress.erase(id);
        log->remember(std::move(id), unescape_field(f[2]));
      } else if (f[0] == "P" && !log->_delivered.count(id)) {
        log->_progress[id] = std::strtoull(std::string(f[2]).c_str(), nullptr, 10);
      }
    }
  }
  log->_fd.reset(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!log->_fd) return fail(errc::io, "Failed to open '{}': {}", path, std::strerror(errno));
  // A torn tail would glue onto the next line: start a fresh line if the file lacks one.
  if (auto sz = fs::file_size(path, ec); !ec && sz > 0) {
    unique_fd rfd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    char last = '\n';
    if (rfd && ::pread(rfd.get(), &last, 1, static_cast<off_t>(sz - 1)) != 1) last = '\n';
    if (last != '\n')
      if (auto w = write_all(log->_fd.get(), "\n"); !w)
        return fail(errc::io, "Failed to write '{}': {}", path, w.err().message);
  }
  if (log->_lines > 2 * log->_max + 16)
    if (auto s = log->compact(); !s) return s.take_error();
  return log;
}

delivered_log::~delivered_log() = default;

void delivered_log::remember(std::string id, std::string upstream) {
  auto [it, fresh] = _delivered.insert_or_assign(id, std::move(upstream));
  if (fresh) _order.push_back(std::move(id));
  while (_order.size() > _max) {
    _delivered.erase(_order.front());
    _order.pop_front();
  }
}

std::optional<std::string> delivered_log::delivered(std::string_view outbox_id) const {
  auto it = _delivered.find(outbox_id);
  if (it == _delivered.end()) return std::nullopt;
  return it->second;
}

std::size_t delivered_log::progress(std::string_view outbox_id) const {
  auto it = _progress.find(outbox_id);
  return it == _progress.end() ? 0 : it->second;
}

status delivered_log::append(std::string line) {
  if (auto w = write_all(_fd.get(), line); !w)
    return fail(errc::io, "Failed to write '{}': {}", _path, w.err().message);
  if (::fdatasync(_fd.get()) != 0) return fail(errc::io, "Failed to sync '{}': {}", _path, std::strerror(errno));
  ++_lines;
  if (_lines > 2 * _max + 16) return compact();
  return {};
}

status delivered_log::mark_progress(std::string_view outbox_id, std::size_t n) {
  _progress[std::string(outbox_id)] = n;
  return append(fmt::format("P\t{}\t{}\n", escape_field(outbox_id), n));
}

status delivered_log::mark_delivered(std::string_view outbox_id, std::string_view upstream_id) {
  if (auto it = _progress.find(outbox_id); it != _progress.end()) _progress.erase(it);
  remember(std::string(outbox_id), std::string(upstream_id));
  return append(fmt::format("D\t{}\t{}\n", escape_field(outbox_id), escape_field(upstream_id)));
}

status delivered_log::compact() {
  std::string all;
  std::size_t lines = 0;
  for (auto& id : _order) {
    all += fmt::format("D\t{}\t{}\n", escape_field(id), escape_field(_delivered[id]));
    ++lines;
  }
  for (auto& [id, n] : _progress) {
    all += fmt::format("P\t{}\t{}\n", escape_field(id), n);
    ++lines;
  }
  if (auto w = write_file_atomic(_path, all, 0600); !w)
    return fail(errc::io, "Failed to compact '{}': {}", _path, w.err().message);
  unique_fd nfd(::open(_path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
  if (!nfd) return fail(errc::io, "Failed to reopen '{}': {}", _path, std::strerror(errno));
  _fd = std::move(nfd);
  _lines = lines;
  return {};
}

}  // namespace weft::chan
