#pragma once
/// Installing a skill folder without trusting it: the copy never follows a symlink (links
/// are copied as links, and one leading out of the folder refuses the install), opens
/// nothing but regular files and directories, stops at named limits, and lands in a hidden
/// sibling of its destination (agents skip names starting with '.') that is fsynced and
/// then renamed into place in one step — so an agent sees the old skill or the new one,
/// never half of one. The scan and the decision around it are skill.cc's; this file knows
/// only folders.

#include <cstdint>
#include <string>
#include <vector>

#include <weft/base/result.hh>
#include <weft/skills/skills.hh>

namespace weft::ctl {

/// What one install may copy; past any of them the install is refused.
struct install_limits {
  std::uint32_t max_entries = 20000;        ///< files, directories and links together
  std::uint32_t max_depth = 24;             ///< directories below the skill folder
  std::uint64_t max_bytes = 512ull << 20;   ///< file contents together
};

/// Reads the skill a folder holds: its SKILL.md (a regular file, not a link) must have valid
/// frontmatter with a name and a description (libs/skills' rules).
result<skills::skill> read_skill_folder(const std::string& dir);

/// True when `name` can be a folder directly inside a skills directory: what libs/skills
/// accepts as a skill name, never '.', '..', a '/' or a leading '.'.
bool installable_name(const std::string& name);

/// A copy of a skill folder beside its destination, not yet installed.
struct staged_skill {
  std::string path;    ///< <skills dir>/.<name>.install-XXXXXX
  std::string target;  ///< <skills dir>/<name>
  std::string hash;    ///< "sha256:<hex>" (tree_hash of the copy)
  std::uint64_t files = 0, bytes = 0;
};

/// Copies `source` to a hidden folder in `skills_dir` (created if missing) as the future
/// `skills_dir`/`name`, everything fsynced. Refused (nothing left behind): a symlink whose
/// target is absolute or leads out of `source`, a FIFO, socket or device, a limit passed.
result<staged_skill> stage_skill(const std::string& source, const std::string& skills_dir, const std::string& name,
                                 const install_limits& lim = {});

/// Puts a staged copy in place in one rename. An installed folder of the same name is
/// replaced only with `replace` (atomically exchanged, the old one then deleted); without
/// it the install is refused, even if that folder appeared after the check. Returns whether
/// it replaced one.
result<bool> commit_staged(const staged_skill& s, bool replace);

/// Deletes a staged copy (a refused or failed install).
void discard_staged(const staged_skill& s);

/// Removes an installed skill folder: renamed away in one step (agents stop seeing it at
/// once), then deleted without following links.
status remove_skill_folder(const std::string& folder);

/// "sha256:<hex>" of a folder: every entry, depth first with each directory's names in byte
/// order, as `d <path>\0`, `f <path>\0<x|->\0<size>\0<bytes>` or `l <path>\0<target>\0`
/// (paths relative to the folder). Links are hashed as links, never followed. Equal trees
/// hash equal wherever they are.
result<std::string> tree_hash(const std::string& dir);

/// The names in the directory `dfd`, without '.' and '..', in byte order; at most `max` + 1
/// (more means too many). Lists from the start whatever an earlier listing through another
/// duplicate of `dfd` left (duplicates share the read position).
result<std::vector<std::string>> names_in(int dfd, std::uint32_t max);

}  // namespace weft::ctl
