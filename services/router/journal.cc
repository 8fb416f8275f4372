#include "journal.hh"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <limits>

#include <weft/base/base64.hh>
#include <weft/base/io.hh>

#include <nlohmann/json.hpp>
#include <sodium.h>

namespace weft::router {

namespace {

constexpr std::string_view kinds[] = {"in", "reply", "done", "seen"};

std::string b64(std::string_view bin) { return base64_encode(bin); }

std::optional<std::string> unb64(std::string_view text) {
  auto r = base64_decode(text);
  if (!r) return std::nullopt;
  return std::move(*r);
}

status write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    auto n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(errc::io, "Failed to write the router journal '{}': {}", path, std::strerror(errno));
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

}  // namespace

std::string journal::encode(const record& r) {
  nlohmann::json j;
  j["t"] = kinds[static_cast<int>(r.k)];
  j["id"] = r.id;
  if (!r.agent.empty()) j["agent"] = r.agent;
  if (!r.session.empty()) j["session"] = r.session;
  if (!r.stream_to.empty()) j["stream_to"] = r.stream_to;
  if (!r.message.empty()) j["msg"] = b64(r.message);
  return j.dump() + "\n";
}

result<record> journal::decode(std::string_view line) {
  auto j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail(errc::malformed, "not a JSON object");
  record r;
  auto t = j.value("t", std::string());
  std::size_t k = 0;
  while (k < std::size(kinds) && kinds[k] != t) ++k;
  if (k == std::size(kinds)) return fail(errc::malformed, "unknown record type '{}'", t);
  r.k = static_cast<record::kind>(k);
  if (!j.contains("id") || !j["id"].is_string()) return fail(errc::malformed, "no id");
  r.id = j["id"].get<std::string>();
  r.agent = j.value("agent", std::string());
  r.session = j.value("session", std::string());
  r.stream_to = j.value("stream_to", std::string());
  if (j.contains("msg")) {
    if (!j["msg"].is_string()) return fail(errc::malformed, "msg is not a string");
    auto m = unb64(j["msg"].get<std::string>());
    if (!m) return fail(errc::malformed, "msg is not base64");
    r.message = std::move(*m);
  }
  if ((r.k == record::kind::inbound || r.k == record::kind::reply) && r.message.empty())
    return fail(errc::malformed, "record without its message");
  return r;
}

journal::journal(std::string path, unique_fd fd, std::uint64_t size)
    : _path(std::move(path)), _fd(std::move(fd)), _size(size), _log(log::get("router")) {}

journal::~journal() = default;

result<std::unique_ptr<journal>> journal::open(const std::string& path, const std::function<void(record)>& replay) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  if (ec) return fail(errc::io, "Failed to create the directory of the router journal '{}': {}", path, ec.message());
  unique_fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!fd) return fail(errc::io, "Failed to open the router journal '{}': {}", path, std::strerror(errno));
  auto read = read_to_end(fd.get(), std::numeric_limits<std::size_t>::max());
  if (!read) return fail(errc::io, "Failed to read the router journal '{}': {}", path, read.err().message);
  const std::string& text = *read;
  auto& lg = log::get("router");
  std::size_t pos = 0, line_no = 0, good_end = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    ++line_no;
    if (nl == std::string::npos) {
      lg.warning("{}:{}: an unfinished record at the end (interrupted write); dropping it", path, line_no);
      break;
    }
    auto r = decode(std::string_view(text).substr(pos, nl - pos));
    if (r) replay(std::move(*r));
    else lg.warning("{}:{}: skipping a corrupt record: {}", path, line_no, r.err().message);
    pos = nl + 1;
    good_end = pos;
  }
  // O_APPEND: every write lands at the end, also after a cut.
  if (good_end < text.size() && ::ftruncate(fd.get(), static_cast<off_t>(good_end)) != 0)
    return fail(errc::io, "Failed to cut the torn end of the router journal '{}': {}", path, std::strerror(errno));
  return std::unique_ptr<journal>(new journal(path, std::move(fd), good_end));
}

void journal::append(const record& r) { _buffer += encode(r); }

status journal::commit() {
  if (_buffer.empty()) return {};
  auto s = write_all(_fd.get(), _buffer, _path);
  if (s && ::fdatasync(_fd.get()) != 0)
    s = fail(errc::io, "Failed to sync the router journal '{}': {}", _path, std::strerror(errno));
  if (!s) {
    // A part of the buffer may be in the file: cut it off, so the next try writes whole
    // lines after the last committed one (a torn line would swallow the next record).
    (void)!::ftruncate(_fd.get(), static_cast<off_t>(_size));
    return s;
  }
  _size += _buffer.size();
  _buffer.clear();
  return {};
}

status journal::rewrite(const std::vector<record>& live) {
  std::string text;
  for (auto& r : live) text += encode(r);
  if (auto s = write_file_atomic(_path, text, 0600); !s)
    return fail(errc::io, "Failed to compact the router journal: {}", s.err().message);
  unique_fd nfd(::open(_path.c_str(), O_RDWR | O_APPEND | O_CLOEXEC));
  if (!nfd) return fail(errc::io, "Failed to reopen the router journal '{}': {}", _path, std::strerror(errno));
  _fd = std::move(nfd);
  _size = text.size();
  _buffer.clear();
  return {};
}

}  // namespace weft::router
