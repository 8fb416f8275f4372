#include "format.hh"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include <fmt/format.h>

#include <weft/base/fd.hh>
#include <weft/base/io.hh>
#include <weft/wire/codec.hh>

namespace weft::witness {

std::string to_hex(const digest& d) { return detail::to_hex(d); }

std::string segment_name(std::uint64_t number) { return fmt::format("witness-{:06}.seg", number); }

}  // namespace weft::witness

namespace weft::witness::detail {

void put_u16(std::string& s, std::uint16_t v) {
  for (int i = 1; i >= 0; --i) s.push_back(static_cast<char>(v >> (8 * i)));
}
void put_u32(std::string& s, std::uint32_t v) {
  for (int i = 3; i >= 0; --i) s.push_back(static_cast<char>(v >> (8 * i)));
}
void put_u64(std::string& s, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) s.push_back(static_cast<char>(v >> (8 * i)));
}
static std::uint16_t get_u16(const char* p) {
  return static_cast<std::uint16_t>((static_cast<std::uint8_t>(p[0]) << 8) | static_cast<std::uint8_t>(p[1]));
}
std::uint32_t get_u32(const char* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<std::uint8_t>(p[i]);
  return v;
}
std::uint64_t get_u64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<std::uint8_t>(p[i]);
  return v;
}

template <std::size_t N>
static void put_bytes(std::string& s, const std::array<std::uint8_t, N>& a) {
  s.append(reinterpret_cast<const char*>(a.data()), N);
}
template <std::size_t N>
static void get_bytes(std::array<std::uint8_t, N>& a, const char* p) {
  std::memcpy(a.data(), p, N);
}

std::string encode_header(const segment_header& h) {
  std::string s(magic);
  put_u16(s, version);
  put_u16(s, 0);
  put_u32(s, h.checkpoint_records);
  put_u64(s, h.segment);
  put_u64(s, h.first_seq);
  put_bytes(s, h.continues_from);
  put_bytes(s, h.key);
  put_u64(s, static_cast<std::uint64_t>(h.created_ns));
  return s;
}

result<segment_header> decode_header(std::string_view b) {
  if (b.size() < header_bytes)
    return fail(errc::malformed, "header is {} bytes, expected {}", b.size(), header_bytes);
  if (b.substr(0, magic.size()) != magic) return fail(errc::malformed, "not a witness segment (bad magic)");
  auto p = b.data();
  if (auto v = get_u16(p + 8); v != version)
    return fail(errc::malformed, "format version {} is not supported (this weft reads {})", v, version);
  segment_header h;
  h.checkpoint_records = get_u32(p + 12);
  h.segment = get_u64(p + 16);
  h.first_seq = get_u64(p + 24);
  get_bytes(h.continues_from, p + 32);
  get_bytes(h.key, p + 64);
  h.created_ns = static_cast<std::int64_t>(get_u64(p + 72));
  return h;
}

std::string encode_record(const record& r) {
  wire::writer w;
  w.array(6);
  w.u64(r.seq);
  w.time(r.time);
  w.str(r.actor);
  w.str(r.kind);
  w.str(r.subject);
  w.str(r.detail);
  return w.str();
}

result<record> decode_record(std::string_view bytes) {
  auto doc = wire::parse(bytes, wire::limits{.max_bytes = max_frame_bytes, .max_depth = 2});
  if (!doc) return fail(errc::malformed, "not msgpack: {}", doc.err().message);
  auto& o = doc->root();
  if (o.type != msgpack::type::ARRAY || o.via.array.size != 6)
    return fail(errc::malformed, "not an array of 6 fields");
  record r;
  auto* f = o.via.array.ptr;
  status s;
  if (!(s = wire::read(f[0], "seq", r.seq)) || !(s = wire::read(f[1], "time", r.time)) ||
      !(s = wire::read(f[2], "actor", r.actor)) || !(s = wire::read(f[3], "kind", r.kind)) ||
      !(s = wire::read(f[4], "subject", r.subject)) || !(s = wire::read(f[5], "detail", r.detail)))
    return fail(errc::malformed, "{}", s.err().message);
  if (encode_record(r) != bytes) return fail(errc::malformed, "encoding is not canonical");
  return r;
}

