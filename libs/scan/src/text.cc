// Excerpts safe to print, invisible characters, and the kind of a file by its name.
#include <fmt/format.h>

#include "text.hh"

namespace weft::scan::detail {

bool invisible(std::int32_t cp) {
  return cp == 0x200B || cp == 0x200C || cp == 0x200D || cp == 0x2060 || cp == 0xFEFF || (cp >= 0x202A && cp <= 0x202E) ||
         (cp >= 0x2066 && cp <= 0x2069) || (cp >= 0xE0000 && cp <= 0xE007F) || cp == 0x200E || cp == 0x200F;
}

std::string excerpt(std::string_view s, std::size_t max) {
  std::string out;
  std::size_t p = 0;
  while (p < s.size() && out.size() < max) {
    auto at = p;
    auto cp = next_code_point(s, p);
    if (cp < 0) out += fmt::format("\\x{:02x}", static_cast<unsigned char>(s[at]));
    else if (cp < 0x20 || cp == 0x7F) out += cp == '\t' ? std::string(" ") : fmt::format("\\x{:02x}", cp);
    else if (invisible(cp)) out += fmt::format("\\u{{{:X}}}", cp);
    else out.append(s.substr(at, p - at));
  }
  if (p < s.size()) out += "…";
  return out;
}

file_kind kind_of(std::string_view name, std::string_view text) {
  auto slash = name.rfind('/');
  auto base = slash == std::string_view::npos ? name : name.substr(slash + 1);
  auto dot = base.rfind('.');
  std::string ext;
  if (dot != std::string_view::npos && dot > 0)
    for (char c : base.substr(dot + 1)) ext += static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  for (auto m : {"md", "markdown", "mdx", "txt", "rst", "html", "htm"})
    if (ext == m) return file_kind::markdown;
  if (text.substr(0, 2) == "#!") return file_kind::script;
  for (auto s : {"sh", "bash", "zsh", "fish", "ksh", "py", "pyw", "js", "mjs", "cjs", "ts", "tsx", "jsx", "ps1", "psm1",
                 "psd1", "bat", "cmd", "vbs", "rb", "pl", "pm", "php", "lua", "go", "rs", "java", "kt", "swift",
                 "applescript", "c", "cc", "cpp", "h", "hpp", "cs", "r", "jl", "ipynb"})
    if (ext == s) return file_kind::script;
  if (ext.empty()) return base == "Makefile" || base == "Dockerfile" ? file_kind::script : file_kind::markdown;
  return file_kind::data;
}

}  // namespace weft::scan::detail
