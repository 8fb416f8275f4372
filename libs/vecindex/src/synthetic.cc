#include <weft/vecindex/synthetic.hh>

#include <algorithm>
#include <cmath>
#include <thread>
#include <unordered_set>

#include <weft/vecindex/hnsw_index.hh>
#include <weft/vecindex/kernels.hh>

namespace weft::vecindex {

namespace {
// splitmix64 and Box–Muller: small, fast and identical on every platform (std::normal_
// distribution is not specified bit for bit across standard libraries).
std::uint64_t next(std::uint64_t& s) {
  std::uint64_t z = (s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}
double uniform(std::uint64_t& s) { return (static_cast<double>(next(s) >> 11) + 0.5) * 0x1.0p-53; }
float gauss(std::uint64_t& s) {
  return static_cast<float>(std::sqrt(-2.0 * std::log(uniform(s))) * std::cos(6.283185307179586 * uniform(s)));
}
}  // namespace

clustered_generator::clustered_generator(clustered_params p) : _p(p), _state(p.seed) {
  _p.latent = std::max<std::uint32_t>(_p.latent, 1);
  _p.centres = std::max<std::uint32_t>(_p.centres, 1);
  _centres.resize(static_cast<std::size_t>(_p.centres) * _p.latent);
  for (float& c : _centres) c = gauss(_state);
  _projection.resize(static_cast<std::size_t>(_p.dims) * _p.latent);
  const float scale = 1.0f / std::sqrt(static_cast<float>(_p.latent));
  for (float& w : _projection) w = gauss(_state) * scale;
}

std::vector<float> clustered_generator::draw(std::size_t n) {
  const std::size_t d = _p.dims, l = _p.latent;
  std::vector<float> out(n * d);
  std::vector<float> z(l);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t c = next(_state) % _p.centres;
    for (std::size_t j = 0; j < l; ++j) z[j] = _centres[c * l + j] + _p.spread * gauss(_state);
    std::span<float> row(out.data() + i * d, d);
    for (std::size_t r = 0; r < d; ++r) {
      float v = _p.noise * gauss(_state);
      const float* w = _projection.data() + r * l;
      for (std::size_t j = 0; j < l; ++j) v += w[j] * z[j];
      row[r] = v;
    }
    normalise(row);
  }
  return out;
}

std::vector<std::uint32_t> exact_knn(std::span<const float> rows, std::span<const float> queries, std::uint32_t dims,
                                     std::size_t k, unsigned threads) {
  const std::size_t n = rows.size() / dims, nq = queries.size() / dims;
  k = std::min(k, n);
  std::vector<std::uint32_t> out(nq * k);
  const auto dot = kernels().dot;
  auto work = [&](std::size_t first, std::size_t last) {
    std::vector<std::pair<float, std::uint32_t>> scores(n);
    for (std::size_t q = first; q < last; ++q) {
      const float* qv = queries.data() + q * dims;
      for (std::size_t i = 0; i < n; ++i) scores[i] = {dot(qv, rows.data() + i * dims, dims), static_cast<std::uint32_t>(i)};
      std::partial_sort(scores.begin(), scores.begin() + static_cast<std::ptrdiff_t>(k), scores.end(),
                        [](const auto& a, const auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
      for (std::size_t j = 0; j < k; ++j) out[q * k + j] = scores[j].second;
    }
  };
  threads = std::max(1u, threads);
  std::vector<std::thread> pool;
  const std::size_t per = (nq + threads - 1) / threads;
  for (unsigned t = 1; t < threads; ++t)
    pool.emplace_back(work, std::min(nq, t * per), std::min(nq, (t + 1) * per));
  work(0, std::min(nq, per));
  for (auto& t : pool) t.join();
  return out;
}

double recall_at_k(std::span<const std::uint32_t> exact, std::size_t k,
                   const std::vector<std::vector<std::uint32_t>>& found) {
  if (found.empty() || k == 0) return 0;
  double total = 0;
  for (std::size_t q = 0; q < found.size(); ++q) {
    std::unordered_set<std::uint32_t> truth(exact.begin() + static_cast<std::ptrdiff_t>(q * k),
                                            exact.begin() + static_cast<std::ptrdiff_t>((q + 1) * k));
    std::size_t hits = 0;
    for (std::size_t j = 0; j < std::min(k, found[q].size()); ++j) hits += truth.count(found[q][j]);
    total += static_cast<double>(hits) / static_cast<double>(k);
  }
  return total / static_cast<double>(found.size());
}

}  // namespace weft::vecindex
