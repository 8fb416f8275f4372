#pragma once
/// An agent's skills as MCP clients see them (issue 5 item 2, issue 28 item 7): each skill's
/// SKILL.md as a resource `weft://skills/<name>`, the template `weft://skills/{name}`, one
/// prompt per user-invocable skill (argument `request`), completions for both, and what
/// changed on disk since the last look — so sessions hear of it (resources and prompts
/// list_changed, resources/updated). No sockets: the service calls refresh() on a timer.
///
/// Completions: a prompt's `request` completes to the literal words that open each
/// alternative of the skill's argument-hint (`add [tag] | remove [tag] | list` offers
/// add, remove, list); the template's `name` completes to skill names. Both keep the values
/// that start with what was typed (case-insensitive), in order.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <weft/base/result.hh>
#include <weft/skills/skills.hh>

namespace weft::mcpsrv {

using json = nlohmann::json;

inline constexpr std::string_view skill_uri_prefix = "weft://skills/";
inline constexpr std::string_view skill_uri_template = "weft://skills/{name}";

class skill_catalog {
 public:
  /// What changed on disk since the previous refresh().
  struct changes {
    bool lists = false;                ///< skills came or went, or their listing changed
    std::vector<std::string> updated;  ///< URIs of skills whose SKILL.md changed, came or went
    bool any() const { return lists || !updated.empty(); }
  };

  /// `dirs` lowest precedence first (skills::skill_dirs_of).
  explicit skill_catalog(std::vector<skills::skill_dir> dirs) : _dirs(std::move(dirs)) {}

  /// Looks at the skill folders again. Malformed skills are skipped, each with a line in
  /// `warnings` the first time it is seen.
  changes refresh(std::vector<std::string>& warnings);

  const std::vector<skills::skill>& skills() const { return _skills; }

  /// resources/list, resources/templates/list, resources/read (ResourceNotFound in the MCP
  /// domain for an unknown URI), prompts/list, prompts/get (InvalidParams for an unknown
  /// prompt or a `request` that is not a string), completion/complete (InvalidParams for an
  /// unknown prompt or template).
  json list_resources() const;
  json resource_templates() const;
  result<json> read_resource(const std::string& uri) const;
  json list_prompts() const;
  result<json> get_prompt(const std::string& name, const json& arguments) const;
  result<json> complete(const json& params) const;

  static constexpr std::size_t max_skill_bytes = 256 * 1024;  ///< a SKILL.md read as a resource

 private:
  /// SKILL.md's identity on disk: a change of any of these is an update.
  struct stamp {
    std::string path;
    std::int64_t mtime_ns = -1;
    std::int64_t size = -1;
    bool operator==(const stamp&) const = default;
  };
  const skills::skill* find(std::string_view name) const;

  std::vector<skills::skill_dir> _dirs;
  std::vector<skills::skill> _skills;
  std::map<std::string, stamp> _stamps;  // by skill name
  std::string _listing;                  // resources and prompts lists as last refreshed
  std::vector<std::string> _warned;      // warnings already given
};

}  // namespace weft::mcpsrv
