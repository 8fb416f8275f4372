#include <weft/memstore/rvf.hh>

#include <array>
#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <weft/base/io.hh>
#include <weft/wire/codec.hh>

#include "file.hh"
#include "record.hh"

namespace weft::memstore::rvf {
namespace {

using namespace detail;

constexpr std::string_view magic = "RVF1";
constexpr std::string_view seal_magic = "RVFS";
constexpr std::uint32_t footer_marker = 0xFFFFFFFFu;
constexpr std::uint32_t prefix_bytes = 16;       // magic, version, reserved, len, crc
constexpr std::uint32_t max_header_body = 64u << 10;
constexpr std::uint64_t footer_fixed = 4 + 4 + 8 + 8 + 4;  // marker crc count … offset magic

// ---- CRC-32C: SSE4.2 instruction when the CPU has it, a table otherwise.
constexpr auto crc_table = [] {
  std::array<std::uint32_t, 256> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[i] = c;
  }
  return t;
}();

std::uint32_t crc_soft(const unsigned char* p, std::size_t n, std::uint32_t c) {
  while (n--) c = crc_table[(c ^ *p++) & 0xFF] ^ (c >> 8);
  return c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) std::uint32_t crc_hw(const unsigned char* p, std::size_t n,
                                                       std::uint32_t c) {
  std::uint64_t c64 = c;
  for (; n >= 8; n -= 8, p += 8) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    c64 = __builtin_ia32_crc32di(c64, v);
  }
  c = static_cast<std::uint32_t>(c64);
  while (n--) c = __builtin_ia32_crc32qi(c, *p++);
  return c;
}
const bool have_sse42 = __builtin_cpu_supports("sse4.2");
#endif

status fsync_fd(int fd, bool data_only) {
  int r;
  do r = data_only ? ::fdatasync(fd) : ::fsync(fd); while (r < 0 && errno == EINTR);
  if (r < 0) return fail(errc::io, "{}", sys_error(errno));
  return {};
}

bool cut(int fd, std::uint64_t at) { return ::ftruncate(fd, static_cast<off_t>(at)) == 0; }

// A cheap filter before a checksum while looking for the next intact record: every payload
// is a msgpack map (fixmap, map16 or map32), and its length fits in the file. It keeps the
// search linear in practice even across megabytes of random bytes.
bool starts_like_record(window& win, std::uint64_t off) {
  auto v = win.view(off, frame_bytes + 1);
  if (!v) return false;
  auto first = static_cast<unsigned char>((*v)[frame_bytes]);
  return (first >= 0x80 && first <= 0x8f) || first == 0xde || first == 0xdf;
}

std::string encode_header(const header& h) {
  wire::writer w;
  w.map(2);
  w.key("ns"), w.str(h.ns);
  w.key("created"), w.time(h.created);
  std::string out(magic);
  put_u16(out, h.version);
  put_u16(out, 0);
  put_u32(out, static_cast<std::uint32_t>(w.view().size()));
  put_u32(out, crc32c(w.view()));
  out += w.view();
  return out;
}

}  // namespace

std::uint32_t crc32c(std::string_view data, std::uint32_t crc) {
  auto p = reinterpret_cast<const unsigned char*>(data.data());
#if defined(__x86_64__)
  if (have_sse42) return ~crc_hw(p, data.size(), ~crc);
#endif
  return ~crc_soft(p, data.size(), ~crc);
}

segment::segment(segment&& o) noexcept { *this = std::move(o); }
segment& segment::operator=(segment&& o) noexcept {
  if (this != &o) {
    _path = std::move(o._path), _fd = std::move(o._fd), _head = std::move(o._head);
    _sealed = o._sealed, _failed = o._failed, _max_record = o._max_record, _begin = o._begin, _end = o._end;
    _file_bytes = o._file_bytes, _records = o._records, _dropped = o._dropped, _footer = o._footer;
    _offsets = std::move(o._offsets), _corrupt = std::move(o._corrupt);
  }
  return *this;
}
segment::~segment() = default;

