#pragma once
/// The llm service's runtime routing policy (requirement H2.5): per-agent tier overrides
/// set with `weftctl llm policy set`, which must survive restarts. Kept in
/// $WEFT_HOME/llm/policy.json, written atomically (temp file, fsync, rename, fsync of the
/// directory) before a change is acknowledged, and loaded at start.
///
/// Loading never fails the service: a missing file is an empty policy; an unreadable or
/// corrupt file is reported (warnings()) and ignored, and kept as policy.json.corrupt when
/// the policy is next written; an override naming a tier that is no longer configured is
/// reported, kept in the file (it applies again once the tier is back) and not applied.
///
/// File format (version 1):
///   {"version": 1, "overrides": {"<agent>": {"tier": "fast", "disabled_tiers": ["big"],
///    "set_by": "ctl/4242", "set_at": "2026-11-24T07:20:31.123Z"}}}

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include <weft/base/result.hh>
#include <weft/base/time.hh>
#include <weft/service/config.hh>

#include "proto/llm_v1.hh"

namespace weft::llm {

namespace lv = weft::proto::llm_v1;

/// A larger policy file is refused as corrupt (a policy holds one small entry per agent).
inline constexpr std::size_t max_policy_file_bytes = 1u << 20;
/// At most this many agents have an override.
inline constexpr std::size_t max_policy_overrides = 4096;

class runtime_policy {
 public:
  /// `path` empty: kept in memory only (tests, no home directory).
  explicit runtime_policy(std::string path);

  /// Reads the file and checks it against `cfg`. Problems go to warnings() (each names the
  /// file); never an error.
  void load(const service::config& cfg);

  /// The override applied to `agent`'s requests, checked against the config (unknown tiers
  /// removed); nullptr when there is none or nothing of it applies.
  const lv::tier_override* applied(const std::string& agent) const;

  /// Sets or clears (req.clear) one agent's override and writes the file. Refused unchanged:
  /// BadRequest (unknown agent or tier, nothing to set, too many overrides), Storage (the
  /// write failed; the old file and the old policy stay).
  status set(const lv::set_policy& req, const std::string& set_by, utc_time now, const service::config& cfg);

  /// Everything, as answered to GetPolicy: every stored override (with its problem, if any).
  lv::policy to_proto() const;

  const std::vector<std::string>& warnings() const { return _warnings; }
  const std::string& path() const { return _path; }

 private:
  void recheck(const service::config& cfg);
  status save(const std::map<std::string, lv::tier_override>& all);

  std::string _path;
  std::map<std::string, lv::tier_override> _stored;   // as in the file, by agent
  std::map<std::string, lv::tier_override> _applied;  // checked against the config
  std::vector<std::string> _warnings;                 // from load and the last check
  bool _keep_corrupt = false;                         // move the bad file aside before writing
};

}  // namespace weft::llm
