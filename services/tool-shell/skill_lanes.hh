#pragma once
/// A skill's network list, applied to the shell commands run for it. A skill whose SKILL.md
/// has `network:` entries gets a lane: a relay of its own in the shell tool's network
/// namespace (127.0.0.1:3140, 3141, … in order of first use) joined to its socket at the
/// egress ($WEFT_RUNTIME_DIR/egress/<agent>/skill-<name>.sock), where only that list can be
/// reached; the command gets the proxy variables for that relay, and Landlock network rules
/// (sandbox::tcp_ports) that let it connect over TCP only to that port — not to the agent's
/// own relay (3128), nor another skill's.
///
/// Which skill a command runs for: the exec call's `skill` argument, or else the skill
/// whose folder the command names (its absolute path, or `skills/<name>/` under the
/// workspace). A command naming the folders of two skills with lists is refused. A skill
/// without a list puts nothing on its commands: the agent's own policy applies. Where the
/// kernel has no Landlock network rules a skill's list cannot be enforced, and its commands
/// are refused with that reason rather than run with the agent's wider network.

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <weft/base/event_loop.hh>
#include <weft/base/log.hh>
#include <weft/base/result.hh>
#include <weft/sandbox/sandbox.hh>
#include <weft/skills/skills.hh>
#include <weft/toolserver/egress_relay.hh>

namespace weft::tools {

struct skill_lane {
  std::string skill;
  std::vector<std::string> env;                      ///< the proxy variables for its relay
  std::shared_ptr<const sandbox::tcp_ports> rules;   ///< TCP connect to its relay's port only
};

class skill_lanes {
 public:
  static constexpr std::uint16_t first_port = 3140;
  static constexpr std::size_t max_lanes = 64;

  /// `egress_dir`: $WEFT_RUNTIME_DIR/egress/<agent>; empty when the agent has no network
  /// (then no command reaches anything and a list needs no lane). `dirs`: where the agent's
  /// skills are (skills::skill_dirs_of). Relays are made on `loop`'s thread.
  skill_lanes(event_loop& loop, std::string egress_dir, std::vector<skills::skill_dir> dirs, log::logger& log);
  ~skill_lanes();
  skill_lanes(const skill_lanes&) = delete;
  skill_lanes& operator=(const skill_lanes&) = delete;

  /// The lane of the skill `command` runs for, nullopt when none with a list. Errors
  /// (tool errors the model can act on): an unknown `skill`, a command naming two skills
  /// with lists, a list that cannot be enforced here. Called from worker threads.
  result<std::optional<skill_lane>> lane_for(std::string_view command, const std::optional<std::string>& skill);

 private:
  struct open_lane {
    skill_lane lane;
    std::unique_ptr<egress_relay> relay;
  };
  result<skill_lane> open(const std::string& name);
  /// The agent's skills, read again only when inotify saw a change under a skills folder
  /// (or could not watch): reading every SKILL.md costs ~5 µs a skill, at every exec.
  std::vector<skills::skill> current();

  event_loop& _loop;
  std::string _egress_dir;
  std::vector<skills::skill_dir> _dirs;
  log::logger& _log;
  std::mutex _mu;
  std::map<std::string, open_lane> _open;
  std::mutex _skills_mu;
  int _inotify = -1;
  bool _fresh = false;  // _skills is what is on disk (no event since it was read)
  std::vector<skills::skill> _skills;
};

}  // namespace weft::tools
