#pragma once
/// Pull requests on forges through their REST APIs — GitHub, Gitea/Forgejo and GitLab (merge
/// requests) — for the shared forge tool process, the only process that holds the forge
/// tokens ([tools.forges.<name>] token). Blocking libcurl calls, made on the tool server's
/// workers. Results carry the pull request's number and URL.

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <weft/toolserver/tool.hh>

namespace weft::tools::forge {

enum class kind { github, gitea, gitlab };

struct forge {
  std::string name;
  kind k = kind::github;
  std::string api;    ///< https://api.github.com, https://git.example/api/v1, https://gitlab.com/api/v4
  std::string token;  ///< sent as the API wants it; never in a result or a log line
  std::chrono::seconds timeout{30};
  std::vector<std::string> git;  ///< URL prefixes of git remotes the token serves (git_prefixes())
  std::string git_user;          ///< sent with the token to those remotes
};

/// The git URL prefixes of `f`: its configured ones, else derived from its API's address.
std::vector<std::string> git_prefixes(const forge& f);

/// The hidden tool git_credential{url}: the user name and token for an http(s) git remote
/// that a forge covers, given only to a git tool process (`caller` tool/git/<agent>) of an
/// agent in `agents` (those that list the forge family). Denied for anyone else.
result<tool::result> git_credential(const std::map<std::string, forge>& forges, const std::set<std::string>& agents,
                                    const json& args, const std::string& caller);

/// pr_open{forge, repo, head, base, title, body?}, pr_list{forge, repo, state?},
/// pr_comment{forge, repo, number, body}, pr_status{forge, repo, number}.
result<tool::result> pr_open(const std::map<std::string, forge>& forges, const json& args);
result<tool::result> pr_list(const std::map<std::string, forge>& forges, const json& args);
result<tool::result> pr_comment(const std::map<std::string, forge>& forges, const json& args);
result<tool::result> pr_status(const std::map<std::string, forge>& forges, const json& args);

std::vector<tool_def> forge_tools(std::map<std::string, forge> forges, std::set<std::string> git_agents = {});

}  // namespace weft::tools::forge
