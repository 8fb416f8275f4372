#pragma once
/// The git tool family over one agent's workspace, on libgit2: repositories inside the
/// workspace only (a `repo` path is resolved beneath it, and discovery never climbs above
/// it). Plain functions over a workspace, tested against the git CLI on real repositories.
///
/// Tools: git_status, git_log, git_diff, git_show, git_blame, git_branch, git_add, git_commit,
/// git_tag, git_clone, git_fetch, git_pull, git_push. git_log pages with skip.
/// Each result is text for the model (capped, saying what was cut) plus the same facts as
/// JSON in Result.structured. Errors are typed: Denied (outside the workspace), BadArguments
/// (a revision or path that does not exist, an unknown action), Failed (libgit2's message).

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include <weft/toolserver/tool.hh>
#include <weft/toolserver/workspace.hh>

namespace weft::tools::git {

struct git_limits {
  std::size_t max_output_bytes = 256 * 1024;  ///< diff/show/blame text beyond this is cut with a note
  std::size_t max_log = 200;                  ///< git_log max_count cap
  std::size_t max_status_entries = 2000;
  std::size_t max_diff_file_bytes = 16 * 1024 * 1024;  ///< larger files are compared as binary
  std::string author_name, author_email;      ///< commit author when set; else the repository's config
  /// Where credentials for an http(s) remote come from, per call, when it asks for them
  /// (weft-tool-git: tool-forge over the bus); unset: none, and the remote's request is
  /// refused with the reason. Never kept: each fetch or push asks again.
  struct credential {
    std::string username, password;
  };
  std::function<result<credential>(const std::string& url)> credentials;
  std::string proxy;  ///< http(s) remotes through this proxy (the egress relay); "": direct
};

/// libgit2 once per process (before threads).
void init();

result<tool::result> status(const workspace& ws, const json& args, const git_limits& lim = {});
result<tool::result> log(const workspace& ws, const json& args, const git_limits& lim = {});
result<tool::result> diff(const workspace& ws, const json& args, const git_limits& lim = {});
result<tool::result> show(const workspace& ws, const json& args, const git_limits& lim = {});
result<tool::result> blame(const workspace& ws, const json& args, const git_limits& lim = {});
result<tool::result> branch(const workspace& ws, const json& args, const git_limits& lim = {});
result<tool::result> add(const workspace& ws, const json& args, const git_limits& lim = {});
/// list, create (lightweight; annotated with `message`), delete.
result<tool::result> tag(const workspace& ws, const json& args, const git_limits& lim = {});
result<tool::result> commit(const workspace& ws, const json& args, const git_limits& lim = {});
/// Remotes: repositories in the workspace (a path or file://) or network URLs; an http(s)
/// remote that asks for credentials gets them from `lim.credentials` for that call.
result<tool::result> clone(const workspace& ws, const json& args, const git_limits& lim = {});
result<tool::result> fetch(const workspace& ws, const json& args, const git_limits& lim = {});
/// Fetch, then fast-forward only (diverged branches are refused with the reason).
result<tool::result> pull(const workspace& ws, const json& args, const git_limits& lim = {});
result<tool::result> push(const workspace& ws, const json& args, const git_limits& lim = {});

/// The tools with their JSON Schemas, bound to `ws`.
std::vector<tool_def> git_tools(const workspace& ws, git_limits lim = {});

}  // namespace weft::tools::git
