#include <weft/ipc/address.hh>

#include <fmt/core.h>

namespace weft::ipc::addr {

std::string agent(std::string_view id) { return fmt::format("agent/{}", id); }
std::string agent_mcp(std::string_view id) { return fmt::format("agent/{}/mcp", id); }
std::string tool(std::string_view family) { return fmt::format("tool/{}", family); }
std::string tool(std::string_view family, std::string_view agent) { return fmt::format("tool/{}/{}", family, agent); }
std::string tool_method(std::string_view process, std::string_view tool) {
  return fmt::format("{}/{}", process, tool);
}
std::string channel(std::string_view name) { return fmt::format("chan/{}", name); }
std::string ctl(std::uint64_t pid) { return fmt::format("ctl/{}", pid); }

std::string_view last_segment(std::string_view address) {
  auto slash = address.rfind('/');
  return slash == std::string_view::npos ? address : address.substr(slash + 1);
}

bool beneath(std::string_view address, std::string_view prefix) {
  if (address.size() < prefix.size() || address.compare(0, prefix.size(), prefix) != 0) return false;
  return address.size() == prefix.size() || address[prefix.size()] == '/';
}

}  // namespace weft::ipc::addr
