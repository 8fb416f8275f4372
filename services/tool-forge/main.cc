// weft-tool-forge — pull requests on forges (GitHub, Gitea/Forgejo, GitLab) for the agents
// that list the "forge" family (docs/guides/dev-tools.md).
//
// Serves io.weft.Tool.v1 at tool/forge: pr_open, pr_list, pr_comment, pr_status. One shared
// process, and the only one that holds the forge tokens: weftd gives it the variables that
// [tools.forges.<name>] token names, and nothing else of weft's secrets; the git tools (in
// the agents' sandboxes) never see them.
#include <curl/curl.h>

#include <algorithm>

#include <fmt/ranges.h>

#include <weft/service/config.hh>
#include <weft/service/startup.hh>
#include <weft/toolserver/tool_main.hh>

#include "services/tool-forge/forge.hh"

using namespace weft;

namespace {
constexpr const char* help = R"(usage: weft-tool-forge [--help] [--version]
Pull requests on forges, served on the weft bus (io.weft.Tool.v1) at tool/forge:
  pr_open{forge, repo, head, base, title, body?}   open (GitLab: a merge request); number and URL
  pr_list{forge, repo, state?}                     open (default), closed or all
  pr_comment{forge, repo, number, body}
  pr_status{forge, repo, number}                   state, merged, mergeable
  (hidden) git_credential{url}   a forge's token for an https git remote under its git URLs
      ([tools.forges.<name>] git), given only to tool/git/<agent> of agents listing "forge"
  forge: a name of [tools.forges] in the config; repo: owner/name (GitLab: group/…/name).

Environment:
  WEFT_CONFIG   the config file ([tools.forges]); its token variables are given by weftd
  WEFT_BUS, WEFT_ADDRESS, WEFT_TOKEN_FD, WEFT_NOTIFY_FD, WEFT_LOG   set by weftd
)";
}  // namespace

int main(int argc, char** argv) {
  curl_global_init(CURL_GLOBAL_DEFAULT);  // before any thread
  tools::tool_main_options o{.program = "weft-tool-forge",
                             .log_name = "tool-forge",
                             .help = help,
                             .per_agent = false,
                             .server = {.family = "forge", .workers = 4, .max_queued = 64}};
  int rc = tools::tool_main(argc, argv, o, [](const tools::tool_setup& s) {
    std::map<std::string, tools::forge::forge> forges;
    auto cfg = service::load_service_config();
    if (!cfg) {
      s.log.error("Failed to read the forges: {}; no forge is usable", cfg.err().message);
      return tools::forge::forge_tools({});
    }
    for (auto& [name, f] : cfg->tools.forges) {
      tools::forge::forge x{name,
                            f.kind == "gitea"    ? tools::forge::kind::gitea
                            : f.kind == "gitlab" ? tools::forge::kind::gitlab
                                                 : tools::forge::kind::github,
                            f.api, f.token, std::chrono::seconds(30), f.git, f.git_user};
      if (x.token.empty()) s.log.warning("forge '{}' has no token: only public reads will work", name);
      forges.emplace(name, std::move(x));
      s.log.info("forge '{}': {} at {}", name, f.kind, f.api);
    }
    // The agents whose git tools may use the forges' tokens: those that list "forge".
    std::set<std::string> git_agents;
    for (auto& [id, a] : cfg->agents)
      if (std::find(a.tools.families.begin(), a.tools.families.end(), "forge") != a.tools.families.end()) git_agents.insert(id);
    for (auto& [name, f] : forges)
      s.log.info("forge '{}': git remotes under {}", name, fmt::join(tools::forge::git_prefixes(f), ", "));
    return tools::forge::forge_tools(std::move(forges), std::move(git_agents));
  });
  curl_global_cleanup();
  return rc;
}
