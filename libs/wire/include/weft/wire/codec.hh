#pragma once
/// msgpack encoding and bounded decoding for generated proto types and the envelope.
/// Decoding untrusted bytes never throws and never allocates more than a small multiple
/// of the input: every container count is capped by the input size before allocation.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <msgpack.hpp>

#include <weft/base/result.hh>
#include <weft/base/time.hh>

namespace weft::wire {

/// A msgpack value decoded from a buffer owned elsewhere (by an object_handle).
using object = msgpack::object;

/// Binary data: a msgpack `bin` on the wire.
using bytes = std::vector<std::uint8_t>;

/// An opaque msgpack value kept in its encoded form (e.g. a structured-data part).
/// Carried through unchanged; decoded only by whoever understands it.
struct any {
  std::string encoded;  ///< one complete msgpack value; empty means nil
  bool operator==(const any&) const = default;
};

/// Limits on what a decoder accepts. Defaults fit the bus's 1 MiB message limit.
struct limits {
  std::size_t max_bytes = 64u << 20;  ///< whole input
  std::uint32_t max_depth = 32;       ///< nesting of maps and arrays
};

/// Error codes raised by the codec (domain "io.weft.Wire").
namespace codec_errc {
inline constexpr std::string_view domain = "io.weft.Wire";
inline constexpr std::string_view malformed = "Malformed";      ///< not valid msgpack / trailing bytes
inline constexpr std::string_view too_large = "TooLarge";       ///< over limits::max_bytes or depth
inline constexpr std::string_view wrong_type = "WrongType";     ///< a field has another msgpack type
inline constexpr std::string_view missing = "MissingField";     ///< a required field is absent
inline constexpr std::string_view bad_value = "BadValue";       ///< out of range, unknown enum value
}  // namespace codec_errc

/// Accumulates one msgpack document.
class writer {
 public:
  writer() : _pk(_buf) {}
  void map(std::uint32_t n) { _pk.pack_map(n); }
  void array(std::uint32_t n) { _pk.pack_array(n); }
  void key(std::string_view k) { str(k); }
  void str(std::string_view s) { _pk.pack_str(static_cast<std::uint32_t>(s.size())); _pk.pack_str_body(s.data(), static_cast<std::uint32_t>(s.size())); }
  void bin(std::span<const std::uint8_t> b) { _pk.pack_bin(static_cast<std::uint32_t>(b.size())); _pk.pack_bin_body(reinterpret_cast<const char*>(b.data()), static_cast<std::uint32_t>(b.size())); }
  void u64(std::uint64_t v) { _pk.pack_uint64(v); }
  void i64(std::int64_t v) { _pk.pack_int64(v); }
  /// Always the 9-byte float 64 form: msgpack-c's pack_double turns integral values into
  /// integers, which would make f64 fields encode differently from their schema.
  void f64(double v) {
    std::uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    char b[9] = {static_cast<char>(0xcb)};
    for (int i = 0; i < 8; ++i) b[1 + i] = static_cast<char>(bits >> (56 - 8 * i));
    _buf.write(b, sizeof b);
  }
  void boolean(bool v) { v ? _pk.pack_true() : _pk.pack_false(); }
  void nil() { _pk.pack_nil(); }
  void time(utc_time t);  ///< msgpack timestamp extension (type -1)
  void raw(const any& a) { a.encoded.empty() ? nil() : _buf.write(a.encoded.data(), a.encoded.size()); }

  std::string_view view() const { return {_buf.data(), _buf.size()}; }
  std::string str() const { return std::string(view()); }
  void clear() { _buf.clear(); }

