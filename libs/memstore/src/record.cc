#include "record.hh"

#include <bit>
#include <cstring>

#include <weft/memstore/rvf.hh>
#include <weft/wire/codec.hh>

#include "file.hh"

namespace weft::memstore::detail {
namespace {

void type(wire::writer& w, record_type t) {
  w.key("t");
  w.u64(static_cast<std::uint8_t>(t));
}

error bad(std::string_view why) { return fail(errc::corrupt, "undecodable record: {}", why); }

}  // namespace

std::string encode_entry(const entry& e) {
  wire::writer w;
  w.map(9);
  type(w, record_type::entry);
  w.key("id"), w.str(e.id);
  w.key("kind"), w.u64(e.kind);
  w.key("text"), w.str(e.text);
  w.key("session"), w.str(e.session);
  w.key("role"), w.str(e.role);
  w.key("tags"), wire::write(w, e.tags);
  w.key("created"), w.time(e.created);
  w.key("key"), w.str(e.key);
  return w.str();
}

std::string encode_vector(std::string_view id, std::span<const float> v, std::string_view model) {
  // Floats as little-endian IEEE 754 binary32 in a bin: bit-exact and compact.
  std::vector<std::uint8_t> bytes(v.size() * 4);
  for (std::size_t i = 0; i < v.size(); ++i) {
    auto u = std::bit_cast<std::uint32_t>(v[i]);
    for (int b = 0; b < 4; ++b) bytes[4 * i + b] = static_cast<std::uint8_t>(u >> (8 * b));
  }
  wire::writer w;
  w.map(4);
  type(w, record_type::vector);
  w.key("id"), w.str(id);
  w.key("model"), w.str(model);
  w.key("v"), w.bin(bytes);
  return w.str();
}

std::string encode_tombstone(std::string_view id) {
  wire::writer w;
  w.map(2);
  type(w, record_type::tombstone);
  w.key("id"), w.str(id);
  return w.str();
}

std::string encode_wipe() {
  wire::writer w;
  w.map(1);
  type(w, record_type::wipe);
  return w.str();
}

result<record> decode_record(std::string_view payload, bool with_vector) {
  auto doc = wire::parse(payload, {.max_bytes = payload.size(), .max_depth = 4});
  if (!doc) return bad(doc.err().message);
  auto& root = doc->root();
  if (root.type != msgpack::type::MAP) return bad("not a map");
  record r;
  std::uint8_t t = 0;
  const wire::object* vec = nullptr;
  for (std::uint32_t i = 0; i < root.via.map.size; ++i) {
    auto& kv = root.via.map.ptr[i];
    if (kv.key.type != msgpack::type::STR) return bad("key is not a string");
    std::string_view k(kv.key.via.str.ptr, kv.key.via.str.size);
    status s;
    if (k == "t") s = wire::read(kv.val, "t", t);
    else if (k == "id") s = wire::read(kv.val, "id", r.id);
    else if (k == "kind") s = wire::read(kv.val, "kind", r.e.kind);
    else if (k == "text") s = wire::read(kv.val, "text", r.e.text);
    else if (k == "session") s = wire::read(kv.val, "session", r.e.session);
    else if (k == "role") s = wire::read(kv.val, "role", r.e.role);
    else if (k == "tags") s = wire::read(kv.val, "tags", r.e.tags);
    else if (k == "created") s = wire::read(kv.val, "created", r.e.created);
    else if (k == "key") s = wire::read(kv.val, "key", r.e.key);
    else if (k == "model") s = wire::read(kv.val, "model", r.model);
    else if (k == "v") vec = &kv.val;
    if (!s) return bad(s.err().message);
  }
  if (t < 1 || t > 4) return bad(fmt::format("unknown record type {}", t));
  r.type = static_cast<record_type>(t);
  if (r.type != record_type::wipe && r.id.empty()) return bad("no id");
  if (r.type == record_type::entry) r.e.id = std::move(r.id), r.id.clear();
  if (r.type == record_type::vector) {
    if (!vec || vec->type != msgpack::type::BIN || vec->via.bin.size % 4 != 0)
      return bad("vector is not a bin of 4-byte floats");
    if (with_vector) {
      auto n = vec->via.bin.size / 4;
      r.v.resize(n);
      for (std::uint32_t i = 0; i < n; ++i)
        r.v[i] = std::bit_cast<float>(get_u32(vec->via.bin.ptr + 4 * i));
    }
  }
  return r;
}

result<std::string_view> check_frame(window& win, std::uint64_t off, std::uint64_t limit,
                                     std::uint32_t max_record) {
  if (limit < off + rvf::frame_bytes) return fail(errc::corrupt, "torn record frame");
  auto f = win.view(off, rvf::frame_bytes);
  if (!f) return f.take_error();
  auto len = get_u32(f->data());
  if (len == 0) return fail(errc::corrupt, "zero length field");
  if (len > max_record)
    return fail(errc::corrupt, "length field {} over the limit of {} bytes", len, max_record);
  if (limit - off - rvf::frame_bytes < len) return fail(errc::corrupt, "record of {} bytes runs past the end", len);
  auto want = get_u32(f->data() + 4);
  auto all = win.view(off, rvf::frame_bytes + len);
  if (!all) return all.take_error();
  auto crc = rvf::crc32c(all->substr(rvf::frame_bytes), rvf::crc32c(all->substr(0, 4)));
  if (crc != want) return fail(errc::corrupt, "checksum mismatch");
  return all->substr(rvf::frame_bytes);
}

std::string frame(std::string_view payload) {
  std::string f;
  put_u32(f, static_cast<std::uint32_t>(payload.size()));
  put_u32(f, rvf::crc32c(payload, rvf::crc32c(f)));
  return f;
}

}  // namespace weft::memstore::detail
