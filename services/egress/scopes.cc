#include "services/egress/scopes.hh"

#include <netinet/in.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/core.h>

#include <weft/base/net_address.hh>
#include <weft/plugin/manifest.hh>
#include <weft/service/paths.hh>
#include <weft/skills/skills.hh>

namespace weft::egress {

bool scope::operator==(const scope& o) const {
  if (label != o.label || file != o.file || list->hosts != o.list->hosts) return false;
  if (list->allow_private.size() != o.list->allow_private.size()) return false;
  for (std::size_t i = 0; i < list->allow_private.size(); ++i)
    if (list->allow_private[i].text() != o.list->allow_private[i].text()) return false;
  return true;
}

result<plugin::allowlist> skill_allowlist(const std::vector<std::string>& entries, bool from_workspace,
                                          std::vector<std::string>& warnings) {
  plugin::allowlist out;
  for (auto& e : entries) {
    auto r = plugin::parse_host_rule(e);
    if (!r) return fail(errc::invalid_argument, "network entry '{}': {}", e, r.err().message);
    if (r->k == plugin::host_rule::kind::address && from_workspace) {
      sockaddr_storage ss{};
      if (r->literal.family == AF_INET) {
        auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
        v4->sin_family = AF_INET;
        std::memcpy(&v4->sin_addr, r->literal.bytes, 4);
      } else {
        auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
        v6->sin6_family = AF_INET6;
        std::memcpy(&v6->sin6_addr, r->literal.bytes, 16);
      }
      auto why = net::forbidden_reason(reinterpret_cast<const sockaddr*>(&ss));
      if (!why.empty() || plugin::metadata_address(reinterpret_cast<const sockaddr*>(&ss))) {
        warnings.push_back(fmt::format(
            "network entry '{}' names {} ({}), which a skill in the workspace may not declare: dropped", e, r->host,
            why.empty() ? "a cloud metadata address" : why));
        continue;
      }
    }
    if (std::find(out.hosts.begin(), out.hosts.end(), *r) == out.hosts.end()) out.hosts.push_back(std::move(*r));
  }
  return out;
}

std::vector<scope> scopes_of(const std::string& home, const std::string& agent, const std::string& workspace,
                             std::vector<std::string>& warnings) {
  std::vector<scope> out;
  namespace fs = std::filesystem;
  // Plugins: the admin's tree. A folder the plugin host would skip (hidden, a symlink,
  // disabled by the admin) gets no socket either.
  auto dir = service::plugins_dir(home, agent);
  std::error_code ec;
  std::vector<std::string> names;
  for (auto& e : fs::directory_iterator(dir, ec)) {
    auto n = e.path().filename().string();
    if (n.empty() || n[0] == '.' || e.is_symlink(ec) || !e.is_directory(ec)) continue;
    names.push_back(std::move(n));
  }
  std::sort(names.begin(), names.end());
  for (auto& n : names) {
    struct stat st {};
    // plugin::disabled_marker (weft/plugin/folder.hh, which would pull the engine in here).
    if (::stat((dir + "/" + n + "/DISABLED").c_str(), &st) == 0) continue;
    auto m = plugin::load_manifest(dir + "/" + n);
    if (!m) {
      warnings.push_back(fmt::format("plugin '{}' of agent '{}': {}; it gets no network", n, agent, m.err().message));
      continue;
    }
    if (m->name != n || m->permissions.network.empty()) continue;
    out.push_back({"plugin:" + n, "plugin-" + n + ".sock",
                   std::make_shared<const plugin::allowlist>(std::move(m->permissions.network))});
  }
  // Skills, in the precedence the agent sees them (a workspace skill overrides a shared one
  // of the same name, and then its own list is the one that counts).
  std::vector<std::string> skill_warnings;
  for (auto& s : skills::discover_skills(skills::skill_dirs_of(home, workspace), skill_warnings)) {
    if (s.network.empty()) continue;
    std::vector<std::string> w;
    auto list = skill_allowlist(s.network, s.origin == "workspace", w);
    for (auto& line : w) warnings.push_back(fmt::format("skill '{}' of agent '{}': {}", s.name, agent, line));
    if (!list) {
      warnings.push_back(fmt::format("skill '{}' of agent '{}': {}; its commands get no network", s.name, agent,
                                     list.err().message));
      continue;
    }
    out.push_back({"skill:" + s.name, "skill-" + s.name + ".sock", std::make_shared<const plugin::allowlist>(std::move(*list))});
  }
  return out;
}

}  // namespace weft::egress
