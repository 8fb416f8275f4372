#include <weft/base/base64.hh>

#include <array>
#include <cstdint>

namespace weft {

namespace {

constexpr char standard_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char url_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Each byte's six-bit value in either alphabet; -1 for other bytes.
constexpr std::array<std::int8_t, 256> decode_table = [] {
  std::array<std::int8_t, 256> t{};
  t.fill(-1);
  for (int i = 0; i < 64; ++i) {
    t[static_cast<unsigned char>(standard_chars[i])] = static_cast<std::int8_t>(i);
    t[static_cast<unsigned char>(url_chars[i])] = static_cast<std::int8_t>(i);
  }
  return t;
}();

}  // namespace

std::string base64_encode(std::string_view bytes, base64_alphabet a, bool pad) {
  const char* chars = a == base64_alphabet::url ? url_chars : standard_chars;
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    std::uint32_t v = static_cast<std::uint8_t>(bytes[i]) << 16 | static_cast<std::uint8_t>(bytes[i + 1]) << 8 |
                      static_cast<std::uint8_t>(bytes[i + 2]);
    out += chars[v >> 18 & 63];
    out += chars[v >> 12 & 63];
    out += chars[v >> 6 & 63];
    out += chars[v & 63];
  }
  if (auto rest = bytes.size() - i) {
    std::uint32_t v = static_cast<std::uint8_t>(bytes[i]) << 16;
    if (rest == 2) v |= static_cast<std::uint8_t>(bytes[i + 1]) << 8;
    out += chars[v >> 18 & 63];
    out += chars[v >> 12 & 63];
    if (rest == 2) out += chars[v >> 6 & 63];
    if (pad) out.append(rest == 1 ? 2 : 1, '=');
  }
  return out;
}

result<std::string> base64_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size() / 4 * 3 + 2);
  std::uint32_t acc = 0;
  int bits = 0, group = 0;
  bool padded = false;
  for (char ch : text) {
    if (ch == '\r' || ch == '\n' || ch == ' ' || ch == '\t') continue;
    if (ch == '=') {
      padded = true;
      continue;
    }
    auto v = decode_table[static_cast<unsigned char>(ch)];
    if (v < 0 || padded) return fail(errc::malformed, "not base64: '{}' where a base64 character was due", padded ? "=" : std::string(1, ch));
    acc = acc << 6 | static_cast<std::uint32_t>(v);
    bits += 6;
    ++group;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>(acc >> bits & 0xff);
    }
  }
  if (group % 4 == 1) return fail(errc::malformed, "not base64: it ends with a lone character");
  return out;
}

}  // namespace weft
