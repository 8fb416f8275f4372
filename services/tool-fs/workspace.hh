#pragma once
/// An agent's workspace as the per-agent tools see it: every path a model names is
/// resolved beneath the workspace directory by the kernel (openat2 RESOLVE_BENEATH: `..`,
/// absolute symlinks and symlinks pointing out are refused), so a tool cannot be talked
/// into touching anything else. Landlock, applied by weftd, is the second line of defence.

#include <string>
#include <string_view>

#include <weft/base/result.hh>

namespace weft::tools {

class workspace {
 public:
  /// Opens (creating when missing) the workspace directory of agent `agent`.
  static result<workspace> open(const std::string& dir, const std::string& agent);

  workspace(workspace&& o) noexcept;
  workspace& operator=(workspace&& o) = delete;
  workspace(const workspace&) = delete;
  ~workspace();

  const std::string& root() const { return _root; }  ///< canonical path
  const std::string& agent() const { return _agent; }

  /// The path relative to the workspace ("" for the workspace itself), lexically normal,
  /// or Denied when it names something outside (`verb` goes in the message: "read").
  result<std::string> relative(std::string_view path, std::string_view verb) const;

  /// Opens `path` beneath the workspace with open(2) `flags` (O_CLOEXEC added). Outside
  /// (also through symlinks) is the Tool.v1 error Denied; other failures are errc::io
  /// errors "Failed to <verb> '<path>': <reason>".
  result<int> open_beneath(std::string_view path, int flags, std::string_view verb, int mode = 0) const;

  /// Opens the directory that will contain `path` (creating missing directories when
  /// `create`), returning its fd and the last component.
  result<std::pair<int, std::string>> open_parent(std::string_view path, bool create, std::string_view verb) const;

  /// "Failed to <verb> '<path>': outside the workspace of agent '<id>'" (Tool.v1 Denied).
  error denied(std::string_view path, std::string_view verb) const;

 private:
  workspace(int fd, std::string root, std::string given, std::string agent)
      : _fd(fd), _root(std::move(root)), _given(std::move(given)), _agent(std::move(agent)) {}
  result<int> open_rel(const std::string& rel, std::string_view shown, int flags, std::string_view verb, int mode) const;

  int _fd = -1;
  std::string _root;   // realpath
  std::string _given;  // as configured (may differ from _root through symlinks)
  std::string _agent;
};

/// Writes `content` to `name` in directory `dir_fd` atomically: a temporary file in the
/// same directory, fsync, rename over the target. `mode` applies to a new file.
status write_atomic(int dir_fd, const std::string& name, std::string_view content, int mode, std::string_view shown);

}  // namespace weft::tools
