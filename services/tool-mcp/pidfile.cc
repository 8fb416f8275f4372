#include "pidfile.hh"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include <weft/base/io.hh>

namespace weft::mcp_host {

std::optional<std::uint64_t> process_start_time(pid_t pid) {
  std::ifstream f(fmt::format("/proc/{}/stat", pid));
  if (!f) return std::nullopt;
  std::string line((std::istreambuf_iterator<char>(f)), {});
  auto close = line.rfind(')');  // the command may hold spaces and parentheses
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(close + 1));
  std::string field;
  // Fields after the command start at 3 (state); starttime is 22.
  for (int i = 3; i <= 22; ++i)
    if (!(rest >> field)) return std::nullopt;
  try {
    return std::stoull(field);
  } catch (...) {
    return std::nullopt;
  }
}

status write_groups(const std::string& path, const std::vector<group_record>& groups) {
  std::string text;
  for (auto& g : groups) text += fmt::format("{} {}\n", g.pgid, g.start);
  if (auto w = write_file_atomic(path, text, 0600); !w)
    return fail(errc::io, "Failed to write '{}': {}", path, w.err().message);
  return {};
}

std::size_t kill_leftover_groups(const std::string& path) {
  std::ifstream f(path);
  std::size_t killed = 0;
  if (!f) return 0;
  long long pgid = 0;
  unsigned long long start = 0;
  while (f >> pgid >> start) {
    if (pgid <= 1) continue;
    auto now = process_start_time(static_cast<pid_t>(pgid));
    if (now && *now != start) continue;  // the number belongs to another process now
    if (::kill(-static_cast<pid_t>(pgid), SIGKILL) == 0) ++killed;
  }
  ::unlink(path.c_str());
  return killed;
}

}  // namespace weft::mcp_host