error segment::corrupt_at(std::uint64_t offset, std::string_view why) const {
  return fail(errc::corrupt, "Failed to read record of segment '{}' at byte {}: {}", _path.string(),
              offset, why);
}

result<segment> segment::create(const std::filesystem::path& file, const header& h,
                                std::uint32_t max_record_bytes) {
  auto bytes = encode_header(h);
  // The header alone, whole or not at all (temp file, fsync, rename, directory sync).
  if (auto r = weft::write_file_atomic(file, bytes, 0600); !r)
    return fail(errc::io, "Failed to create segment '{}': {}", file.string(), r.err().message);
  segment s;
  s._fd = unique_fd(::open(file.c_str(), O_RDWR | O_CLOEXEC));
  if (!s._fd) return fail(errc::io, "Failed to create segment '{}': {}", file.string(), sys_error(errno));
  s._path = file, s._head = h, s._max_record = max_record_bytes;
  s._begin = s._end = s._file_bytes = bytes.size();
  return s;
}

result<segment> segment::open(const std::filesystem::path& file, const open_options& o) {
  segment s;
  s._path = file, s._max_record = o.max_record_bytes;
  auto bad = [&](std::string_view code, std::string_view why) {
    return fail(code, "Failed to open segment '{}': {}", file.string(), why);
  };
  s._fd = unique_fd(::open(file.c_str(), (o.writable ? O_RDWR : O_RDONLY) | O_CLOEXEC));
  if (!s._fd) return bad(errc::io, sys_error(errno));
  struct stat st{};
  if (::fstat(s._fd.get(), &st) < 0) return bad(errc::io, sys_error(errno));
  s._file_bytes = static_cast<std::uint64_t>(st.st_size);

  // Header: magic and version first, so a newer file is named as such, not as garbage.
  char pre[prefix_bytes];
  if (s._file_bytes < prefix_bytes || !pread_exact(s._fd.get(), 0, pre, prefix_bytes))
    return bad(errc::corrupt, "too short for a segment header");
  if (std::string_view(pre, 4) != magic) return bad(errc::corrupt, "not a segment file (bad magic)");
  s._head.version = get_u16(pre + 4);
  if (s._head.version > format_version)
    return bad(errc::version, fmt::format("format version {} is newer than this build supports ({})",
                                          s._head.version, format_version));
  if (s._head.version == 0) return bad(errc::corrupt, "format version 0");
  if (get_u16(pre + 6) != 0) return bad(errc::corrupt, "unknown header flags");
  auto len = get_u32(pre + 8);
  if (len > max_header_body || prefix_bytes + len > s._file_bytes) return bad(errc::corrupt, "header length out of range");
  std::string body(len, '\0');
  if (auto r = pread_exact(s._fd.get(), prefix_bytes, body.data(), len); !r) return bad(r.err().code, r.err().message);
  if (crc32c(body) != get_u32(pre + 12)) return bad(errc::corrupt, "header checksum mismatch");
  auto doc = wire::parse(body);
  if (!doc || doc->root().type != msgpack::type::MAP) return bad(errc::corrupt, "undecodable header");
  for (auto& kv : std::span(doc->root().via.map.ptr, doc->root().via.map.size)) {
    std::string k;
    if (!wire::read(kv.key, "key", k)) return bad(errc::corrupt, "undecodable header");
    status r;
    if (k == "ns") r = wire::read(kv.val, "ns", s._head.ns);
    else if (k == "created") r = wire::read(kv.val, "created", s._head.created);
    if (!r) return bad(errc::corrupt, fmt::format("undecodable header: {}", r.err().message));
  }
  s._begin = prefix_bytes + len;

  // Sealed: the trailer names the footer, whose checksum covers the index.
  if (s._file_bytes >= s._begin + footer_fixed) {
    char tail[12], head[16];
    if (auto r = pread_exact(s._fd.get(), s._file_bytes - 12, tail, 12); !r) return bad(r.err().code, r.err().message);
    auto foot = get_u64(tail);
    if (std::string_view(tail + 8, 4) == seal_magic && foot >= s._begin && foot <= s._file_bytes - footer_fixed &&
        pread_exact(s._fd.get(), foot, head, 16)) {
      auto count = get_u64(head + 8);
      if (get_u32(head) == footer_marker && (s._file_bytes - foot - footer_fixed) / 8 == count &&
          (s._file_bytes - foot - footer_fixed) % 8 == 0) {
        window win(s._fd.get(), s._file_bytes, 64u << 10);
        std::uint32_t crc = 0;
        for (auto off = foot + 8; off < s._file_bytes;) {
          auto n = std::min<std::uint64_t>(64u << 10, s._file_bytes - off);
          auto v = win.view(off, n);
          if (!v) return bad(v.err().code, v.err().message);
          crc = crc32c(*v, crc);
          off += n;
        }
        if (crc == get_u32(head + 4)) {
          s._sealed = true, s._footer = s._end = foot, s._records = count;
          return s;
        }
      }
    }
  }
  if (auto r = s.scan(o); !r) return r.take_error();
  return s;
}