std::string_view as_view(const digest& d) { return {reinterpret_cast<const char*>(d.data()), d.size()}; }

digest sha256(std::string_view a, std::string_view b) {
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  crypto_hash_sha256_update(&st, reinterpret_cast<const unsigned char*>(a.data()), a.size());
  crypto_hash_sha256_update(&st, reinterpret_cast<const unsigned char*>(b.data()), b.size());
  digest d;
  crypto_hash_sha256_final(&st, d.data());
  return d;
}

digest chain_hash(const digest& prev, std::string_view encoded) { return sha256(as_view(prev), encoded); }

std::string record_frame(const digest& prev, const digest& hash, std::string_view encoded) {
  std::string s;
  s.reserve(4 + 1 + 64 + encoded.size());
  put_u32(s, static_cast<std::uint32_t>(1 + 64 + encoded.size()));
  s.push_back(static_cast<char>(frame_record));
  put_bytes(s, prev);
  put_bytes(s, hash);
  s.append(encoded);
  return s;
}

static void put_mark_fields(std::string& s, const mark& m) {
  put_u64(s, m.count);
  put_u64(s, m.last_seq);
  put_bytes(s, m.last_hash);
  put_u64(s, static_cast<std::uint64_t>(m.time_ns));
}

std::string mark_frame(const mark& m) {
  std::string s;
  put_u32(s, static_cast<std::uint32_t>(1 + mark_body_bytes));
  s.push_back(static_cast<char>(m.seal ? frame_seal : frame_checkpoint));
  put_mark_fields(s, m);
  put_bytes(s, m.sig);
  return s;
}

std::string mark_message(const mark& m, const digest& header_hash) {
  std::string s = "weft-witness-v1";
  s.push_back(static_cast<char>(m.seal ? frame_seal : frame_checkpoint));
  put_bytes(s, header_hash);
  put_mark_fields(s, m);
  return s;
}

frame_scan scan_frames(std::string_view b) {
  frame_scan out;
  std::uint64_t off = header_bytes;
  auto bad = [&](std::string reason, bool torn) {
    out.bad_offset = off;
    out.bad_reason = std::move(reason);
    out.tail_torn = torn;
  };
  while (off < b.size()) {
    auto rest = b.size() - off;
    if (rest < 5) {
      bad(fmt::format("{} bytes that are no whole frame", rest), true);
      break;
    }
    auto len = get_u32(b.data() + off);
    auto type = static_cast<std::uint8_t>(b[off + 4]);
    if (len == 0 || len > max_frame_bytes ||
        (type != frame_record && type != frame_checkpoint && type != frame_seal)) {
      // Zeros to the end are what a crash can leave when the size grew before the data landed.
      bool zeros = std::all_of(b.begin() + static_cast<std::ptrdiff_t>(off), b.end(), [](char c) { return c == 0; });
      bad(len == 0 || len > max_frame_bytes ? fmt::format("frame length {} is invalid", len)
                                            : fmt::format("unknown frame type {}", type),
          zeros);
      break;
    }
    if (4 + std::uint64_t{len} > rest) {
      bad(fmt::format("frame of {} bytes runs past the end of the file", 4 + std::uint64_t{len}), true);
      break;
    }
    out.frames.push_back(frame{off, 4 + std::uint64_t{len}, type, b.substr(off + 5, len - 1)});
    off += 4 + std::uint64_t{len};
  }
  return out;
}

result<record_frame_view> parse_record_frame(std::string_view body) {
  if (body.size() < 64 + 1) return fail(errc::malformed, "record frame of {} bytes is too short", body.size());
  record_frame_view v;
  get_bytes(v.prev, body.data());
  get_bytes(v.hash, body.data() + 32);
  v.encoded = body.substr(64);
  return v;
}

