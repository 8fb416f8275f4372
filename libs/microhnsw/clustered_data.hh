// clustered_data.hh — deterministic test vectors that behave like embeddings.
//
// Uniform random vectors make every ANN index look either perfect or hopeless; real
// embeddings sit near a low-dimensional manifold in clusters. So: a Gaussian mixture in a
// small latent space, projected to `dims` by a fixed random matrix, plus isotropic noise.
// Own PRNG (splitmix64) and Box-Muller so the data is the same on every platform and run.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace weft::microhnsw {

class splitmix64 {
  public:
    explicit splitmix64(uint64_t seed) : _s(seed) {}
    uint64_t next() {
        uint64_t z = (_s += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    double uniform() { return static_cast<double>((next() >> 11) + 1) * 0x1.0p-53; }  // (0, 1]
    double gaussian() {
        return std::sqrt(-2.0 * std::log(uniform())) * std::cos(6.283185307179586 * uniform());
    }

  private:
    uint64_t _s;
};

/// `count` vectors of `dims` floats, row-major: `clusters` Gaussian clusters in a
/// `latent`-dimensional space (centres spread 1.0, cluster spread `spread`), projected to
/// `dims`, plus per-coordinate noise `noise` (relative to the projected scale).
struct clustered_data {
    unsigned dims = 64;
    unsigned latent = 16;
    unsigned clusters = 50;
    double spread = 0.5;
    double noise = 0.6;
    uint64_t seed = 1;

    /// Draws `count` points; `stream` selects an independent sequence from the same
    /// mixture (0 for the stored points, 1 for queries).
    std::vector<float> generate(unsigned count, uint64_t stream) const {
        splitmix64 model(seed);
        std::vector<double> centres(size_t(clusters) * latent), proj(size_t(latent) * dims);
        for (auto& c : centres) c = model.gaussian();
        const double scale = 1.0 / std::sqrt(double(latent));
        for (auto& p : proj) p = model.gaussian() * scale;

        splitmix64 rng(seed * 0x100000001b3ull + stream + 1);
        std::vector<float> out(size_t(count) * dims);
        std::vector<double> z(latent);
        for (unsigned i = 0; i < count; ++i) {
            unsigned c = unsigned(rng.next() % clusters);
            for (unsigned j = 0; j < latent; ++j) z[j] = centres[size_t(c) * latent + j] + spread * rng.gaussian();
            for (unsigned d = 0; d < dims; ++d) {
                double x = noise * rng.gaussian();
                for (unsigned j = 0; j < latent; ++j) x += z[j] * proj[size_t(j) * dims + d];
                out[size_t(i) * dims + d] = float(x);
            }
        }
        return out;
    }
};

/// Exact top-k by cosine similarity (labels, best first) — the ground truth for recall.
inline std::vector<unsigned> exact_top_k(const std::vector<float>& base, const float* q, unsigned dims, unsigned k) {
    const size_t n = base.size() / dims;
    std::vector<std::pair<double, unsigned>> all(n);
    double qn = 0;
    for (unsigned d = 0; d < dims; ++d) qn += double(q[d]) * q[d];
    for (size_t i = 0; i < n; ++i) {
        double dot = 0, bn = 0;
        for (unsigned d = 0; d < dims; ++d) {
            dot += double(base[i * dims + d]) * q[d];
            bn += double(base[i * dims + d]) * base[i * dims + d];
        }
        all[i] = {-dot / std::sqrt(bn * qn), unsigned(i)};
    }
    k = std::min<unsigned>(k, unsigned(n));
    std::partial_sort(all.begin(), all.begin() + k, all.end());
    std::vector<unsigned> out(k);
    for (unsigned i = 0; i < k; ++i) out[i] = all[i].second;
    return out;
}

/// |found ∩ truth| / |truth|.
inline double recall(const std::vector<unsigned>& truth, const unsigned* found, unsigned n_found) {
    unsigned hit = 0;
    for (unsigned t : truth)
        hit += unsigned(std::count(found, found + n_found, t) > 0);
    return truth.empty() ? 1.0 : double(hit) / truth.size();
}

}  // namespace weft::microhnsw
