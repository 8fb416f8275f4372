#include "lsp_wire.hh"

#include <algorithm>
#include <optional>

namespace weft::tools::code {

std::uint32_t lsp_to_byte_column(std::string_view line, std::uint32_t character, bool utf8) {
  if (utf8) return std::min<std::uint32_t>(character, static_cast<std::uint32_t>(line.size())) + 1;
  std::uint32_t units = 0;
  std::size_t i = 0;
  while (i < line.size() && units < character) {
    auto c = static_cast<unsigned char>(line[i]);
    std::size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    units += len == 4 ? 2 : 1;
    i += std::min(len, line.size() - i);
  }
  return static_cast<std::uint32_t>(i) + 1;
}

std::uint32_t lsp_from_byte_column(std::string_view line, std::uint32_t column, bool utf8) {
  std::size_t bytes = column > 0 ? column - 1 : 0;
  bytes = std::min(bytes, line.size());
  if (utf8) return static_cast<std::uint32_t>(bytes);
  std::uint32_t units = 0;
  for (std::size_t i = 0; i < bytes;) {
    auto c = static_cast<unsigned char>(line[i]);
    std::size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    units += len == 4 ? 2 : 1;
    i += len;
  }
  return units;
}

result<std::vector<std::string>> lsp_take_messages(std::string& buffer, std::size_t max) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  for (;;) {
    auto end = buffer.find("\r\n\r\n", pos);
    if (end == std::string::npos) {
      if (buffer.size() - pos > 8192) return fail(errc::malformed, "a header of more than 8 KiB");
      break;
    }
    std::optional<std::size_t> length;
    std::string_view head(buffer.data() + pos, end - pos);
    while (!head.empty()) {
      auto eol = head.find("\r\n");
      auto field = head.substr(0, eol);
      head = eol == std::string_view::npos ? std::string_view() : head.substr(eol + 2);
      auto colon = field.find(':');
      if (colon == std::string_view::npos) return fail(errc::malformed, "a header line without ':'");
      std::string name(field.substr(0, colon));
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      if (name != "content-length") continue;
      auto v = field.substr(colon + 1);
      while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      if (v.empty() || v.size() > 12 || !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return fail(errc::malformed, "Content-Length '{}' is not a number", v.substr(0, 20));
      length = std::stoull(std::string(v));
    }
    if (!length) return fail(errc::malformed, "a message without Content-Length");
    if (*length > max) return fail(errc::malformed, "a message of {} bytes (the limit is {})", *length, max);
    if (buffer.size() - (end + 4) < *length) break;
    out.push_back(buffer.substr(end + 4, *length));
    pos = end + 4 + *length;
  }
  buffer.erase(0, pos);
  return out;
}

}  // namespace weft::tools::code
