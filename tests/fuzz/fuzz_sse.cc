// libFuzzer target: libs/http's Server-Sent Events parser (what weft reads from LLM
// providers and MCP servers) and its writer. The parser must never crash or hold more than
// its limit, must give the same events however the bytes are cut, and must read back
// exactly what the writer framed.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <weft/http/sse.hh>

namespace h = weft::http;

namespace {
constexpr std::size_t max_bytes = 1024;

std::vector<h::sse_event> parse(std::string_view a, std::string_view b, bool& failed) {
  h::sse_parser p(max_bytes);
  std::vector<h::sse_event> out;
  for (auto part : {a, b}) {
    p.feed(part);
    while (auto e = p.next()) {
      if (e->data.size() > max_bytes || e->event.size() > max_bytes || e->id.size() > max_bytes) std::abort();
      out.push_back(std::move(*e));
    }
  }
  failed = p.failed();
  return out;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto cut = size ? data[0] % (size + 1) : 0;
  bool failed_whole = false, failed_cut = false;
  auto whole = parse(text, {}, failed_whole);
  auto pieces = parse(text.substr(0, cut), text.substr(cut), failed_cut);
  if (failed_whole != failed_cut || whole.size() != pieces.size()) std::abort();
  for (std::size_t i = 0; i < whole.size(); ++i)
    if (whole[i].data != pieces[i].data || whole[i].event != pieces[i].event || whole[i].id != pieces[i].id ||
        whole[i].retry_ms != pieces[i].retry_ms)
      std::abort();
  // Round trip: any text framed as one event comes back with its line ends as '\n'.
  if (size < max_bytes / 2) {
    bool failed = false;
    auto back = parse(h::sse_frame("e", text, 1), {}, failed);
    std::string want;
    for (std::size_t i = 0; i < size; ++i) {
      if (text[i] == '\r' && i + 1 < size && text[i + 1] == '\n') continue;
      want += text[i] == '\r' ? '\n' : text[i];
    }
    if (failed || back.size() != 1 || back[0].data != want || back[0].event != "e" || back[0].id != "1") std::abort();
  }
  return 0;
}
