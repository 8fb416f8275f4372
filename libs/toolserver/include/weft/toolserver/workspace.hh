#pragma once
/// An agent's workspace as the per-agent tools see it: every path a model names is
/// resolved beneath the workspace directory by the kernel (openat2 RESOLVE_BENEATH: `..`,
/// absolute symlinks and symlinks pointing out are refused), so a tool cannot be talked
/// into touching anything else. Landlock, applied by weftd, is the second line of defence.

#include <string>
#include <string_view>

#include <weft/base/fd.hh>
#include <weft/base/result.hh>

namespace weft::tools {

class workspace {
 public:
  /// Opens (creating when missing) the workspace directory of agent `agent`.
  static result<workspace> open(const std::string& dir, const std::string& agent);

  const std::string& root() const { return _root; }  ///< canonical path
  const std::string& agent() const { return _agent; }

  /// The path relative to the workspace ("" for the workspace itself), lexically normal,
  /// or Denied when it names something outside (`verb` goes in the message: "read").
  result<std::string> relative(std::string_view path, std::string_view verb) const;

  /// Opens `path` beneath the workspace with open(2) `flags` (O_CLOEXEC added). Outside
  /// (also through symlinks) is the Tool.v1 error Denied; other failures are errc::io
  /// errors "Failed to <verb> '<path>': <reason>".
  result<unique_fd> open_beneath(std::string_view path, int flags, std::string_view verb, int mode = 0) const;

  /// The directory that will contain a path, opened for reading (so it can be synced after
  /// an entry is renamed into it), and the path's last component.
  struct parent {
    unique_fd dir;
    std::string name;
  };
  /// Opens the directory that will contain `path`, creating missing directories (each
  /// one beneath the one before, each made durable in its parent) when `create`.
  result<parent> open_parent(std::string_view path, bool create, std::string_view verb) const;

  /// "Failed to <verb> '<path>': outside the workspace of agent '<id>'" (Tool.v1 Denied).
  error denied(std::string_view path, std::string_view verb) const;

 private:
  workspace(unique_fd fd, std::string root, std::string given, std::string agent)
      : _fd(std::move(fd)), _root(std::move(root)), _given(std::move(given)), _agent(std::move(agent)) {}
  result<unique_fd> open_rel(const std::string& rel, std::string_view shown, int flags, std::string_view verb,
                             int mode) const;

  unique_fd _fd;       // O_PATH of the workspace directory
  std::string _root;   // realpath
  std::string _given;  // as configured (may differ from _root through symlinks)
  std::string _agent;
};

}  // namespace weft::tools
