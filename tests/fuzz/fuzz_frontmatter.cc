// libFuzzer target: the SKILL.md frontmatter parser and the checks of a skill (libs/skills).
// A SKILL.md can come from anywhere (a shared folder, a downloaded skill): reading it must
// never crash, hang or throw, only refuse it; what is accepted must render into the system
// prompt's block without ever putting a raw '<' of the skill's text into it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <weft/skills/skills.hh>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto fm = weft::skills::parse_frontmatter(text);
  if (!fm) {
    if (fm.err().message.empty()) std::abort();  // a refusal always says why
    return 0;
  }
  if (fm->body.size() > size) std::abort();
  auto s = weft::skills::make_skill(*fm, "/fuzz/skill/SKILL.md", "fuzz");
  if (!s) return 0;
  if (s->name.empty() || s->name.size() > 64 || s->description.empty() || s->description.size() > 1024) std::abort();
  s->disable_model_invocation = false;
  auto block = weft::skills::skills_prompt({*s});
  // The only tags in the block are the ones skills_prompt writes.
  std::size_t tags = 0;
  for (std::size_t p = 0; (p = block.find('<', p)) != std::string_view::npos; ++p) ++tags;
  if (tags != 8) std::abort();
  return 0;
}
