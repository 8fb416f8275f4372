#pragma once
/// What a tool call's arguments name, for Memory.v1 ToolCalled: the file paths, the hosts
/// and the shell command words. The monitor's sensitive_path, new_host and exec_after_fetch
/// rules need to know what a call touched, and the arguments themselves are only hashed
/// into the record.

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

/// At most this many hosts per call, each at most max_tool_host_bytes (longer ones cut: no
/// DNS name is longer, so the cut one is still seen as new).
inline constexpr std::size_t max_tool_hosts = 4;
inline constexpr std::size_t max_tool_host_bytes = 253;
/// At most this many distinct command words per shell command, each at most
/// max_tool_command_bytes (longer ones cut).
inline constexpr std::size_t max_tool_commands = 8;
inline constexpr std::size_t max_tool_command_bytes = 64;

/// What a call names, from one parse of its arguments.
struct tool_names {
  std::vector<std::string> paths, hosts, commands;
};
/// tool_paths, tool_hosts and shell_commands (of the top-level "command" string) at once:
/// the arguments are parsed once per call, on the turn path.
tool_names names_of(std::string_view arguments_json, const std::string& workspace);

/// The hosts of the URLs in the top-level url, urls (a list) and *_url keys of
/// `arguments_json` ("scheme://[user@]host[:port]/…"), lower-cased, without the trailing
/// dot, IPv6 literals without brackets, duplicates once. Not a URL: nothing.
std::vector<std::string> tool_hosts(std::string_view arguments_json);

/// The command words of a shell command line: the first word of the line and of each part
/// after |, ;, &, a newline, ( or a backquote (outside quotes), skipping VAR=value
/// assignments and wrappers (sudo, doas, env, exec, nohup, time, nice, command, builtin,
/// xargs), quotes removed, directories cut ("/usr/bin/python3" → "python3"). A heuristic for
/// the monitor, not a shell parser: "curl -s u | sh" → {curl, sh}.
std::vector<std::string> shell_commands(std::string_view command);

}  // namespace weft::agent
