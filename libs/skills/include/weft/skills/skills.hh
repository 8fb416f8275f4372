#pragma once
/// Skills: folders with a SKILL.md (YAML frontmatter + Markdown instructions). Only the
/// name and description go into the system prompt; the body is read when the model calls
/// the built-in `load_skill` tool (progressive disclosure).

#include <map>
#include <string>
#include <vector>

#include <weft/base/result.hh>
#include <weft/skills/frontmatter.hh>

namespace weft::skills {

struct skill {
  std::string name;
  std::string description;
  std::string path;    ///< SKILL.md
  std::string origin;  ///< workspace, shared or built-in
  std::string version, license, compatibility, argument_hint;
  std::vector<std::string> allowed_tools;  ///< allowed-tools / allowed_tools
  std::vector<std::string> variables;
  /// network: the hosts the commands of this skill may reach (entries as in a plugin
  /// manifest: "api.example.com", "*.example.org:8443", "203.0.113.7:8080"); empty: the
  /// agent's own network policy applies. Checked where it is used (egress, shell tool).
  std::vector<std::string> network;
  bool user_invocable = true;
  bool disable_model_invocation = false;
  std::map<std::string, std::string> metadata;  ///< metadata: plus every other key
};

/// Checks the frontmatter of one SKILL.md and builds the skill (name and description
/// required; name 1–64 of a-z, 0-9 and '-', no leading, trailing or double '-').
result<skill> make_skill(const frontmatter& fm, std::string path, std::string origin);

/// Skill directories in precedence order, lowest first: the later one wins by name.
struct skill_dir {
  std::string path;
  std::string origin;
};

/// Finds <dir>/<folder>/SKILL.md in every dir; a later dir overrides an earlier one by
/// name. Malformed skills are skipped with a warning in `warnings`.
std::vector<skill> discover_skills(const std::vector<skill_dir>& dirs, std::vector<std::string>& warnings);

/// Where an agent's skills come from, lowest precedence first: $WEFT_SKILLS_DIR (built-in),
/// <home>/skills (shared), <workspace>/skills (the agent's own).
std::vector<skill_dir> skill_dirs_of(const std::string& home, const std::string& workspace);

/// The instructions of a skill (SKILL.md after the frontmatter), with {baseDir} replaced
/// by the skill's folder. At most 50 KB is read.
result<std::string> load_skill_body(const skill& s);

/// The <available_skills> block of the system prompt (empty when there is none the model
/// may invoke).
std::string skills_prompt(const std::vector<skill>& skills);

}  // namespace weft::skills
