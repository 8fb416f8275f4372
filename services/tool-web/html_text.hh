#pragma once
/// HTML reduced to text, for what the web tools show a model: fetched pages, and the titles
/// and snippets of search results. Apart from the tools so the fuzz build can take it alone.

#include <string>
#include <string_view>

namespace weft::tools {

/// Crude HTML to text: drops script/style/comments, turns block tags into line breaks and
/// other tags into spaces, decodes the common entities, collapses whitespace.
std::string html_to_text(std::string_view html);

}  // namespace weft::tools
