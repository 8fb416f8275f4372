#include <weft/plugin/profile.hh>

#include <algorithm>
#include <array>
#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace weft::plugin {

namespace fs = std::filesystem;

namespace {

/// What weft keeps in a workspace (docs/agents.md) and plugins: a plugin writing there
/// could rewrite the agent's identity, its conversations, memory, skills or other plugins.
constexpr std::array<std::string_view, 9> protected_entries = {
    "SOUL.md", "IDENTITY.md", "AGENTS.md", "USER.md", ".clawft", "sessions", "memory", "skills", "plugins"};

bool beneath(const fs::path& root, const fs::path& p) {
  auto [r, q] = std::mismatch(root.begin(), root.end(), p.begin(), p.end());
  return r == root.end();
}

std::string join_names(const std::vector<host_function>& fs) {
  std::vector<std::string_view> names;
  for (auto f : fs) names.push_back(name_of(f));
  return names.empty() ? std::string("none") : fmt::format("{}", fmt::join(names, ", "));
}

std::string mib(std::uint64_t bytes) { return fmt::format("{} MiB", bytes >> 20); }

}  // namespace

bool profile::grants(host_function f) const { return std::find(granted.begin(), granted.end(), f) != granted.end(); }

result<profile> derive_profile(const manifest& m, const agent_policy& policy) {
  if (policy.workspace.empty() || policy.workspace.front() != '/')
    return fail(errc::invalid_argument, "Failed to derive the profile of plugin '{}': the workspace '{}' is not an absolute path",
                m.name, policy.workspace);
  profile p;
  p.plugin = m.name;
  p.version = m.version;
  p.agent = policy.agent;
  p.limits = m.permissions.limits;
  p.env = m.permissions.env;
  p.unsupported = m.unsupported();

  std::error_code ec;
  fs::path ws = fs::weakly_canonical(policy.workspace, ec);
  if (ec) ws = fs::path(policy.workspace).lexically_normal();

  // Each declared path: beneath the workspace by its real path (a symlink inside may not
  // lead out), and writes never over what weft keeps there.
  auto checked = [&](const std::vector<std::string>& paths, bool write) {
    std::vector<std::string> out;
    for (auto& rel : paths) {
      auto what = fmt::format("files.{} '{}'", write ? "write" : "read", rel);
      auto first = rel.substr(0, rel.find('/'));
      if (write && (rel == "." || std::find(protected_entries.begin(), protected_entries.end(), first) != protected_entries.end())) {
        p.refused.push_back({what, fmt::format("it covers '{}', which weft keeps in the workspace ({}): a plugin may not rewrite the agent",
                                               rel == "." ? std::string("everything") : std::string(first),
                                               fmt::join(protected_entries, ", "))});
        continue;
      }
      std::error_code e;
      fs::path real = fs::weakly_canonical(ws / rel, e);
      if (e) {
        p.refused.push_back({what, fmt::format("its real path cannot be found: {}", e.message())});
        continue;
      }
      if (!beneath(ws, real)) {
        p.refused.push_back({what, fmt::format("it leads out of the workspace (to '{}')", real.string())});
        continue;
      }
      // Two names of one place (a symlink within the workspace) are one rule.
      if (std::find(out.begin(), out.end(), real.string()) == out.end()) out.push_back(real.string());
    }
    return out;
  };
  auto read_paths = checked(m.permissions.files_read, /*write=*/false);
  auto write_paths = checked(m.permissions.files_write, /*write=*/true);

  auto admin_grants = [&](host_function f) {
    return std::find(policy.host_functions.begin(), policy.host_functions.end(), f) != policy.host_functions.end();
  };
  for (auto f : m.permissions.host_functions) {
    auto name = std::string(name_of(f));
    if (!admin_grants(f)) {
      p.refused.push_back({name, fmt::format("the admin does not grant it to the plugins of agent '{}'", policy.agent)});
      continue;
    }
    if (f == host_function::file_read && read_paths.empty() && write_paths.empty()) {
      p.refused.push_back({name, "no files.read or files.write path is left to read"});
      continue;
    }
    if (f == host_function::file_write && write_paths.empty()) {
      p.refused.push_back({name, "no files.write path is left to write"});
      continue;
    }
    if (f == host_function::http_fetch) {
      if (m.permissions.network.empty()) {
        p.refused.push_back({name, "the manifest lists no network hosts"});
        continue;
      }
      if (!policy.network) {
        p.refused.push_back({name, fmt::format("the tool policy of agent '{}' allows no network", policy.agent)});
        continue;
      }
    }
    p.granted.push_back(f);
  }

  auto& s = p.sandbox;
  s.enabled = true;
  if (p.grants(host_function::file_read)) s.read_only = read_paths;
  else
    for (auto& rel : m.permissions.files_read) p.refused.push_back({fmt::format("files.read '{}'", rel), "file_read is not granted"});
  if (p.grants(host_function::file_write)) s.read_write = write_paths;
  else
    for (auto& rel : m.permissions.files_write) p.refused.push_back({fmt::format("files.write '{}'", rel), "file_write is not granted"});
  // Paths written are read too: a path in both lists is one read-write rule.
  std::erase_if(s.read_only, [&](const std::string& r) { return std::find(s.read_write.begin(), s.read_write.end(), r) != s.read_write.end(); });
  // No socket of its own, ever: every request goes through weft's egress path over the bus.
  s.deny_network = true;
  s.own_network = true;
  s.max_address_space = (std::uint64_t{p.limits.memory_mib} + address_space_headroom_mib) << 20;
  s.max_open_files = plugin_open_files;
  p.cpu_seconds_per_call = (p.limits.time_ms + 999) / 1000 + 1;
  p.no_core = true;
  p.seccomp_profile = "tool+deny_network";
  if (p.grants(host_function::http_fetch)) p.network = m.permissions.network;
  else if (!m.permissions.network.empty())
    p.refused.push_back({"network", "http_fetch is not granted, so no host is reachable"});
  return p;
}

