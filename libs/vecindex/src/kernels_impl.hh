#pragma once
// Kernel entry points shared between translation units. The AVX2 ones live in
// kernels_avx2.cc, the only file built with -mavx2 -mfma -mpopcnt; it holds plain
// functions only (no templates, no inline code from other headers) so nothing compiled
// for AVX2 can be picked by the linker for code that runs on a CPU without it.

#include <cstddef>
#include <cstdint>

namespace weft::vecindex::detail {

float dot_avx2(const float* a, const float* b, std::size_t n);
float dot_u8_avx2(const float* a, const std::uint8_t* codes, std::size_t n);
std::uint32_t hamming_avx2(const std::uint8_t* a, const std::uint8_t* b, std::size_t bytes);
/// hnswlib distance (1 − inner product); `param` points to the dimension as size_t.
float ip_distance_avx2(const void* a, const void* b, const void* param);

/// The same distance with the dispatched kernel set chosen at startup (non-AVX2 CPUs).
float ip_distance_sse2(const void* a, const void* b, const void* param);
float ip_distance_scalar(const void* a, const void* b, const void* param);

/// The distance function matching kernels().
using distance_fn = float (*)(const void*, const void*, const void*);
distance_fn ip_distance();

}  // namespace weft::vecindex::detail
