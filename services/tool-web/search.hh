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

namespace weft::tools {

enum class search_provider : std::uint8_t { searxng = 0, brave = 1, tavily = 2, json = 3 };

/// The provider's name as the config spells it ("searxng", "brave", "tavily", "json").
std::string_view provider_name(search_provider p);

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

/// Caps of what one result may bring to the model.
struct search_caps {
  std::size_t title_bytes = 200;
  std::size_t url_bytes = 1000;
  std::size_t snippet_bytes = 400;
  std::size_t total_bytes = 16 * 1024;  ///< the whole text; later results are dropped past it
  std::size_t max_query_bytes = 400;    ///< Brave's own limit
  std::size_t max_response_bytes = 4 * 1024 * 1024;
};

struct search_hit {
  std::string title, url, snippet;
};

/// The results of a provider's 2xx body, at most `limit`, with only http(s) URLs kept and
/// HTML in titles and snippets reduced to text, each field cut to its cap. An error
/// (errc::malformed) saying what was wrong when the body is not the shape the
/// provider sends. Never throws.
result<std::vector<search_hit>> parse_results(search_provider p, std::string_view body, const std::string& results_path,
                                              std::size_t limit, const search_caps& caps = {});

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