// Locates every intact record of an unsealed segment. A bad frame followed somewhere by an
// intact record is corruption inside the file: noted, skipped, kept on disk. A bad frame
// with nothing intact after it is a torn tail from a crash mid-write: cut off when writable.
status segment::scan(const open_options& o) {
  window win(_fd.get(), _file_bytes);
  std::uint64_t off = _begin;
  while (off < _file_bytes) {
    auto p = check_frame(win, off, _file_bytes, _max_record);
    if (p) {
      _offsets.push_back(off);
      off += frame_bytes + p->size();
      continue;
    }
    if (p.err().code == errc::io) return p.take_error();
    auto why = p.err().message;
    auto next = off + 1;
    for (; next + frame_bytes < _file_bytes; ++next)
      if (starts_like_record(win, next) && check_frame(win, next, _file_bytes, _max_record)) break;
    if (next + frame_bytes >= _file_bytes) break;
    _corrupt.emplace_back(off, why);
    off = next;
  }
  _records = _offsets.size();
  _end = off;  // after the last intact record (or the header when there is none)
  _dropped = _file_bytes - _end;
  if (_dropped > 0 && o.writable) {
    if (!cut(_fd.get(), _end) || !fsync_fd(_fd.get(), /*data_only=*/false))
      return fail(errc::io, "Failed to cut the torn tail of segment '{}' at byte {}: {}", _path.string(),
                  _end, sys_error(errno));
    _file_bytes = _end;
  }
  return {};
}

status segment::load_footer(std::vector<std::uint64_t>& offsets) const {
  offsets.resize(_records);
  std::string raw(_records * 8, '\0');
  if (auto r = pread_exact(_fd.get(), _footer + 16, raw.data(), raw.size()); !r)
    return fail(errc::io, "Failed to read the footer of segment '{}': {}", _path.string(), r.err().message);
  for (std::uint64_t i = 0; i < _records; ++i) {
    offsets[i] = get_u64(raw.data() + 8 * i);
    if (offsets[i] < _begin || offsets[i] + frame_bytes >= _footer || (i > 0 && offsets[i] <= offsets[i - 1]))
      return fail(errc::corrupt, "Failed to read the footer of segment '{}': offset {} out of order",
                  _path.string(), i);
  }
  return {};
}

result<std::string> segment::read(std::uint64_t offset) const {
  if (offset < _begin || offset >= _end) return corrupt_at(offset, "no record starts there");
  char f[frame_bytes];
  if (auto r = pread_exact(_fd.get(), offset, f, frame_bytes); !r) return corrupt_at(offset, r.err().message);
  auto len = get_u32(f);
  if (len == 0 || len > _max_record || len > _end - offset - frame_bytes)
    return corrupt_at(offset, fmt::format("length field {} out of range", len));
  std::string payload(len, '\0');
  if (auto r = pread_exact(_fd.get(), offset + frame_bytes, payload.data(), len); !r) return corrupt_at(offset, r.err().message);
  if (crc32c(payload, crc32c(std::string_view(f, 4))) != get_u32(f + 4)) return corrupt_at(offset, "checksum mismatch");
  return payload;
}

