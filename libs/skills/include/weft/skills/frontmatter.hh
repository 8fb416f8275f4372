#pragma once
/// The YAML frontmatter of a SKILL.md, read without a YAML library: skills use a small
/// subset of YAML, and a file from anywhere (a shared folder, a downloaded skill) must never
/// crash or hang the reader, only be refused with the line that is wrong.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <weft/base/result.hh>

namespace weft::skills {

/// A frontmatter value: a scalar, a list, or a one-level map (e.g. `metadata:`).
struct fm_value {
  std::string scalar;
  std::vector<std::string> list;
  std::map<std::string, std::string> map;
  enum class kind : std::uint8_t { scalar = 0, list = 1, map = 2 } k = kind::scalar;
  bool operator==(const fm_value&) const = default;
};

struct frontmatter {
  std::map<std::string, fm_value> fields;
  std::string body;  ///< everything after the closing '---'
};

/// Parses the subset of YAML skills use: `key: value`, single- or double-quoted strings,
/// `[a, b]` and indented `- item` lists, one-level indented maps, `|` and `>` block
/// scalars, `#` comments. The text must start with a '---' line and the frontmatter end
/// with one. Errors (errc::malformed) name the line.
result<frontmatter> parse_frontmatter(std::string_view text);

}  // namespace weft::skills
