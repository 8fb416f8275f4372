// AVX2+FMA kernels. Built with -mavx2 -mfma -mpopcnt; called only after kernels.cc has
// checked __builtin_cpu_supports. Plain functions only (see kernels_impl.hh).

#include "kernels_impl.hh"

#include <immintrin.h>

namespace weft::vecindex::detail {

namespace {
float hsum(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v);
  __m128 hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  __m128 shuf = _mm_movehdup_ps(lo);
  __m128 sums = _mm_add_ps(lo, shuf);
  shuf = _mm_movehl_ps(shuf, sums);
  sums = _mm_add_ss(sums, shuf);
  return _mm_cvtss_f32(sums);
}
}  // namespace

float dot_avx2(const float* a, const float* b, std::size_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
  }
  for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  float sum = hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

float dot_u8_avx2(const float* a, const std::uint8_t* codes, std::size_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + i));
    __m256 c0 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(c));
    __m256 c1 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(c, 8)));
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), c0, s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), c1, s1);
  }
  float sum = hsum(_mm256_add_ps(s0, s1));
  for (; i < n; ++i) sum += a[i] * static_cast<float>(codes[i]);
  return sum;
}

std::uint32_t hamming_avx2(const std::uint8_t* a, const std::uint8_t* b, std::size_t bytes) {
  std::uint64_t count = 0;
  std::size_t i = 0;
  for (; i + 8 <= bytes; i += 8) {
    unsigned long long x, y;
    __builtin_memcpy(&x, a + i, 8);
    __builtin_memcpy(&y, b + i, 8);
    count += static_cast<std::uint64_t>(_mm_popcnt_u64(x ^ y));
  }
  for (; i < bytes; ++i) count += static_cast<std::uint64_t>(_mm_popcnt_u32(static_cast<unsigned>(a[i] ^ b[i])));
  return static_cast<std::uint32_t>(count);
}

float ip_distance_avx2(const void* a, const void* b, const void* param) {
  return 1.0f - dot_avx2(static_cast<const float*>(a), static_cast<const float*>(b),
                         *static_cast<const std::size_t*>(param));
}

}  // namespace weft::vecindex::detail
