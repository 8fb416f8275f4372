// weft-tool-git — git in one agent's workspace, on libgit2 (docs/tools.md).
//
// Serves io.weft.Tool.v1 at $WEFT_ADDRESS (tool/git/<agent>): git_status, git_log, git_diff,
// git_show, git_blame, git_branch, git_add, git_commit, each on a repository inside the
// workspace. Started per agent by weftd with the tool sandbox (Landlock to the workspace,
// seccomp, rlimits, its own network and PID namespaces) when the agent's families list "git".
#include <cstdlib>

#include <weft/toolserver/tool_main.hh>

#include "services/tool-git/git_tools.hh"

using namespace weft;

namespace {
constexpr const char* help = R"(usage: weft-tool-git [--help] [--version]
git in one agent's workspace, served on the weft bus (io.weft.Tool.v1), on libgit2:
  git_status{repo?}                         branch, staged, unstaged and untracked files
  git_log{repo?, rev?, max_count?, author?, grep?, path?}   commits, newest first (at most 200)
  git_diff{repo?, from?, to?, cached?, path?}  a patch with stats (at most 256 KiB shown)
  git_show{repo?, rev?}                     a commit and its patch
  git_blame{repo?, path, rev?}              the commit and author of each line
  git_branch{repo?, action?, name?, from?}  list, create, switch, delete
  git_add{repo?, paths}                     stage
  git_commit{repo?, message, signoff?}      commit what is staged
  repo: a directory of the workspace (default: the workspace); never one outside it.
  Commits are authored by WEFT_GIT_AUTHOR ("Name <email>") when set, else the repository's
  user.name and user.email.

Environment:
  WEFT_WORKSPACE   the agent's workspace directory (required)
  WEFT_AGENT       agent id (default: last segment of WEFT_ADDRESS)
  WEFT_GIT_AUTHOR  commit author, "Name <email>"
  An http(s) remote that asks for credentials gets a forge's token for that call from
  tool-forge ([tools.forges.<name>] git), if the agent lists the forge family; with
  network = "public" remotes are reached through the egress proxy.
  WEFT_BUS, WEFT_ADDRESS, WEFT_TOKEN_FD, WEFT_NOTIFY_FD, WEFT_LOG   set by weftd
)";
}  // namespace

int main(int argc, char** argv) {
  tools::git::init();  // before any thread
  tools::tool_main_options o{.program = "weft-tool-git",
                             .log_name = "tool-git",
                             .help = help,
                             .per_agent = true,
                             .unsandboxed_note = "git can reach anything this user can",
                             .server = {.family = "git", .workers = 4, .max_queued = 64}};
  return tools::tool_main(argc, argv, o, [](const tools::tool_setup& s) {
    tools::git::git_limits lim;
    if (const char* a = std::getenv("WEFT_GIT_AUTHOR"); a && *a) {
      std::string author = a;
      auto lt = author.find('<'), gt = author.find('>');
      if (lt != std::string::npos && gt != std::string::npos && gt > lt) {
        lim.author_email = author.substr(lt + 1, gt - lt - 1);
        lim.author_name = author.substr(0, lt);
        while (!lim.author_name.empty() && lim.author_name.back() == ' ') lim.author_name.pop_back();
      } else {
        s.log.warning("WEFT_GIT_AUTHOR '{}' is not 'Name <email>', ignoring", author);
      }
    }
    // Credentials per call, from the one process that holds the forges' tokens; never kept.
    auto& rt = s.rt;
    lim.credentials = [&rt](const std::string& url) -> result<tools::git::git_limits::credential> {
      namespace tool = proto::tool_v1;
      tool::call c{"git_credential", tools::json{{"url", url}}.dump(), "git-credential", 0};
      auto r = rt.call_and_wait("tool/forge/git_credential", c, {.timeout = std::chrono::seconds(15)});
      if (!r) {
        if (r.err().code == "NoSuchAddress")
          return fail(errc::unavailable, "no forge tokens are configured ([tools.forges], and the forge family for this agent)");
        return fail(errc::unavailable, "tool-forge did not give them: {}", r.err().message);
      }
      auto res = r->as<tool::result>();
      if (!res) return fail(errc::unavailable, "tool-forge's answer: {}", res.err().message);
      if (res->is_error) return fail(errc::unavailable, "{}", res->content);
      auto j = tools::json::parse(res->structured, nullptr, false);
      if (!j.is_object() || !j["username"].is_string() || !j["password"].is_string())
        return fail(errc::unavailable, "tool-forge's answer has no user name and token");
      return tools::git::git_limits::credential{j["username"].get<std::string>(), j["password"].get<std::string>()};
    };
    lim.proxy = tools::egress_proxy_url();
    return tools::git::git_tools(*s.ws, lim);
  });
}
