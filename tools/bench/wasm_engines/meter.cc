// weft-wasm-meter IN.wasm OUT.wasm — writes the metered form of a module (libs/wasm's
// rewrite: fuel, call depth, memory cap; see docs/architecture.md "WASM engine"), for the
// ahead-of-time path the benchmark measures: wasm2c translates the metered binary, so the
// AOT figures include what enforcing weft's limits costs. Not installed.

#include <cstdio>
#include <fstream>
#include <iterator>
#include <vector>

#include <weft/wasm/engine.hh>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "error: usage: weft-wasm-meter IN.wasm OUT.wasm\nTry --help.\n");
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "error: Failed to open '%s'\n", argv[1]);
    return 1;
  }
  std::vector<std::uint8_t> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  auto metered = weft::wasm::meter(bytes, {.name = argv[1]});
  if (!metered) {
    std::fprintf(stderr, "error: %s\n", metered.err().to_string().c_str());
    return 1;
  }
  std::ofstream out(argv[2], std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(metered->data()), static_cast<std::streamsize>(metered->size()));
  if (!out.flush()) {
    std::fprintf(stderr, "error: Failed to write '%s'\n", argv[2]);
    return 1;
  }
  return 0;
}
