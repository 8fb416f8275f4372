// libFuzzer target: the header lines a plugin hands http_fetch (services/plugin-host
// fetch.cc parse_headers) — text from an untrusted module, which becomes request headers.
// Any bytes: an error, or lines each "Name: value" with a token name, no control character
// but tab, never one of the headers the host owns; never a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "services/plugin-host/fetch.hh"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = weft::plugin_host::parse_headers(text);
  if (!r) return 0;
  for (auto& line : *r) {
    auto colon = line.find(':');
    if (colon == std::string::npos || colon == 0) std::abort();
    for (char c : line)
      if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) std::abort();
    std::string name;
    for (std::size_t i = 0; i < colon; ++i) name += static_cast<char>(std::tolower(static_cast<unsigned char>(line[i])));
    if (name == "host" || name == "content-length" || name == "connection" || name == "transfer-encoding") std::abort();
  }
  return 0;
}
