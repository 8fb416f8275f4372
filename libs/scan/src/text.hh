#pragma once
// Helpers the scanner's readers share (not installed): UTF-8 decoding that never fails,
// file kinds by name, and excerpts safe to print.
#include <cstdint>
#include <string>
#include <string_view>

namespace weft::scan::detail {

/// Decodes one code point at `p` (advancing it); an invalid sequence yields -1 and
/// advances by one byte, so every input is consumed.
inline std::int32_t next_code_point(std::string_view s, std::size_t& p) {
  auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  unsigned char c = b(p);
  if (c < 0x80) return ++p, c;
  int n = c >= 0xF0 ? (c <= 0xF4 ? 3 : -1) : c >= 0xE0 ? 2 : c >= 0xC2 ? 1 : -1;
  if (n < 0 || p + static_cast<std::size_t>(n) >= s.size()) return ++p, -1;
  std::int32_t cp = c & (0x3F >> n);
  for (int i = 1; i <= n; ++i) {
    unsigned char d = b(p + i);
    if ((d & 0xC0) != 0x80) return ++p, -1;
    cp = (cp << 6) | (d & 0x3F);
  }
  // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
  if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
    return ++p, -1;
  p += n + 1;
  return cp;
}

/// `s` cut to about `max` bytes on a code-point boundary, with control, invisible and
/// invalid characters written as \uXXXX / \xNN so a terminal shows them.
std::string excerpt(std::string_view s, std::size_t max = 80);

/// Whether a code point is invisible or reorders text (zero-width, bidi controls, tags).
bool invisible(std::int32_t cp);

enum class file_kind { markdown, script, data };
file_kind kind_of(std::string_view name, std::string_view text);

}  // namespace weft::scan::detail
