#pragma once
/// --fix for secrets written in the config (CFG-002, CFG-003): each goes to an environment
/// file beside the config (<config dir>/weft.env, NAME='value' lines that systemd's
/// EnvironmentFile= and a shell's `set -a; . FILE` both read) and the config says
/// "${WEFT_SECRET_<NAME>}" instead, every other byte kept. Planned first, so a dry run shows
/// the diffs (values masked), then applied: the env file (0600, variables already in it never
/// changed) and then the config, each replaced atomically.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace weft::scan {

/// One secret moved out of the config.
struct secret_move {
  std::string rule;          ///< CFG-002 or CFG-003
  std::string key;           ///< providers.openai.api_key
  std::uint32_t line = 0;    ///< in the config
  std::string var;           ///< WEFT_SECRET_PROVIDERS_OPENAI_API_KEY
  bool reused = false;       ///< the env file already holds `var` with this value
  std::string diff;          ///< unified diff of the config and the env file, the value masked
};

/// Everything --fix would change for the config's inline secrets.
struct secret_plan {
  std::string config;                ///< the config file (a symlink resolved)
  std::string env_file;              ///< <config dir>/weft.env
  std::vector<secret_move> moves;
  std::vector<std::string> errors;   ///< secrets that cannot be moved, and why
  std::string new_config;            ///< the config text after the moves
  std::string new_env;               ///< the env file's text after: holds the secrets, never print it
  unsigned config_mode = 0600;       ///< kept
};

/// <config dir>/weft.env
std::string env_file_for(const std::string& config_path);

/// `secret` as it may be shown: its first three characters when it has 12 or more, then "…".
std::string mask(std::string_view secret);

/// The moves for the config at `config_path`; reads the config and the env file, writes nothing.
secret_plan plan_secret_moves(const std::string& config_path);

/// Writes the env file, then the config; "" or what failed ("Failed to write …").
std::string apply(const secret_plan& p);

}  // namespace weft::scan
