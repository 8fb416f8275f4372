// libFuzzer target: what the agent reads of a tool call's arguments for the security monitor
// (services/agent tool_paths.cc) — JSON the model wrote: the paths, hosts and shell command
// words it names. Any bytes: no crash, and every list within its bounds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "services/agent/tool_paths.hh"

namespace ag = weft::agent;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto n = ag::names_of(in, "/home/weft/agents/main");
  if (n.paths.size() > ag::max_tool_paths || n.hosts.size() > ag::max_tool_hosts || n.commands.size() > ag::max_tool_commands)
    std::abort();
  for (auto& h : n.hosts)
    if (h.size() > ag::max_tool_host_bytes) std::abort();
  for (auto& c : n.commands)
    if (c.size() > ag::max_tool_command_bytes) std::abort();
  // The same bytes as a shell command line.
  auto words = ag::shell_commands(in);
  if (words.size() > ag::max_tool_commands) std::abort();
  return 0;
}
