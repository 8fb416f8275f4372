#include <weft/vecindex/kernels.hh>

#include <cstdlib>
#include <string_view>

#include "kernels_impl.hh"

#if defined(__x86_64__) && defined(__SSE2__)
#include <emmintrin.h>
#define WEFT_VECINDEX_SSE2 1
#endif

namespace weft::vecindex {
namespace {

// Reference kernels: plain loops in a fixed order, the yardstick for the SIMD ones.
float dot_scalar(const float* a, const float* b, std::size_t n) {
  float sum = 0;
  for (std::size_t i = 0; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

float dot_u8_scalar(const float* a, const std::uint8_t* codes, std::size_t n) {
  float sum = 0;
  for (std::size_t i = 0; i < n; ++i) sum += a[i] * static_cast<float>(codes[i]);
  return sum;
}

std::uint32_t popcount64(std::uint64_t x) {
  // SWAR: the baseline x86-64 target has no popcnt instruction.
  x = x - ((x >> 1) & 0x5555555555555555ULL);
  x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
  x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
  return static_cast<std::uint32_t>((x * 0x0101010101010101ULL) >> 56);
}

std::uint32_t hamming_scalar(const std::uint8_t* a, const std::uint8_t* b, std::size_t bytes) {
  std::uint32_t count = 0;
  std::size_t i = 0;
  for (; i + 8 <= bytes; i += 8) {
    std::uint64_t x, y;
    __builtin_memcpy(&x, a + i, 8);
    __builtin_memcpy(&y, b + i, 8);
    count += popcount64(x ^ y);
  }
  for (; i < bytes; ++i) count += popcount64(static_cast<std::uint64_t>(a[i] ^ b[i]));
  return count;
}

#ifdef WEFT_VECINDEX_SSE2
float hsum128(__m128 v) {
  __m128 shuf = _mm_shuffle_ps(v, v, _MM_SHUFFLE(2, 3, 0, 1));
  __m128 sums = _mm_add_ps(v, shuf);
  shuf = _mm_movehl_ps(shuf, sums);
  sums = _mm_add_ss(sums, shuf);
  return _mm_cvtss_f32(sums);
}

float dot_sse2(const float* a, const float* b, std::size_t n) {
  __m128 s0 = _mm_setzero_ps(), s1 = _mm_setzero_ps(), s2 = _mm_setzero_ps(), s3 = _mm_setzero_ps();
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = _mm_add_ps(s0, _mm_mul_ps(_mm_loadu_ps(a + i), _mm_loadu_ps(b + i)));
    s1 = _mm_add_ps(s1, _mm_mul_ps(_mm_loadu_ps(a + i + 4), _mm_loadu_ps(b + i + 4)));
    s2 = _mm_add_ps(s2, _mm_mul_ps(_mm_loadu_ps(a + i + 8), _mm_loadu_ps(b + i + 8)));
    s3 = _mm_add_ps(s3, _mm_mul_ps(_mm_loadu_ps(a + i + 12), _mm_loadu_ps(b + i + 12)));
  }
  for (; i + 4 <= n; i += 4) s0 = _mm_add_ps(s0, _mm_mul_ps(_mm_loadu_ps(a + i), _mm_loadu_ps(b + i)));
  float sum = hsum128(_mm_add_ps(_mm_add_ps(s0, s1), _mm_add_ps(s2, s3)));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

float dot_u8_sse2(const float* a, const std::uint8_t* codes, std::size_t n) {
  const __m128i zero = _mm_setzero_si128();
  __m128 s0 = _mm_setzero_ps(), s1 = _mm_setzero_ps();
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + i));
    __m128i lo = _mm_unpacklo_epi8(c, zero), hi = _mm_unpackhi_epi8(c, zero);
    __m128 c0 = _mm_cvtepi32_ps(_mm_unpacklo_epi16(lo, zero));
    __m128 c1 = _mm_cvtepi32_ps(_mm_unpackhi_epi16(lo, zero));
    __m128 c2 = _mm_cvtepi32_ps(_mm_unpacklo_epi16(hi, zero));
    __m128 c3 = _mm_cvtepi32_ps(_mm_unpackhi_epi16(hi, zero));
    s0 = _mm_add_ps(s0, _mm_mul_ps(_mm_loadu_ps(a + i), c0));
    s1 = _mm_add_ps(s1, _mm_mul_ps(_mm_loadu_ps(a + i + 4), c1));
    s0 = _mm_add_ps(s0, _mm_mul_ps(_mm_loadu_ps(a + i + 8), c2));
    s1 = _mm_add_ps(s1, _mm_mul_ps(_mm_loadu_ps(a + i + 12), c3));
  }
  float sum = hsum128(_mm_add_ps(s0, s1));
  for (; i < n; ++i) sum += a[i] * static_cast<float>(codes[i]);
  return sum;
}
#endif

const kernel_set scalar_set{"scalar", dot_scalar, dot_u8_scalar, hamming_scalar};
#ifdef WEFT_VECINDEX_SSE2
const kernel_set sse2_set{"sse2", dot_sse2, dot_u8_sse2, hamming_scalar};
#endif
#ifdef WEFT_VECINDEX_HAVE_AVX2
const kernel_set avx2_set{"avx2", detail::dot_avx2, detail::dot_u8_avx2, detail::hamming_avx2};
#endif

#ifdef WEFT_VECINDEX_HAVE_AVX2  // x86_64 only (libs/vecindex/meson.build): unused elsewhere
bool cpu_has_avx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
         __builtin_cpu_supports("popcnt");
}
#endif

const kernel_set& choose() {
  std::string_view want;
  if (const char* env = std::getenv("WEFT_VECINDEX_KERNELS")) want = env;
  const kernel_set* avx2 = avx2_kernels();
  const kernel_set* sse2 = sse2_kernels();
  if (want == "scalar") return scalar_set;
  if (want == "sse2" && sse2) return *sse2;
  if (avx2) return *avx2;
  if (sse2) return *sse2;
  return scalar_set;
}

}  // namespace

const kernel_set& kernels() {
  static const kernel_set& chosen = choose();
  return chosen;
}

const kernel_set& scalar_kernels() { return scalar_set; }

const kernel_set* sse2_kernels() {
#ifdef WEFT_VECINDEX_SSE2
  return &sse2_set;
#else
  return nullptr;
#endif
}

const kernel_set* avx2_kernels() {
#ifdef WEFT_VECINDEX_HAVE_AVX2
  static const bool ok = cpu_has_avx2();
  return ok ? &avx2_set : nullptr;
#else
  return nullptr;
#endif
}

namespace detail {

float ip_distance_scalar(const void* a, const void* b, const void* param) {
  return 1.0f - dot_scalar(static_cast<const float*>(a), static_cast<const float*>(b),
                           *static_cast<const std::size_t*>(param));
}

float ip_distance_sse2(const void* a, const void* b, const void* param) {
#ifdef WEFT_VECINDEX_SSE2
  return 1.0f - dot_sse2(static_cast<const float*>(a), static_cast<const float*>(b),
                         *static_cast<const std::size_t*>(param));
#else
  return ip_distance_scalar(a, b, param);
#endif
}

distance_fn ip_distance() {
  const std::string_view name = kernels().name;
#ifdef WEFT_VECINDEX_HAVE_AVX2
  if (name == "avx2") return ip_distance_avx2;
#endif
  if (name == "sse2") return ip_distance_sse2;
  return ip_distance_scalar;
}

}  // namespace detail
}  // namespace weft::vecindex
