#pragma once
/// The checks of `weftctl security scan` as one table of data, so a reader sees every check
/// in one place and adding one is an entry (with the sample texts that must and must not
/// trigger it) plus, for the few checks that are code, a detector. docs/guides/security.md
/// lists them, generated from this table.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace weft::scan {

/// How bad a finding is; a scan fails at or above a chosen level (default high).
enum class severity : std::uint8_t { info = 0, low = 1, medium = 2, high = 3, critical = 4 };

std::string_view to_string(severity s);
std::optional<severity> parse_severity(std::string_view s);

/// What a check looks at: a skill or plugin folder's files, weft's configuration, the
/// permissions of weft's state on disk, or what a running weftd reports (runtime.hh).
enum class family : std::uint8_t { skill = 0, config = 1, filesystem = 2, runtime = 3 };

std::string_view to_string(family f);

/// How a rule matches. `line`: `pattern` on one line. `block`: `pattern` and `also` both
/// somewhere in one block (a fenced code block, or a whole script file). `detector`: code
/// named by the rule's id (hidden Unicode, files, archives, configuration, permissions),
/// because a regular expression cannot say it.
enum class match_kind : std::uint8_t { line = 0, block = 1, detector = 2 };

/// Which lines a line or block rule reads. `code`: lines of scripts, fenced code blocks and
/// `inline code` spans (what would be run); `prose`: the rest of a Markdown file; `any`: both.
enum class scope : std::uint8_t { any = 0, code = 1, prose = 2 };

struct rule {
  std::string_view id;        ///< stable: SKL-001, CFG-001, FS-001, RT-001; never reused
  family fam;
  std::string_view category;  ///< prompt-injection, hidden-text, fetch-and-run, …
  severity sev;
  std::string_view title;     ///< the one-line finding
  std::string_view matches;   ///< what it matches, for people
  std::string_view remediation;
  match_kind kind = match_kind::line;
  scope where = scope::any;
  std::string_view pattern;   ///< RE2 syntax, matched case-insensitively
  std::string_view also;      ///< block rules: must match in the same block too
  std::string_view unless;    ///< a line (block) that also matches this is not a finding
  std::string_view section;   ///< only under a Markdown heading matching this
  bool skip_quoted = false;   ///< a match between quotes is a mention, not an instruction
  std::string_view positive;  ///< a text the rule must flag (skill: file content; config: TOML)
  std::string_view negative;  ///< a look-alike it must not flag
  std::string_view sample_file = "SKILL.md";  ///< the name the samples are scanned under
};

/// Every rule, in id order.
std::span<const rule> rules();

/// The rule with this id (case-insensitive), or null.
const rule* find_rule(std::string_view id);

}  // namespace weft::scan
