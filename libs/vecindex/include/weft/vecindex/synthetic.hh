#pragma once
/// Synthetic vectors that behave like text embeddings (for recall tests and benchmarks),
/// and exact nearest neighbours to measure recall against. Uniform random vectors are
/// the worst case for any approximate index and say nothing about real recall; real
/// embeddings sit in clusters on a low-dimensional manifold, which this models.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace weft::vecindex {

/// A Gaussian mixture in a `latent`-dimensional space, projected to `dims` by a fixed
/// random matrix, plus isotropic noise, normalised.
struct clustered_params {
  std::uint32_t dims = 384;
  std::uint32_t latent = 32;
  std::uint32_t centres = 300;
  float spread = 0.5f;  ///< within-cluster standard deviation (centres are N(0, 1))
  float noise = 0.5f;   ///< isotropic noise per output component (signal ≈ 1.1 per component)
  std::uint64_t seed = 42;
};

/// Draws vectors from one fixed mixture; the same seed gives the same mixture and,
/// drawn in the same order, the same vectors.
class clustered_generator {
 public:
  explicit clustered_generator(clustered_params p = {});
  /// `n` normalised vectors, row after row (n · dims floats). Draws continue the
  /// generator's stream, so queries drawn after the data are new points.
  std::vector<float> draw(std::size_t n);
  const clustered_params& params() const { return _p; }

 private:
  clustered_params _p;
  std::vector<float> _centres;     ///< centres · latent
  std::vector<float> _projection;  ///< dims · latent
  std::uint64_t _state;
};

/// Exact k nearest neighbours by inner product (rows are normalised, so cosine) of each
/// query against `rows`, best first, using the dispatched kernels and `threads` threads.
/// Result: queries · k labels (row numbers).
std::vector<std::uint32_t> exact_knn(std::span<const float> rows, std::span<const float> queries,
                                     std::uint32_t dims, std::size_t k, unsigned threads = 1);

/// Fraction of the exact top-k found in `found` (per query, averaged).
double recall_at_k(std::span<const std::uint32_t> exact, std::size_t k,
                   const std::vector<std::vector<std::uint32_t>>& found);

}  // namespace weft::vecindex
