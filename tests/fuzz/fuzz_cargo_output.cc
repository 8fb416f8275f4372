// libFuzzer target: what weft-tool-cargo reads from cargo (services/tool-cargo/cargo_output.cc).
// cargo's output carries text of a crate the model wrote (messages, test names, panics): any
// bytes must parse without crashing, hanging or throwing, within the limits given.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "services/tool-cargo/cargo_output.hh"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  weft::tools::cargo::output_limits lim{8, 256};
  auto r = weft::tools::cargo::parse_output(text, lim);
  if (r.diagnostics.size() > lim.max_diagnostics) std::abort();
  if (r.other.size() > lim.max_output_bytes + size) std::abort();
  for (auto& [name, out] : r.failed)
    if (out.size() > lim.max_output_bytes + size) std::abort();
  auto p = weft::tools::cargo::parse_package_output(text, lim);
  if (p.diagnostics.size() > lim.max_diagnostics || p.summary.size() > 200) std::abort();
  return 0;
}
