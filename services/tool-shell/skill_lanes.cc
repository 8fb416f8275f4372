#include "services/tool-shell/skill_lanes.hh"

#include <sys/inotify.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <future>

#include <fmt/ranges.h>

#include <weft/toolserver/tool.hh>

namespace weft::tools {

skill_lanes::skill_lanes(event_loop& loop, std::string egress_dir, std::vector<skills::skill_dir> dirs, log::logger& log)
    : _loop(loop), _egress_dir(std::move(egress_dir)), _dirs(std::move(dirs)), _log(log) {
  _inotify = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);  // without it, every call reads the skills
}

skill_lanes::~skill_lanes() {
  if (_inotify >= 0) ::close(_inotify);
}

std::vector<skills::skill> skill_lanes::current() {
  std::lock_guard lock(_skills_mu);
  if (_inotify < 0) {
    std::vector<std::string> warnings;
    return skills::discover_skills(_dirs, warnings);
  }
  // Anything that happened under a watched folder since the last read: read again.
  alignas(inotify_event) char buf[4096];
  for (;;) {
    auto n = ::read(_inotify, buf, sizeof buf);
    if (n <= 0) break;
    _fresh = false;
  }
  if (_fresh) return _skills;
  // Watch the skills folders and each skill folder in them (a SKILL.md edited in place, a
  // folder added or removed, one renamed over another), then read: an event from here on
  // marks what is read as stale, so nothing is missed between the two.
  constexpr std::uint32_t mask = IN_CREATE | IN_DELETE | IN_MODIFY | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB |
                                 IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF;
  for (auto& d : _dirs) {
    if (d.path.empty()) continue;
    ::inotify_add_watch(_inotify, d.path.c_str(), mask);
    std::error_code ec;
    for (auto& e : std::filesystem::directory_iterator(d.path, ec))
      if (e.is_directory(ec)) ::inotify_add_watch(_inotify, e.path().c_str(), mask);
  }
  std::vector<std::string> warnings;
  _skills = skills::discover_skills(_dirs, warnings);
  _fresh = true;
  return _skills;
}

namespace {

/// Whether `command` names the folder of skill `s`: its absolute path, or skills/<name>
/// (as a path under the workspace, the way a skill's instructions name its scripts).
bool names_folder(std::string_view command, const skills::skill& s) {
  auto folder = s.path.substr(0, s.path.rfind('/'));
  auto bounded = [&](std::string_view needle) {
    for (auto at = command.find(needle); at != std::string_view::npos; at = command.find(needle, at + 1)) {
      auto end = at + needle.size();
      if (end == command.size() || command[end] == '/' || command[end] == ' ' || command[end] == '"' ||
          command[end] == '\'' || command[end] == ';' || command[end] == '\n')
        return true;
    }
    return false;
  };
  return (!folder.empty() && bounded(folder)) || bounded("skills/" + s.name);
}

}  // namespace

result<std::optional<skill_lane>> skill_lanes::lane_for(std::string_view command, const std::optional<std::string>& skill) {
  auto all = current();
  const skills::skill* chosen = nullptr;
  if (skill) {
    for (auto& s : all)
      if (s.name == *skill) chosen = &s;
    if (!chosen) {
      std::vector<std::string> names;
      for (auto& s : all) names.push_back(s.name);
      return tool::make(tool::error_code::bad_arguments, "no skill '{}' (the agent's skills: {})", *skill,
                        names.empty() ? std::string("none") : fmt::format("{}", fmt::join(names, ", ")));
    }
  } else {
    std::vector<const skills::skill*> named;
    for (auto& s : all)
      if (!s.network.empty() && names_folder(command, s)) named.push_back(&s);
    if (named.size() > 1)
      return tool::make(tool::error_code::bad_arguments,
                        "the command names the folders of skills '{}' and '{}', which have network lists; run each "
                        "skill's commands on their own (or name one with 'skill')",
                        named[0]->name, named[1]->name);
    if (!named.empty()) chosen = named.front();
  }
  if (!chosen || chosen->network.empty() || _egress_dir.empty()) return std::optional<skill_lane>();
  auto l = open(chosen->name);
  if (!l) return l.take_error();
  return std::optional<skill_lane>(std::move(*l));
}

result<skill_lane> skill_lanes::open(const std::string& name) {
  std::lock_guard lock(_mu);
  if (auto it = _open.find(name); it != _open.end()) return it->second.lane;
  if (_open.size() >= max_lanes)
    return tool::make(tool::error_code::failed, "Failed to run a command for skill '{}': more than {} skills with network lists", name, max_lanes);
  auto port = static_cast<std::uint16_t>(first_port + _open.size());
  auto rules = sandbox::tcp_ports::prepare({port});
  if (!rules)
    return tool::make(tool::error_code::failed,
                      "Failed to run a command for skill '{}': its network list cannot be enforced here ({}); the "
                      "command was not run",
                      name, rules.err().message);
  // The relay lives on the loop's thread; this is a worker. The promise is shared: should
  // the loop be gone, this gives up waiting and the task, if it ever runs, still has it.
  auto made = std::make_shared<std::promise<result<std::unique_ptr<egress_relay>>>>();
  auto done = made->get_future();
  auto socket = _egress_dir + "/skill-" + name + ".sock";
  _loop.post([made, socket, port, &loop = _loop] {
    made->set_value(egress_relay::start(loop, socket, {.port = port, .what = "the egress proxy (this skill's network list)"}));
  });
  if (done.wait_for(std::chrono::seconds(10)) != std::future_status::ready)
    return tool::make(tool::error_code::failed, "Failed to run a command for skill '{}': the shell tool is stopping", name);
  auto relay = done.get();
  if (!relay)
    return tool::make(tool::error_code::failed, "Failed to run a command for skill '{}': {}", name, relay.err().message);
  open_lane o;
  o.lane.skill = name;
  o.lane.env = proxy_environment((*relay)->url());
  o.lane.rules = std::make_shared<const sandbox::tcp_ports>(std::move(*rules));
  o.relay = std::move(*relay);
  _log.info("skill '{}': its commands go out through {} to '{}' (only its network list), TCP to that port only",
            name, o.relay->url(), socket);
  auto lane = o.lane;
  _open.emplace(name, std::move(o));
  return lane;
}

}  // namespace weft::tools
