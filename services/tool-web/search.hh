#pragma once
/// web_search: a query to one configured search provider — a SearXNG instance, Brave
/// Search's API, Tavily, or a generic JSON endpoint — answered as a short list of title,
/// URL and snippet. The provider's key stays in tool-web (weftd gives the variable that
/// [tools.web_search] api_key names to tool-web alone); the model sees only results, and
/// follows one up with web_fetch, under web_fetch's address rules.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <weft/toolserver/tool.hh>

#include "fetch.hh"
#include "request.hh"
#include "search_results.hh"

namespace weft::tools {

/// What tool-web's main reads from [tools.web_search].
struct search_settings {
  search_provider provider = search_provider::searxng;
  /// searxng: the instance's root; brave, tavily: the API's root (tests point it at a fake);
  /// json: a URL template with {query} (and optionally {count}), URL-encoded when filled in.
  std::string base_url;
  std::string api_key;                    ///< brave: X-Subscription-Token; others: Bearer; "": none
  std::string results_path = "/results";  ///< json: JSON pointer to the array of results
  unsigned max_results = 5;               ///< the cap, and the count when a call names none
  std::chrono::milliseconds timeout{10000};
  bool allow_private = false;  ///< the provider may be at a loopback or private address
};

/// The request for `query` and `count` results: URL, method, headers, body.
web_request search_request(const search_settings& s, const std::string& query, unsigned count);

/// web_search{query, count?}. Blocks the calling (worker) thread. Bad input is
/// BadArguments naming the field; a provider that refuses or answers garbage is Failed, one
/// that does not answer in time Timeout, a private provider address Denied — each message
/// "Failed to search with '<provider>': …" saying what to check.
result<tool::result> web_search(const json& args, const call_context& ctx, const search_settings& s,
                                const web_limits& lim = {}, const search_caps& caps = {});

/// The web_search tool, for web_tools' list.
tool_def web_search_tool(search_settings s, web_limits lim);

}  // namespace weft::tools