status segment::for_each(const std::function<status(std::uint64_t, std::string_view)>& fn,
                         const std::function<void(const error&)>& on_corrupt) const {
  std::vector<std::uint64_t> footer;
  if (_sealed)
    if (auto r = load_footer(footer); !r) return r;
  const auto& offsets = _sealed ? footer : _offsets;
  window win(_fd.get(), _end);
  auto bad = _corrupt.begin();
  for (auto off : offsets) {
    for (; bad != _corrupt.end() && bad->first < off; ++bad) on_corrupt(corrupt_at(bad->first, bad->second));
    auto p = check_frame(win, off, _end, _max_record);
    if (!p && p.err().code == errc::io) return p.take_error();
    if (!p) {
      on_corrupt(corrupt_at(off, p.err().message));
      continue;
    }
    if (auto r = fn(off, *p); !r) return r;
  }
  for (; bad != _corrupt.end(); ++bad) on_corrupt(corrupt_at(bad->first, bad->second));
  return {};
}

result<std::uint64_t> segment::append(std::string_view payload) {
  if (_sealed || _failed)
    return fail(errc::invalid, "Failed to append to segment '{}': it is {}", _path.string(),
                _sealed ? "sealed" : "damaged by a failed write (reopen the store)");
  if (payload.empty() || payload.size() > _max_record)
    return fail(errc::too_large, "Failed to append to segment '{}': record of {} bytes (limit {})",
                _path.string(), payload.size(), _max_record);
  auto first = static_cast<unsigned char>(payload[0]);
  if (!((first >= 0x80 && first <= 0x8f) || first == 0xde || first == 0xdf))
    return fail(errc::invalid, "Failed to append to segment '{}': the payload is not a msgpack map", _path.string());
  auto f = frame(payload);
  auto off = _end;
  if (auto r = pwrite_all(_fd.get(), off, f, payload); !r) {
    // No partial record may stay behind a later, intact one; if even this fails, the
    // store refuses writes until reopened, and the reopen scan cuts the tail.
    _failed = !cut(_fd.get(), off);
    return fail(errc::io, "Failed to append to segment '{}': {}", _path.string(), r.err().message);
  }
  _end = _file_bytes = off + frame_bytes + payload.size();
  _offsets.push_back(off);
  ++_records;
  return off;
}

status segment::sync() {
  if (auto r = fsync_fd(_fd.get(), /*data_only=*/true); !r)
    return fail(errc::io, "Failed to sync segment '{}': {}", _path.string(), r.err().message);
  return {};
}

status segment::seal() {
  if (_sealed) return {};
  std::string foot;
  put_u32(foot, footer_marker);
  put_u32(foot, 0);  // crc, below
  put_u64(foot, _offsets.size());
  for (auto off : _offsets) put_u64(foot, off);
  put_u64(foot, _end);
  foot += seal_magic;
  auto crc = crc32c(std::string_view(foot).substr(8));
  for (int i = 0; i < 4; ++i) foot[4 + i] = static_cast<char>(crc >> (8 * i));
  if (auto r = pwrite_all(_fd.get(), _end, foot); !r) {
    // A partial footer left behind is harmless: the next open treats it as a torn tail.
    cut(_fd.get(), _end);
    return fail(errc::io, "Failed to seal segment '{}': {}", _path.string(), r.err().message);
  }
  if (auto r = sync(); !r) return r;
  _sealed = true, _footer = _end, _file_bytes = _end + foot.size();
  _offsets = {};
  return {};
}

}  // namespace weft::memstore::rvf
