#pragma once
/// The agent's workspace: its identity files, sessions, memory and skills, created with
/// sensible defaults on first start and never overwritten afterwards.
///
/// The system prompt, in this order, parts joined by "\n\n---\n\n":
///   1. soul:     <ws>/.clawft/SOUL.md, else <ws>/SOUL.md, else the built-in preamble;
///   2. identity: <ws>/.clawft/IDENTITY.md, else <ws>/IDENTITY.md, else the built-in line
///                naming the agent;
///   3. <ws>/.clawft/AGENTS.md, else <ws>/AGENTS.md (left out when neither exists);
///   4. <ws>/.clawft/USER.md, else <ws>/USER.md (left out when neither exists);
///   5. the skills list (left out when there is none).
/// A file that is empty (only whitespace) counts as missing; each file is cut at 16 KiB.

#include <optional>
#include <string>
#include <vector>

#include <weft/base/result.hh>

namespace weft::agent {

/// The built-in preamble (also the default SOUL.md).
std::string builtin_soul();
/// The built-in identity line (also the default IDENTITY.md).
std::string builtin_identity(const std::string& id, const std::string& name);

/// Creates the workspace, SOUL.md, IDENTITY.md, AGENTS.md, USER.md, sessions/, memory/
/// and skills/ where missing; returns the paths it created.
result<std::vector<std::string>> bootstrap_workspace(const std::string& dir, const std::string& id,
                                                     const std::string& name);

/// What the identity files hold (nullopt: missing or empty), read with the precedence above.
struct prompt_parts {
  std::optional<std::string> soul, identity, agents, user;
};
prompt_parts read_prompt_parts(const std::string& dir);

/// Pure: the system prompt from the parts, the built-in defaults and the skills block.
std::string assemble_system_prompt(const prompt_parts& p, const std::string& id, const std::string& name,
                                   const std::string& skills_block);

}  // namespace weft::agent
