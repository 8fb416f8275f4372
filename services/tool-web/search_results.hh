#pragma once
/// Reading the answers of web search providers (SearXNG, Brave, Tavily, a generic JSON
/// endpoint) into results, each field cut to a cap: outside input, so this never throws, and
/// it depends on nothing but JSON and the HTML reducer (the fuzz build takes it alone).

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <weft/base/result.hh>

namespace weft::tools {

using json = nlohmann::json;

enum class search_provider : std::uint8_t { searxng = 0, brave = 1, tavily = 2, json = 3 };

/// The provider's name as the config spells it ("searxng", "brave", "tavily", "json").
std::string_view provider_name(search_provider p);

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

/// The first of `keys` that `j` has as a string (`j` may be anything), else "".
std::string first_string(const json& j, std::initializer_list<const char*> keys);

/// A title or snippet as one line of text: tags dropped, entities decoded, whitespace and
/// line breaks collapsed to single spaces; cut at `cap` bytes (not inside a UTF-8
/// character) with "…" marking the cut.
std::string one_line(const std::string& html, std::size_t cap);

}  // namespace weft::tools
