// libFuzzer target: what weft-tool-code reads from a language server
// (services/tool-code/lsp_wire.cc): Content-Length framing fed in arbitrary chunks, and
// position conversions on arbitrary line text. Bounded memory, no crash, no hang.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "services/tool-code/lsp_wire.hh"

namespace code = weft::tools::code;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string buf;
  constexpr std::size_t max = 4096;
  // Chunks of 1 … 64 bytes, their sizes from the input's own bytes.
  for (std::size_t i = 0; i < in.size();) {
    std::size_t n = 1 + static_cast<unsigned char>(in[i]) % 64;
    buf.append(in.substr(i, n));
    i += n;
    auto m = code::lsp_take_messages(buf, max);
    if (!m) break;
    for (auto& msg : *m)
      if (msg.size() > max) std::abort();
    if (buf.size() > max + 8192 + 64) std::abort();
  }
  for (std::uint32_t c : {0u, 1u, 3u, 17u, 1000u}) {
    auto b = code::lsp_to_byte_column(in, c, false);
    if (b < 1 || b > in.size() + 1) std::abort();
    (void)code::lsp_from_byte_column(in, b, false);
    if (code::lsp_to_byte_column(in, c, true) > in.size() + 1) std::abort();
  }
  return 0;
}
