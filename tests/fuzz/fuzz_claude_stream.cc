// libFuzzer target: Claude Code's stream-json output as weft-tool-delegate reads it
// (services/tool-delegate/claude.cc). The stream carries text of the model and of files the
// run read: any bytes must parse without crashing, hanging or throwing; an over-long line
// stops the reading.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "services/tool-delegate/claude.hh"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  bool got = false;
  std::size_t steps = 0;
  auto r = weft::delegate::read_claude_stream(
      text, [&](const weft::delegate::claude_step&) { ++steps; }, got, 4096);
  if (!got && (!r.text.empty() || r.turns != 0)) std::abort();  // a result only from a result line
  return 0;
}
