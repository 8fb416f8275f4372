// libFuzzer target: tree-sitter on workspace files (services/tool-code/code_index.cc). A
// file is whatever the model or the repository put there: in every language the build has
// a grammar for, any bytes must parse, outline, search, report errors and take a rename
// without crashing or hanging, and a rename's result must never parse worse than its input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "services/tool-code/code_index.hh"

namespace code = weft::tools::code;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  static const char* names[] = {"c", "cpp", "python", "javascript", "typescript", "tsx", "rust", "go"};
  const code::language* lang = code::language_named(names[data[0] % 8]);
  if (!lang || !lang->grammar) return 0;
  std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  auto p = code::parsed::parse(*lang, text, "fuzz");
  if (!p) return 0;
  auto outline = p->outline();
  for (auto& s : outline)
    if (s.start_line > s.end_line || s.end_byte > text.size()) std::abort();
  for (auto& u : p->usages("x"))
    if (u.at.line == 0 || u.at.column == 0) std::abort();
  auto errors = p->errors(50);
  (void)p->query("(identifier) @i", 50);
  (void)p->node_at({2, 3}, "");
  for (auto line : {std::optional<std::uint32_t>(), std::optional<std::uint32_t>(3)}) {
    auto r = code::rename(*p, "x", "renamed_x", line);  // in the file, and in the function around line 3
    if (r) {
      auto again = code::parsed::parse(*lang, r->text, "fuzz");
      if (again && again->errors(1000).size() > p->errors(1000).size()) std::abort();
    }
  }
  return 0;
}
