#pragma once
/// The file paths a tool call's arguments name, for Memory.v1 ToolCalled: the monitor's
/// sensitive-path rule needs to know what a call touched, and the arguments themselves are
/// only hashed into the record.

#include <string>
#include <string_view>
#include <vector>

namespace weft::agent {

/// At most this many paths per call, each at most max_tool_path_bytes (longer ones cut).
inline constexpr std::size_t max_tool_paths = 8;
inline constexpr std::size_t max_tool_path_bytes = 1024;

/// The string values of the top-level keys of `arguments_json` that name files (path, file,
/// dir, directory, cwd, from, to, source, destination, src, dst and any *_path / *_file /
/// *_dir), made absolute against `workspace` and normalised lexically ("a/../b" → "b"), so
/// "../../keys/x" shows where it points. Arguments that are not a JSON object: none.
std::vector<std::string> tool_paths(std::string_view arguments_json, const std::string& workspace);

}  // namespace weft::agent
