#include <weft/memstore/snapshot.hh>

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include <weft/base/io.hh>
#include <weft/memstore/rvf.hh>
#include <weft/wire/codec.hh>

#include "file.hh"
#include "record.hh"

namespace weft::memstore {
namespace {

using namespace detail;

constexpr std::string_view magic = "WMEM";
constexpr std::string_view end_magic = "WEND";
constexpr std::uint32_t prefix_bytes = 16;  // magic, version, reserved, len, crc
constexpr std::uint32_t trailer_bytes = crypto_hash_sha256_BYTES + 4;
constexpr std::uint32_t max_header_body = 64u << 10;

// Counts as fixed-width msgpack integers, so finish() can rewrite the header in place.
wire::any fixed(std::uint64_t v, int bytes) {
  wire::any a;
  a.encoded.push_back(bytes == 8 ? '\xcf' : '\xce');
  for (int i = bytes - 1; i >= 0; --i) a.encoded.push_back(static_cast<char>(v >> (8 * i)));
  return a;
}

std::string encode_header(const snapshot_meta& m) {
  wire::writer w;
  w.map(6);
  w.key("agent"), w.str(m.agent);
  w.key("created"), w.time(m.created);
  w.key("embedder"), w.str(m.embedder);
  w.key("dims"), w.raw(fixed(m.dims, 4));
  w.key("entries"), w.raw(fixed(m.entries, 8));
  w.key("vectors"), w.raw(fixed(m.vectors, 8));
  std::string out(magic);
  put_u16(out, m.version);
  put_u16(out, 0);
  put_u32(out, static_cast<std::uint32_t>(w.view().size()));
  put_u32(out, rvf::crc32c(w.view()));
  out += w.view();
  return out;
}

std::string hex(const unsigned char* p, std::size_t n) {
  return weft::to_hex(std::string_view(reinterpret_cast<const char*>(p), n));
}

// One pass over a snapshot: checks everything, and when `v` is set delivers the records.
result<snapshot_meta> scan(const std::filesystem::path& path, const snapshot_limits& lim, visitor* v) {
  auto bad = [&](std::string_view code, const std::string& why) {
    return fail(code, "Failed to import snapshot '{}': {}", path.string(), why);
  };
  unique_fd f(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!f) return bad(errc::io, sys_error(errno));
  struct stat st{};
  if (::fstat(f.get(), &st) < 0) return bad(errc::io, sys_error(errno));
  auto size = static_cast<std::uint64_t>(st.st_size);
  if (size > lim.max_bytes)
    return bad(errc::too_large, fmt::format("{} bytes is over the limit of {}", size, lim.max_bytes));
  auto truncated = [&] { return bad(errc::corrupt, fmt::format("file truncated at byte {}", size)); };

  char pre[prefix_bytes];
  if (auto r = pread_exact(f.get(), 0, pre, std::min<std::uint64_t>(size, prefix_bytes)); !r)
    return bad(r.err().code, r.err().message);
  if (size < 4 || std::string_view(pre, 4) != magic)
    return bad(errc::corrupt, "not a memory snapshot (bad magic at byte 0)");
  if (size < prefix_bytes) return truncated();
  snapshot_meta m;
  m.version = get_u16(pre + 4);
  if (m.version > snapshot_version)
    return bad(errc::version, fmt::format("format version {} is newer than this build supports ({})",
                                          m.version, snapshot_version));
  if (m.version == 0) return bad(errc::corrupt, "format version 0 at byte 4");
  auto len = get_u32(pre + 8);
  if (len > max_header_body) return bad(errc::corrupt, fmt::format("header length {} out of range at byte 8", len));
  auto begin = std::uint64_t{prefix_bytes} + len;
  if (begin + trailer_bytes > size) return truncated();
  std::string head(begin, '\0');
  if (auto r = pread_exact(f.get(), 0, head.data(), head.size()); !r) return bad(r.err().code, r.err().message);
  auto body = std::string_view(head).substr(prefix_bytes);
  if (rvf::crc32c(body) != get_u32(pre + 12))
    return bad(errc::corrupt, fmt::format("header checksum mismatch (file altered between byte {} and {})", 0, begin));
  auto doc = wire::parse(body);
  if (!doc || doc->root().type != msgpack::type::MAP) return bad(errc::corrupt, "undecodable header");
  for (auto& kv : std::span(doc->root().via.map.ptr, doc->root().via.map.size)) {
    std::string k;
    status r = wire::read(kv.key, "key", k);
    if (!r) return bad(errc::corrupt, "undecodable header");
    if (k == "agent") r = wire::read(kv.val, "agent", m.agent);
    else if (k == "created") r = wire::read(kv.val, "created", m.created);
    else if (k == "embedder") r = wire::read(kv.val, "embedder", m.embedder);
    else if (k == "dims") r = wire::read(kv.val, "dims", m.dims);
    else if (k == "entries") r = wire::read(kv.val, "entries", m.entries);
    else if (k == "vectors") r = wire::read(kv.val, "vectors", m.vectors);
    if (!r) return bad(errc::corrupt, fmt::format("undecodable header: {}", r.err().message));
  }

  char trailer[trailer_bytes];
  auto records_end = size - trailer_bytes;
  if (auto r = pread_exact(f.get(), records_end, trailer, trailer_bytes); !r) return bad(r.err().code, r.err().message);
  if (std::string_view(trailer + crypto_hash_sha256_BYTES, 4) != end_magic)
    return bad(errc::corrupt, fmt::format("no trailer (file truncated at byte {})", size));

  crypto_hash_sha256_state sha;
  crypto_hash_sha256_init(&sha);
  auto hash = [&](std::string_view s) {
    crypto_hash_sha256_update(&sha, reinterpret_cast<const unsigned char*>(s.data()), s.size());
  };
  hash(head);
  window win(f.get(), records_end);
  std::uint64_t entries = 0, vectors = 0, n = 0;
  for (auto off = begin; off < records_end; ++n) {
    auto payload = check_frame(win, off, records_end, lim.max_record_bytes);
    if (!payload && payload.err().code == errc::io) return bad(errc::io, payload.err().message);
    if (!payload)
      return bad(errc::corrupt, fmt::format("record {} at byte {}: {} (file altered or truncated)", n, off,
                                            payload.err().message));
    auto rec = decode_record(*payload);
    if (!rec) return bad(errc::corrupt, fmt::format("record {} at byte {}: {}", n, off, rec.err().message));
    hash(*win.view(off, rvf::frame_bytes + payload->size()));
    if (rec->type == record_type::entry) {
      ++entries;
      if (v) v->on_entry(rec->e, {0, off});
    } else if (rec->type == record_type::vector) {
      ++vectors;
      if (rec->v.size() != m.dims)
        return bad(errc::corrupt, fmt::format("record {} at byte {}: vector of {} dimensions, the header says {}", n,
                                              off, rec->v.size(), m.dims));
      if (v) v->on_vector(rec->id, rec->v, rec->model, {0, off});
    } else {
      return bad(errc::corrupt, fmt::format("record {} at byte {}: a record type snapshots do not hold", n, off));
    }
    off += rvf::frame_bytes + payload->size();
  }
  if (entries != m.entries || vectors != m.vectors)
    return bad(errc::corrupt, fmt::format("the header counts {} entries and {} vectors, the file holds {} and {}",
                                          m.entries, m.vectors, entries, vectors));
  unsigned char digest[crypto_hash_sha256_BYTES];
  auto whole = sha;
  crypto_hash_sha256_final(&sha, digest);
  if (std::memcmp(digest, trailer, sizeof digest) != 0)
    return bad(errc::corrupt, fmt::format("checksum mismatch (file altered or truncated at byte {})", records_end));
  crypto_hash_sha256_update(&whole, reinterpret_cast<const unsigned char*>(trailer), trailer_bytes);
  crypto_hash_sha256_final(&whole, digest);
  m.bytes = size;
  m.sha256 = hex(digest, sizeof digest);
  return m;
}

}  // namespace

result<std::unique_ptr<snapshot_writer>> snapshot_writer::create(const std::filesystem::path& path,
                                                                 snapshot_meta meta) {
  std::unique_ptr<snapshot_writer> w(new snapshot_writer);
  w->_path = path;
  meta.version = snapshot_version;
  meta.entries = meta.vectors = 0;
  if (meta.created == utc_time{}) meta.created = utc_now();
  w->_meta = std::move(meta);
  auto f = atomic_file::create(path, 0600);
  if (!f) return fail(errc::io, "Failed to export snapshot '{}': {}", path.string(), f.err().message);
  w->_file.emplace(std::move(*f));
  auto head = encode_header(w->_meta);
  if (auto r = pwrite_all(w->fd(), 0, head); !r)
    return fail(errc::io, "Failed to export snapshot '{}': {}", path.string(), r.err().message);
  w->_header_len = static_cast<std::uint32_t>(head.size());
  w->_size = head.size();
  return w;
}

snapshot_writer::~snapshot_writer() = default;  // unfinished: atomic_file leaves nothing

namespace {
status append_record(int fd, std::uint64_t& size, const std::filesystem::path& path, std::string_view payload) {
  if (auto r = pwrite_all(fd, size, frame(payload), payload); !r)
    return fail(errc::io, "Failed to export snapshot '{}': {}", path.string(), r.err().message);
  size += rvf::frame_bytes + payload.size();
  return {};
}
}  // namespace

status snapshot_writer::add(const entry& e) {
  if (e.id.empty()) return fail(errc::invalid, "Failed to export snapshot '{}': entry without id", _path.string());
  if (auto r = append_record(fd(), _size, _path, encode_entry(e)); !r) return r;
  ++_meta.entries;
  return {};
}

status snapshot_writer::add_vector(std::string_view id, std::span<const float> v, std::string_view model) {
  if (_meta.dims == 0) _meta.dims = static_cast<std::uint32_t>(v.size());
  if (id.empty() || v.empty() || v.size() != _meta.dims)
    return fail(errc::invalid, "Failed to export snapshot '{}': vector '{}' of {} dimensions, the snapshot has {}",
                _path.string(), id, v.size(), _meta.dims);
  if (auto r = append_record(fd(), _size, _path, encode_vector(id, v, model)); !r) return r;
  ++_meta.vectors;
  return {};
}

result<snapshot_meta> snapshot_writer::finish() {
  auto failed = [&](const std::string& why) {
    return fail(errc::io, "Failed to export snapshot '{}': {}", _path.string(), why);
  };
  if (_done) return failed("already finished");
  auto head = encode_header(_meta);
  if (head.size() != _header_len) return failed("header changed size");  // fixed-width fields: cannot happen
  if (auto r = pwrite_all(fd(), 0, head); !r) return failed(r.err().message);

  crypto_hash_sha256_state sha;
  crypto_hash_sha256_init(&sha);
  window win(fd(), _size);
  for (std::uint64_t off = 0; off < _size;) {
    auto n = std::min<std::uint64_t>(1u << 20, _size - off);
    auto chunk = win.view(off, n);
    if (!chunk) return failed(chunk.err().message);
    crypto_hash_sha256_update(&sha, reinterpret_cast<const unsigned char*>(chunk->data()), n);
    off += n;
  }
  std::string trailer(crypto_hash_sha256_BYTES, '\0');
  auto whole = sha;
  crypto_hash_sha256_final(&sha, reinterpret_cast<unsigned char*>(trailer.data()));
  trailer += end_magic;
  if (auto r = pwrite_all(fd(), _size, trailer); !r) return failed(r.err().message);
  if (auto c = _file->commit(); !c) return failed(c.err().message);
  _done = true;
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_update(&whole, reinterpret_cast<const unsigned char*>(trailer.data()), trailer.size());
  crypto_hash_sha256_final(&whole, digest);
  auto m = _meta;
  m.bytes = _size + trailer.size();
  m.sha256 = hex(digest, sizeof digest);
  return m;
}

result<snapshot_meta> write_snapshot(const std::filesystem::path& path, snapshot_meta meta,
                                     const std::function<status(snapshot_writer&)>& source) {
  auto w = snapshot_writer::create(path, std::move(meta));
  if (!w) return w.take_error();
  if (auto r = source(**w); !r) return r.take_error();
  return (*w)->finish();
}

result<snapshot_meta> verify_snapshot(const std::filesystem::path& path, snapshot_limits lim) {
  return scan(path, lim, nullptr);
}

result<snapshot_meta> read_snapshot(const std::filesystem::path& path, visitor& v, snapshot_limits lim) {
  auto first = scan(path, lim, nullptr);
  if (!first) return first;
  auto second = scan(path, lim, &v);
  if (second && second->sha256 != first->sha256)
    return fail(errc::corrupt, "Failed to import snapshot '{}': the file changed while it was read", path.string());
  return second;
}

}  // namespace weft::memstore
