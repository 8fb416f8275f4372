#pragma once
/// The stdio servers' process groups, recorded in $WEFT_RUNTIME_DIR/tool-mcp.pids so a
/// weft-tool-mcp that was killed (SIGKILL, a crash: no chance to stop its children) has its
/// leftover servers killed by the next one at startup. Each line is "<pgid> <start time>"
/// (field 22 of /proc/<pid>/stat), so a pid the kernel gave to an unrelated process since
/// is left alone.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <weft/base/result.hh>

namespace weft::mcp_host {

struct group_record {
  pid_t pgid = -1;
  std::uint64_t start = 0;
  bool operator==(const group_record&) const = default;
};

/// Field 22 (starttime) of /proc/<pid>/stat; nullopt when there is no such process.
std::optional<std::uint64_t> process_start_time(pid_t pid);

/// Replaces the file with `groups` (weft::write_file_atomic: temporary file, fsync, rename).
status write_groups(const std::string& path, const std::vector<group_record>& groups);

/// Kills (SIGKILL) every recorded group that is still ours: its leader is alive with the
/// recorded start time, or the leader is gone (while any member of a group lives, its
/// number is not reused, so the group can only be ours). Removes the file. Returns how
/// many groups were signalled.
std::size_t kill_leftover_groups(const std::string& path);

}  // namespace weft::mcp_host
