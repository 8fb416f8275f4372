#pragma once
/// The hardening audit: weft's configuration read with libs/service's own loader (so the
/// scan judges what weftd would run) and the raw TOML beside it (to tell a literal secret
/// from a ${VAR}), and the permissions of $WEFT_HOME's keys, token stores, config, sessions
/// and skill folders. Safe fixes of permissions are planned here and applied on request; moving inline secrets
/// out is secret_move.hh.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <weft/scan/report.hh>

namespace weft::scan {

/// The configuration checks (CFG-*) of config text; `source` names it in findings.
std::vector<finding> audit_config_text(std::string_view text, const std::string& source);

/// A secret written in the config instead of ${VAR} (CFG-002, CFG-003): the keys from the
/// root to it ({"providers", "openai", "api_key"}) and its line, for --fix to move it.
struct inline_secret {
  std::string rule;
  std::vector<std::string> path;
  std::uint32_t line = 0;
};
/// The inline secrets of config text (none when it does not load: CFG-001 says why).
std::vector<inline_secret> find_inline_secrets(std::string_view text, const std::string& source);

/// The configuration checks of a file; an unreadable file is an error, not a finding.
struct config_audit {
  std::vector<finding> findings;
  std::vector<std::string> errors;
};
config_audit audit_config_file(const std::string& path);

/// The filesystem checks (FS-*) of `home` and, when given, the config file; each finding
/// that has a safe fix adds one to `fixes`.
std::vector<finding> audit_home(const std::string& home, const std::string& config_path, std::vector<fix>& fixes);

/// Applies a fix (chmod); sets `applied` or `error`.
void apply(fix& f);

/// The skill folders of an installation: $WEFT_SKILLS_DIR, <home>/skills and each agent's
/// <workspace>/skills (from the config at `config_path`, "" for the built-in default) —
/// those that exist.
std::vector<std::string> installed_skill_dirs(const std::string& home, const std::string& config_path);

}  // namespace weft::scan