 private:
  msgpack::sbuffer _buf;
  msgpack::packer<msgpack::sbuffer> _pk;
};

/// A parsed document: keeps the zone that owns the objects alive.
struct document {
  msgpack::object_handle handle;
  const object& root() const { return handle.get(); }
};

/// Parses exactly one msgpack value spanning all of `data`, within `lim`.
result<document> parse(std::string_view data, const limits& lim = {});

/// Errors with the path of the offending field, e.g. "Hello.address: expected string, got int".
error type_error(std::string_view path, std::string_view expected, const object& got);
error missing_field(std::string_view message, std::string_view field);
error bad_value(std::string_view path, std::string_view why);

// Field readers used by generated code: each checks the msgpack type exactly.
status read(const object& o, std::string_view path, bool& out);
status read(const object& o, std::string_view path, std::uint8_t& out);
status read(const object& o, std::string_view path, std::uint16_t& out);
status read(const object& o, std::string_view path, std::uint32_t& out);
status read(const object& o, std::string_view path, std::uint64_t& out);
status read(const object& o, std::string_view path, std::int32_t& out);
status read(const object& o, std::string_view path, std::int64_t& out);
status read(const object& o, std::string_view path, double& out);
status read(const object& o, std::string_view path, std::string& out);
status read(const object& o, std::string_view path, bytes& out);
status read(const object& o, std::string_view path, utc_time& out);
status read(const object& o, std::string_view path, any& out);

inline void write(writer& w, bool v) { w.boolean(v); }
inline void write(writer& w, std::uint8_t v) { w.u64(v); }
inline void write(writer& w, std::uint16_t v) { w.u64(v); }
inline void write(writer& w, std::uint32_t v) { w.u64(v); }
inline void write(writer& w, std::uint64_t v) { w.u64(v); }
inline void write(writer& w, std::int32_t v) { w.i64(v); }
inline void write(writer& w, std::int64_t v) { w.i64(v); }
inline void write(writer& w, double v) { w.f64(v); }
inline void write(writer& w, const std::string& v) { w.str(v); }
inline void write(writer& w, const bytes& v) { w.bin(v); }
inline void write(writer& w, utc_time v) { w.time(v); }
inline void write(writer& w, const any& v) { w.raw(v); }

template <class T>
void write(writer& w, const std::vector<T>& v) {
  w.array(static_cast<std::uint32_t>(v.size()));
  for (auto& e : v) write(w, e);
}
template <class T>
void write(writer& w, const std::map<std::string, T>& v) {
  w.map(static_cast<std::uint32_t>(v.size()));
  for (auto& [k, e] : v) {
    w.key(k);
    write(w, e);
  }
}

template <class T>
status read(const object& o, std::string_view path, std::vector<T>& out) {
  if (o.type != msgpack::type::ARRAY) return type_error(path, "array", o);
  out.clear();
  out.resize(o.via.array.size);
  for (std::uint32_t i = 0; i < o.via.array.size; ++i)
    if (auto s = read(o.via.array.ptr[i], path, out[i]); !s) return s;
  return {};
}
template <class T>
status read(const object& o, std::string_view path, std::map<std::string, T>& out) {
  if (o.type != msgpack::type::MAP) return type_error(path, "map", o);
  out.clear();
  for (std::uint32_t i = 0; i < o.via.map.size; ++i) {
    auto& kv = o.via.map.ptr[i];
    std::string k;
    if (auto s = read(kv.key, path, k); !s) return s;
    T v{};
    if (auto s = read(kv.val, path, v); !s) return s;
    out.insert_or_assign(std::move(k), std::move(v));
  }
  return {};
}

/// Encodes a generated message (found by ADL: `encode(writer&, const T&)`).
template <class T>
std::string encode(const T& m) {
  writer w;
  encode(w, m);
  return w.str();
}

/// Decodes a generated message from bytes (ADL: `decode(const object&, T&)`).
template <class T>
result<T> decode(std::string_view data, const limits& lim = {}) {
  auto doc = parse(data, lim);
  if (!doc) return doc.take_error();
  T m{};
  if (auto s = decode(doc->root(), m); !s) return s.take_error();
  return m;
}

/// Renders any msgpack value as JSON text (bin as base64 with a marker, timestamps as
/// RFC 3339) — for `weftctl call` and `trace`, which show payloads of any interface.
std::string to_json(const object& o);

/// Encodes JSON text as msgpack (objects → maps, arrays, numbers, strings, bools, null).
/// Used by `weftctl call` to build a payload a person typed.
result<std::string> from_json(std::string_view json);

}  // namespace weft::wire
