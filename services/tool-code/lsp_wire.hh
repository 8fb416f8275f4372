#pragma once
/// The LSP base protocol as bytes: Content-Length framing, and positions (LSP counts UTF-16
/// code units unless the server agreed to UTF-8 bytes; the code tools count bytes).
/// Pure functions on what a language server sends: fuzzed (tests/fuzz/fuzz_lsp_wire.cc).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <weft/base/result.hh>

namespace weft::tools::code {

/// The messages complete in `buffer`, taken from its front; a header without
/// Content-Length or a length over `max` is an error (the stream cannot be resynchronised).
result<std::vector<std::string>> lsp_take_messages(std::string& buffer, std::size_t max);

/// LSP character offsets (UTF-16 code units, or UTF-8 bytes when `utf8`) to and from
/// 1-based byte columns, on the line's text.
std::uint32_t lsp_to_byte_column(std::string_view line, std::uint32_t character, bool utf8);
std::uint32_t lsp_from_byte_column(std::string_view line, std::uint32_t column, bool utf8);

}  // namespace weft::tools::code
