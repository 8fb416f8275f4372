// libFuzzer target: the plugin manifest reader (libs/plugin). A plugin.toml comes with a
// plugin from anywhere: reading it must never crash, hang or throw, only refuse it with
// file:line:column; what is accepted must hold what the schema promises, and its network
// entries must check and write back consistently. The bytes are also a URL for allowed().
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <weft/plugin/manifest.hh>
#include <weft/plugin/profile.hh>

namespace {

/// Whether `p` has a ".." component.
bool leads_up(std::string_view p) {
  for (std::size_t start = 0;;) {
    auto slash = p.find('/', start);
    if (p.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start) == "..") return true;
    if (slash == std::string_view::npos) return false;
    start = slash + 1;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  // The same bytes as a URL a plugin hands http_fetch, against a list of each kind of entry.
  static const weft::plugin::allowlist list = [] {
    weft::plugin::allowlist l;
    for (auto h : {"api.example.com", "*.example.org:8443", "10.1.2.3:80", "[fd00::1]:443", "xn--bcher-kva.example"})
      l.hosts.push_back(*weft::plugin::parse_host_rule(h));
    l.allow_private.push_back(*weft::net::parse_prefix("10.20.0.0/16"));
    return l;
  }();
  auto v = weft::plugin::allowed(list, text, 0, {});
  if (!v.allowed && v.reason.empty()) std::abort();  // a refusal always says why
  auto m = weft::plugin::parse_manifest(text, "fuzz.toml");
  if (!m) {
    // A refusal always says where: every line starts with the source name.
    if (m.err().message.rfind("fuzz.toml:", 0) != 0) std::abort();
    return 0;
  }
  if (m->name.empty() || m->version.empty() || m->entry.empty() || m->capabilities.empty()) std::abort();
  if (m->entry.front() == '/' || leads_up(m->entry)) std::abort();
  for (auto* paths : {&m->permissions.files_read, &m->permissions.files_write})
    for (auto& p : *paths)
      if (p.empty() || p.front() == '/' || leads_up(p)) std::abort();
  auto& lim = m->permissions.limits;
  using b = weft::plugin::limit_bounds;
  if (lim.memory_mib < b::min_memory_mib || lim.memory_mib > b::max_memory_mib || lim.time_ms > b::max_time_ms ||
      lim.result_bytes > b::max_result_bytes)
    std::abort();
  // Every entry written back reads as itself.
  for (auto& h : m->permissions.network.hosts) {
    auto again = weft::plugin::parse_host_rule(h.text());
    if (!again || !(*again == h)) std::abort();
  }
  // The profile of anything accepted derives (the workspace need not exist).
  auto p = weft::plugin::derive_profile(*m, {"fuzz", "/nonexistent/weft-fuzz/ws", true, m->permissions.host_functions});
  if (!p) std::abort();
  (void)weft::plugin::explain(*p);
  return 0;
}
