// libFuzzer target: every decoder of one interface (chosen at build time by WEFT_FUZZ_NS).
// The first input byte picks the message; decoding must never crash, leak or read out of
// bounds, and whatever decodes must survive an encode/decode round trip unchanged.
#include <cstddef>
#include <cstdint>

#include WEFT_FUZZ_HEADER

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  weft::proto::WEFT_FUZZ_NS::fuzz_decode(data, size);
  return 0;
}