std::string explain(const profile& p) {
  std::string out;
  auto line = [&](std::string_view label, std::string_view text) { out += fmt::format("{:<15} {}\n", label, text); };
  line("plugin", fmt::format("{} {} for agent '{}'", p.plugin, p.version, p.agent));
  if (!p.unsupported.empty()) {
    std::vector<std::string_view> names;
    for (auto c : p.unsupported) names.push_back(name_of(c));
    line("capabilities", fmt::format("not supported by this build: {}", fmt::join(names, ", ")));
  }
  line("host functions", join_names(p.granted));
  auto& s = p.sandbox;
  if (s.read_only.empty() && s.read_write.empty()) line("files", "none (Landlock: no path of the workspace)");
  for (auto& r : s.read_only) line("files", fmt::format("read        {}", r));
  for (auto& r : s.read_write) line("files", fmt::format("read, write {}", r));
  line("sockets", "none but AF_UNIX (seccomp), in a network namespace of its own where the system allows one");
  if (p.network.empty()) line("network", "none");
  for (auto& h : p.network.hosts) line("network", fmt::format("{} through weft's egress path", h.text()));
  for (auto& b : p.network.allow_private) line("network", fmt::format("private block {} declared", b.text()));
  line("rlimits", fmt::format("AS {} ({} MiB memory + {} MiB headroom), CPU {} s per call, CORE {}, NOFILE {}",
                              mib(s.max_address_space), p.limits.memory_mib, address_space_headroom_mib, p.cpu_seconds_per_call,
                              p.no_core ? "0" : "unchanged", s.max_open_files));
  line("seccomp", p.seccomp_profile);
  line("limits", fmt::format("memory {} MiB, {} ms and {} instructions per call, results up to {} bytes", p.limits.memory_mib,
                             p.limits.time_ms, p.limits.instructions, p.limits.result_bytes));
  if (!p.env.empty()) {
    std::vector<std::string_view> names;
    for (auto& [k, v] : p.env) names.push_back(k);
    line("environment", fmt::format("{} (from the manifest only)", fmt::join(names, ", ")));
  }
  for (auto& r : p.refused) line("refused", fmt::format("{}: {}", r.what, r.why));
  return out;
}

}  // namespace weft::plugin
