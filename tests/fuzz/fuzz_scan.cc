// libFuzzer target: the security scanner's readers of outside input (libs/scan) — a skill's
// text as Markdown, a script and a manifest (line and block rules, code spans, sections,
// hidden-Unicode and HTML-comment detectors, the frontmatter), a zip's central directory,
// archive magic and the excerpts printed from hostile bytes. A hostile skill must never
// crash or hang the scan, and every finding must name a rule and a line of the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <weft/scan/scanner.hh>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::size_t lines = 1;
  for (char c : text) lines += c == '\n';
  for (auto name : {"SKILL.md", "scripts/install.sh", "package.json"}) {
    for (auto& f : weft::scan::scan_text(name, text)) {
      if (!f.r || f.r->id.empty() || f.message.empty()) std::abort();
      if (f.line > lines) std::abort();
      if (f.file != name) std::abort();
    }
  }
  auto z = weft::scan::inspect_zip(text);
  if (z.kind != "zip") std::abort();
  (void)weft::scan::archive_kind(text);
  return 0;
}
