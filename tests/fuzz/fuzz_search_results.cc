// libFuzzer target: what weft-tool-web reads from search providers
// (services/tool-web/search_results.cc). A provider's answer is outside input: any bytes, as
// any provider's shape, must parse without crashing or throwing, and what comes out keeps the
// caps — at most `limit` results, only http(s) URLs, each field within its cap.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "services/tool-web/search_results.hh"

using namespace weft::tools;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  search_caps caps;
  caps.title_bytes = 40;
  caps.snippet_bytes = 60;
  caps.url_bytes = 100;
  constexpr std::size_t limit = 3;
  for (auto p : {search_provider::searxng, search_provider::brave, search_provider::tavily, search_provider::json}) {
    auto r = parse_results(p, body, "/data/items", limit, caps);
    if (!r) continue;
    if (r->size() > limit) std::abort();
    for (auto& h : *r) {
      if (h.url.rfind("http://", 0) != 0 && h.url.rfind("https://", 0) != 0) std::abort();
      // A cut field ends in "…" (3 bytes) past the cap.
      if (h.url.size() > caps.url_bytes || h.title.size() > caps.title_bytes + 3 || h.snippet.size() > caps.snippet_bytes + 3)
        std::abort();
    }
  }
  return 0;
}