result<mark> parse_mark_frame(std::uint8_t type, std::string_view body) {
  if (body.size() != mark_body_bytes)
    return fail(errc::malformed, "signature frame of {} bytes, expected {}", body.size(), mark_body_bytes);
  mark m;
  m.seal = type == frame_seal;
  auto p = body.data();
  m.count = get_u64(p);
  m.last_seq = get_u64(p + 8);
  get_bytes(m.last_hash, p + 16);
  m.time_ns = static_cast<std::int64_t>(get_u64(p + 48));
  get_bytes(m.sig, p + 56);
  return m;
}

bool holds_signed_mark(std::string_view region, const digest& header_hash, const public_key& pk) {
  constexpr std::size_t frame_size = 5 + mark_body_bytes;
  for (std::size_t o = 0; o + frame_size <= region.size(); ++o) {
    if (get_u32(region.data() + o) != 1 + mark_body_bytes) continue;
    auto type = static_cast<std::uint8_t>(region[o + 4]);
    if (type != frame_checkpoint && type != frame_seal) continue;
    auto m = parse_mark_frame(type, region.substr(o + 5, mark_body_bytes));
    if (!m) continue;
    auto msg = mark_message(*m, header_hash);
    if (crypto_sign_verify_detached(m->sig.data(), reinterpret_cast<const unsigned char*>(msg.data()), msg.size(),
                                    pk.data()) == 0)
      return true;
  }
  return false;
}

key_id id_of(const public_key& pk) {
  auto d = sha256({reinterpret_cast<const char*>(pk.data()), pk.size()});
  key_id id;
  std::copy_n(d.begin(), id.size(), id.begin());
  return id;
}

std::string to_hex(std::span<const std::uint8_t> b) {
  return weft::to_hex(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
}

static constexpr std::string_view pub_prefix = "weft-witness-ed25519 ";

std::string public_key_text(const public_key& pk) { return std::string(pub_prefix) + to_hex(pk) + "\n"; }

result<public_key> read_public_key(const std::filesystem::path& file) {
  auto text = read_file(file, 4096);
  if (!text) return fail(errc::io, "Failed to read public key '{}': {}", file.string(), text.err().message);
  std::string_view t = *text;
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.remove_suffix(1);
  auto bad = [&] {
    return fail(errc::malformed, "Failed to read public key '{}': expected one line '{}<64 hex digits>'",
                file.string(), pub_prefix);
  };
  if (t.substr(0, pub_prefix.size()) != pub_prefix) return bad();
  t.remove_prefix(pub_prefix.size());
  public_key pk{};
  if (t.size() != 64) return bad();
  for (std::size_t i = 0; i < 32; ++i) {
    auto nib = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    int hi = nib(t[2 * i]), lo = nib(t[2 * i + 1]);
    if (hi < 0 || lo < 0) return bad();
    pk[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return pk;
}

result<std::string> read_file(const std::filesystem::path& file, std::uint64_t max_bytes) {
  unique_fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return fail(errno == ENOENT ? errc::not_found : errc::io, "{}", std::strerror(errno));
  return read_to_end(fd.get(), max_bytes);
}

result<std::vector<std::pair<std::uint64_t, std::filesystem::path>>> list_segments(const std::filesystem::path& dir) {
  std::vector<std::pair<std::uint64_t, std::filesystem::path>> out;
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) return fail(ec == std::errc::no_such_file_or_directory ? errc::not_found : errc::io,
                      "Failed to list audit directory '{}': {}", dir.string(), ec.message());
  for (auto& e : it) {
    auto name = e.path().filename().string();
    // witness-<6 or more digits>.seg
    if (name.size() < 18 || name.rfind("witness-", 0) != 0 || name.substr(name.size() - 4) != ".seg") continue;
    auto digits = name.substr(8, name.size() - 12);
    if (digits.size() < 6 || digits.size() > 18 || !std::all_of(digits.begin(), digits.end(), ::isdigit)) continue;
    auto n = std::stoull(digits);
    if (n == 0 || segment_name(n) != name) continue;
    out.emplace_back(n, e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace weft::witness::detail
