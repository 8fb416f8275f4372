// libFuzzer target: MCP's JSON-RPC decoder (libs/mcp) and its stdio line framing. Parsing
// must never crash, throw or exceed its limits, and whatever parses must serialize to one
// line that parses back to the same text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <weft/mcp/jsonrpc.hh>
#include <weft/mcp/stdio.hh>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  weft::mcp::limits lim;
  lim.max_message_bytes = 16384;
  if (auto m = weft::mcp::parse(text, lim)) {
    auto once = weft::mcp::serialize(*m);
    if (once.find('\n') != std::string::npos) std::abort();
    auto again = weft::mcp::parse(once);
    if (!again || weft::mcp::serialize(*again) != once) std::abort();
  }
  // The same bytes as a stream, cut at an arbitrary point.
  weft::mcp::line_reader r(1024);
  auto cut = size ? data[0] % (size + 1) : 0;
  r.feed(text.substr(0, cut));
  r.feed(text.substr(cut));
  while (auto line = r.next())
    if (*line && line->value().size() > 1024) std::abort();
  return 0;
}
