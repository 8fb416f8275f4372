#pragma once
/// --fix for CFG-015: a [services.tool-<family>-<agent>] table replaces the per-agent tool
/// process weftd derives, and weftd runs that one without its sandbox. The fix comments the
/// table out (with its sub-tables), a line above it saying why, every other byte of the file
/// kept; weftd derives the process again, sandboxed, at the next reload. Planned first, so a
/// dry run shows the diff, then applied (the config replaced atomically, its mode kept).

#include <cstdint>
#include <string>
#include <vector>

namespace weft::scan {

/// One table commented out.
struct table_removal {
  std::string service;      ///< tool-shell-main
  std::uint32_t first = 0;  ///< the header's line
  std::uint32_t last = 0;   ///< its last line (blank lines before the next table excluded)
  std::string diff;         ///< unified diff of the change
};

struct sandbox_plan {
  std::string config;                  ///< the config file (a symlink resolved)
  std::vector<table_removal> removals;
  std::vector<std::string> errors;     ///< tables that cannot be commented out, and why
  std::string new_config;
  unsigned config_mode = 0600;
};

/// The CFG-015 tables of the config at `config_path`; reads it, writes nothing. The text
/// after is checked: it must load and hold no CFG-015 for the tables removed.
sandbox_plan plan_sandbox_fixes(const std::string& config_path);

/// Writes the config; "" or what failed.
std::string apply(const sandbox_plan& p);

}  // namespace weft::scan
