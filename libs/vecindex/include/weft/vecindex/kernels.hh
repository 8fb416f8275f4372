#pragma once
/// Distance kernels for normalised float32 vectors and their compressed codes, chosen once
/// at startup from what the CPU supports, so one portable build runs at AVX2 speed where
/// it can (the library is never built with -march=native).

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace weft::vecindex {

/// One implementation of every kernel the indexes use.
struct kernel_set {
  std::string_view name;  ///< "avx2", "sse2" or "scalar"
  /// Inner product of two float vectors of `n` components.
  float (*dot)(const float* a, const float* b, std::size_t n);
  /// Inner product of a float vector with `n` unsigned 8-bit codes (the warm tier's SQ8
  /// scan: the query is pre-scaled so that this sum plus a constant is the similarity).
  float (*dot_u8)(const float* a, const std::uint8_t* codes, std::size_t n);
  /// Number of differing bits between two bit strings of `bytes` bytes (cold tier).
  std::uint32_t (*hamming)(const std::uint8_t* a, const std::uint8_t* b, std::size_t bytes);
};

/// The kernels used by the indexes: the fastest the CPU supports (AVX2+FMA, else SSE2,
/// else scalar), chosen on first use. `WEFT_VECINDEX_KERNELS=scalar|sse2|avx2` in the
/// environment forces a choice (a choice the CPU lacks falls back to the best it has).
const kernel_set& kernels();

/// The plain C++ reference kernels (for tests and comparisons).
const kernel_set& scalar_kernels();

/// The SSE2 kernels, or nullptr when not built for x86-64.
const kernel_set* sse2_kernels();

/// The AVX2+FMA kernels, or nullptr when the CPU (or the build) lacks them.
const kernel_set* avx2_kernels();

}  // namespace weft::vecindex
