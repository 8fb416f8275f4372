// Golden encodings: the C++ encoding of every schema test value must equal the committed
// proto/golden/<type>.hex, and decoding those bytes must give the test value back.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "proto/bus_v1.hh"
#include "proto/chat_v1.hh"
#include "proto/llm_v1.hh"
#include "proto/tool_v1.hh"
#include "proto/memory_v1.hh"
#include "proto/supervisor_v1.hh"

namespace {

std::string hex(std::string_view b) {
  std::string out;
  for (unsigned char c : b) out += fmt::format("{:02x}", c);
  return out;
}

std::string read_golden(const std::string& type) {
  std::ifstream f(std::string(WEFT_SOURCE_ROOT) + "/proto/golden/" + type + ".hex");
  std::string s;
  f >> s;
  return s;
}

void check_cases(const std::vector<weft::wire::golden_case>& cases) {
  REQUIRE_FALSE(cases.empty());
  for (auto& c : cases) {
    INFO("message type: ", c.type);
    auto golden = read_golden(c.type);
    REQUIRE_MESSAGE(!golden.empty(), "no committed golden file; run tools/gen/protogen.py --golden proto/golden");
    CHECK(hex(c.encoded) == golden);
    auto s = c.decodes(c.encoded);
    CHECK_MESSAGE(s, (s ? "" : s.err().to_string()));
  }
}

}  // namespace

TEST_CASE("io.weft.Bus.v1 golden encodings") { check_cases(weft::proto::bus_v1::golden_cases()); }
TEST_CASE("io.weft.Supervisor.v1 golden encodings") { check_cases(weft::proto::supervisor_v1::golden_cases()); }
TEST_CASE("io.weft.Chat.v1 golden encodings") { check_cases(weft::proto::chat_v1::golden_cases()); }
TEST_CASE("io.weft.Llm.v1 golden encodings") { check_cases(weft::proto::llm_v1::golden_cases()); }
TEST_CASE("io.weft.Tool.v1 golden encodings") { check_cases(weft::proto::tool_v1::golden_cases()); }
TEST_CASE("io.weft.Memory.v1 golden encodings") { check_cases(weft::proto::memory_v1::golden_cases()); }
