#include <weft/wire/codec.hh>

#include <nlohmann/json.hpp>

namespace weft::wire {

namespace {

std::string_view type_name(const object& o) {
  switch (o.type) {
    case msgpack::type::NIL: return "nil";
    case msgpack::type::BOOLEAN: return "bool";
    case msgpack::type::POSITIVE_INTEGER:
    case msgpack::type::NEGATIVE_INTEGER: return "int";
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64: return "float";
    case msgpack::type::STR: return "string";
    case msgpack::type::BIN: return "bin";
    case msgpack::type::ARRAY: return "array";
    case msgpack::type::MAP: return "map";
    case msgpack::type::EXT: return "ext";
  }
  return "unknown";
}

template <class T>
status read_unsigned(const object& o, std::string_view path, T& out) {
  if (o.type != msgpack::type::POSITIVE_INTEGER) return type_error(path, "unsigned int", o);
  if (o.via.u64 > std::numeric_limits<T>::max()) return bad_value(path, "integer out of range");
  out = static_cast<T>(o.via.u64);
  return {};
}

template <class T>
status read_signed(const object& o, std::string_view path, T& out) {
  std::int64_t v;
  if (o.type == msgpack::type::POSITIVE_INTEGER) {
    if (o.via.u64 > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      return bad_value(path, "integer out of range");
    v = static_cast<std::int64_t>(o.via.u64);
  } else if (o.type == msgpack::type::NEGATIVE_INTEGER) {
    v = o.via.i64;
  } else {
    return type_error(path, "int", o);
  }
  if (v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max())
    return bad_value(path, "integer out of range");
  out = static_cast<T>(v);
  return {};
}

}  // namespace

void writer::time(utc_time t) {
  // msgpack timestamp 96: nanoseconds (u32) + seconds (i64), big-endian. Always the 96-bit
  // form so the encoding of a time does not depend on its value (golden tests stay stable).
  auto ns = t.time_since_epoch().count();
  std::int64_t secs = ns / 1'000'000'000;
  std::int64_t rem = ns % 1'000'000'000;
  if (rem < 0) { rem += 1'000'000'000; --secs; }
  char body[12];
  auto n32 = static_cast<std::uint32_t>(rem);
  for (int i = 0; i < 4; ++i) body[i] = static_cast<char>(n32 >> (24 - 8 * i));
  auto s64 = static_cast<std::uint64_t>(secs);
  for (int i = 0; i < 8; ++i) body[4 + i] = static_cast<char>(s64 >> (56 - 8 * i));
  _pk.pack_ext(12, -1);
  _pk.pack_ext_body(body, 12);
}

result<document> parse(std::string_view data, const limits& lim) {
  if (data.size() > lim.max_bytes)
    return make_error(codec_errc::domain, codec_errc::too_large,
                      "{} bytes exceed the decoder limit of {}", data.size(), lim.max_bytes);
  if (data.empty())
    return make_error(codec_errc::domain, codec_errc::malformed, "empty input");
  // Every element costs at least one input byte, so capping counts by the input size bounds
  // what the parser allocates before it has seen the bytes.
  auto n = static_cast<std::size_t>(data.size());
  msgpack::unpack_limit ul(n, n / 2 + 1, n, n, n, lim.max_depth);
  try {
    std::size_t off = 0;
    document d{msgpack::unpack(data.data(), data.size(), off, nullptr, nullptr, ul)};
    if (off != data.size())
      return make_error(codec_errc::domain, codec_errc::malformed, "{} trailing bytes after the value",
                        data.size() - off);
    return d;
  } catch (const msgpack::depth_size_overflow&) {
    return make_error(codec_errc::domain, codec_errc::too_large, "nesting deeper than {}", lim.max_depth);
  } catch (const msgpack::size_overflow& e) {
    return make_error(codec_errc::domain, codec_errc::malformed, "a length exceeds the input: {}", e.what());
  } catch (const msgpack::insufficient_bytes&) {
    return make_error(codec_errc::domain, codec_errc::malformed, "input ends inside a value");
  } catch (const std::exception& e) {
    return make_error(codec_errc::domain, codec_errc::malformed, "{}", e.what());
  }
}

error type_error(std::string_view path, std::string_view expected, const object& got) {
  return make_error(codec_errc::domain, codec_errc::wrong_type, "{}: expected {}, got {}", path, expected,
                    type_name(got));
}
error missing_field(std::string_view message, std::string_view field) {
  return make_error(codec_errc::domain, codec_errc::missing, "{}: missing required field '{}'", message, field);
}
error bad_value(std::string_view path, std::string_view why) {
  return make_error(codec_errc::domain, codec_errc::bad_value, "{}: {}", path, why);
}

status read(const object& o, std::string_view path, bool& out) {
  if (o.type != msgpack::type::BOOLEAN) return type_error(path, "bool", o);
  out = o.via.boolean;
  return {};
}
status read(const object& o, std::string_view p, std::uint8_t& out) { return read_unsigned(o, p, out); }
status read(const object& o, std::string_view p, std::uint16_t& out) { return read_unsigned(o, p, out); }
status read(const object& o, std::string_view p, std::uint32_t& out) { return read_unsigned(o, p, out); }
status read(const object& o, std::string_view p, std::uint64_t& out) { return read_unsigned(o, p, out); }
status read(const object& o, std::string_view p, std::int32_t& out) { return read_signed(o, p, out); }
status read(const object& o, std::string_view p, std::int64_t& out) { return read_signed(o, p, out); }
status read(const object& o, std::string_view path, double& out) {
  switch (o.type) {
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64: out = o.via.f64; return {};
    case msgpack::type::POSITIVE_INTEGER: out = static_cast<double>(o.via.u64); return {};
    case msgpack::type::NEGATIVE_INTEGER: out = static_cast<double>(o.via.i64); return {};
    default: return type_error(path, "float", o);
  }
}
status read(const object& o, std::string_view path, std::string& out) {
  if (o.type != msgpack::type::STR) return type_error(path, "string", o);
  out.assign(o.via.str.ptr, o.via.str.size);
  return {};
}
status read(const object& o, std::string_view path, bytes& out) {
  if (o.type != msgpack::type::BIN) return type_error(path, "bin", o);
  auto p = reinterpret_cast<const std::uint8_t*>(o.via.bin.ptr);
  out.assign(p, p + o.via.bin.size);
  return {};
}
status read(const object& o, std::string_view path, utc_time& out) {
  if (o.type != msgpack::type::EXT || o.via.ext.type() != -1) return type_error(path, "timestamp", o);
  auto d = reinterpret_cast<const unsigned char*>(o.via.ext.data());
  std::int64_t secs = 0;
  std::uint32_t nanos = 0;
  switch (o.via.ext.size) {
    case 4:
      secs = (std::int64_t(d[0]) << 24) | (d[1] << 16) | (d[2] << 8) | d[3];
      break;
    case 8: {
      std::uint64_t v = 0;
      for (int i = 0; i < 8; ++i) v = (v << 8) | d[i];
      nanos = static_cast<std::uint32_t>(v >> 34);
      secs = static_cast<std::int64_t>(v & 0x3ffffffffULL);
      break;
    }
    case 12: {
      for (int i = 0; i < 4; ++i) nanos = (nanos << 8) | d[i];
      std::uint64_t v = 0;
      for (int i = 0; i < 8; ++i) v = (v << 8) | d[4 + i];
      secs = static_cast<std::int64_t>(v);
      break;
    }
    default: return bad_value(path, "timestamp of unknown size");
  }
  if (nanos >= 1'000'000'000) return bad_value(path, "timestamp nanoseconds out of range");
  // Keep within what int64 nanoseconds can hold (years 1678..2262).
  if (secs > 9'223'372'035LL || secs < -9'223'372'035LL) return bad_value(path, "timestamp out of range");
  out = utc_time(std::chrono::nanoseconds(secs * 1'000'000'000LL + nanos));
  return {};
}
status read(const object& o, std::string_view, any& out) {
  if (o.type == msgpack::type::NIL) {
    out.encoded.clear();
    return {};
  }
  msgpack::sbuffer b;
  msgpack::pack(b, o);
  out.encoded.assign(b.data(), b.size());
  return {};
}

namespace {

nlohmann::json json_of(const object& o) {
  switch (o.type) {
    case msgpack::type::NIL: return nullptr;
    case msgpack::type::BOOLEAN: return o.via.boolean;
    case msgpack::type::POSITIVE_INTEGER: return o.via.u64;
    case msgpack::type::NEGATIVE_INTEGER: return o.via.i64;
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64: return o.via.f64;
    case msgpack::type::STR: return std::string(o.via.str.ptr, o.via.str.size);
    case msgpack::type::BIN: {
      std::string hex;
      hex.reserve(o.via.bin.size * 2);
      for (std::uint32_t i = 0; i < o.via.bin.size; ++i)
        hex += fmt::format("{:02x}", static_cast<unsigned char>(o.via.bin.ptr[i]));
      return nlohmann::json{{"$bin_hex", hex}};
    }
    case msgpack::type::ARRAY: {
      auto a = nlohmann::json::array();
      for (std::uint32_t i = 0; i < o.via.array.size; ++i) a.push_back(json_of(o.via.array.ptr[i]));
      return a;
    }
    case msgpack::type::MAP: {
      auto m = nlohmann::json::object();
      for (std::uint32_t i = 0; i < o.via.map.size; ++i) {
        auto& kv = o.via.map.ptr[i];
        std::string k = kv.key.type == msgpack::type::STR ? std::string(kv.key.via.str.ptr, kv.key.via.str.size)
                                                          : json_of(kv.key).dump();
        m[k] = json_of(kv.val);
      }
      return m;
    }
    case msgpack::type::EXT: {
      utc_time t;
      if (read(o, "", t)) return to_rfc3339(t);
      return nlohmann::json{{"$ext", o.via.ext.type()}, {"size", o.via.ext.size}};
    }
  }
  return nullptr;
}

void pack_json(writer& w, const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::null: w.nil(); break;
    case nlohmann::json::value_t::boolean: w.boolean(j.get<bool>()); break;
    case nlohmann::json::value_t::number_unsigned: w.u64(j.get<std::uint64_t>()); break;
    case nlohmann::json::value_t::number_integer: w.i64(j.get<std::int64_t>()); break;
    case nlohmann::json::value_t::number_float: w.f64(j.get<double>()); break;
    case nlohmann::json::value_t::string: w.str(j.get_ref<const std::string&>()); break;
    case nlohmann::json::value_t::array:
      w.array(static_cast<std::uint32_t>(j.size()));
      for (auto& e : j) pack_json(w, e);
      break;
    case nlohmann::json::value_t::object:
      w.map(static_cast<std::uint32_t>(j.size()));
      for (auto& [k, v] : j.items()) {
        w.key(k);
        pack_json(w, v);
      }
      break;
    default: w.nil(); break;
  }
}

}  // namespace

std::string to_json(const object& o) {
  // Strings that are not UTF-8 are shown with U+FFFD rather than failing the whole dump.
  return json_of(o).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

result<std::string> from_json(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded())
    return make_error(codec_errc::domain, codec_errc::malformed, "not valid JSON: '{}'", text);
  writer w;
  pack_json(w, j);
  return w.str();
}

}  // namespace weft::wire
