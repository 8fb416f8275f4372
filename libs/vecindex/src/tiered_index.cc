// tiered_index: a hot HNSW graph, a warm SQ8 code array and a cold binary code array,
// one bookkeeping map, and a search that merges all three.

#include <weft/vecindex/tiered_index.hh>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numbers>
#include <queue>
#include <unordered_map>

#include <faiss/impl/ScalarQuantizer.h>

#include <weft/vecindex/kernels.hh>

#include "file_io.hh"

namespace weft::vecindex {

namespace {

constexpr char tiers_magic[8] = {'W', 'E', 'F', 'T', 'T', 'I', 'E', 'R'};
constexpr std::uint32_t tiers_version = 1;
constexpr std::size_t sq_train_max = 20000;  ///< vectors used to train the SQ8 ranges
constexpr std::uint32_t unplaced = 0xffffffffu;  ///< slot of an entry not yet seen in a code array
constexpr std::size_t sq_train_min = 1000;   ///< below this, a fixed [-1, 1] range

std::int64_t ns(utc_time t) { return t.time_since_epoch().count(); }
utc_time from_ns(std::int64_t v) { return utc_time(std::chrono::nanoseconds(v)); }
double days(utc_time from, utc_time to) {
  return std::chrono::duration<double>(to - from).count() / 86400.0;
}

struct entry_meta {
  tier where = tier::hot;
  std::uint32_t slot = 0;  ///< index in the warm or cold arrays
  entry_times times;
};

/// A fixed-capacity "keep the best n" heap over (score, label), higher score better.
class best_n {
 public:
  explicit best_n(std::size_t n) : _n(n) {}
  bool wants(float score) const { return _n > 0 && (_heap.size() < _n || score > _heap.top().first); }
  void push(float score, std::uint32_t label) {
    _heap.emplace(score, label);
    if (_heap.size() > _n) _heap.pop();
  }
  std::vector<std::pair<float, std::uint32_t>> take() {
    std::vector<std::pair<float, std::uint32_t>> out;
    while (!_heap.empty()) {
      out.push_back(_heap.top());
      _heap.pop();
    }
    return out;
  }

 private:
  using item = std::pair<float, std::uint32_t>;
  std::size_t _n;
  std::priority_queue<item, std::vector<item>, std::greater<item>> _heap;  // worst on top
};

}  // namespace

std::string_view to_string(tier t) {
  switch (t) {
    case tier::hot: return "hot";
    case tier::warm: return "warm";
    case tier::cold: return "cold";
  }
  return "unknown";
}

struct tiered_index::impl {
  impl(std::uint32_t d, tiered_params p)
      : dims(d), params(p), hot(d, p.hnsw), sq(d, faiss::ScalarQuantizer::QT_8bit), code_bytes((d + 7) / 8) {}

  std::uint32_t dims;
  tiered_params params;
  hnsw_index hot;
  faiss::ScalarQuantizer sq;
  bool sq_trained = false;
  std::size_t code_bytes;
  std::vector<std::uint32_t> warm_labels;
  std::vector<std::uint8_t> warm_codes;  ///< dims bytes per entry
  std::vector<std::uint32_t> cold_labels;
  std::vector<std::uint8_t> cold_codes;  ///< code_bytes per entry
  std::unordered_map<std::uint32_t, entry_meta> entries;

  // --- SQ8 --------------------------------------------------------------------------

  /// Trains the SQ8 ranges once, on `extra` plus a sample of the hot vectors.
  void train_sq(const std::vector<std::vector<float>>& extra) {
    if (sq_trained) return;
    std::vector<float> sample;
    std::size_t n = 0;
    auto take = [&](std::span<const float> v) {
      sample.insert(sample.end(), v.begin(), v.end());
      ++n;
    };
    for (const auto& v : extra) {
      if (n >= sq_train_max) break;
      take(v);
    }
    for (const auto& [label, m] : entries) {
      if (n >= sq_train_max) break;
      if (m.where != tier::hot) continue;
      if (auto v = hot.get(label)) take(*v);
    }
    if (n >= sq_train_min) {
      sq.rangestat = faiss::ScalarQuantizer::RS_minmax;
      sq.rangestat_arg = 0.05f;  // 5% headroom for vectors added later
      sq.train(n, sample.data());
    } else {
      // Too few vectors to learn ranges: every component of a unit vector is in [-1, 1].
      sq.trained.assign(2 * dims, 0.0f);
      std::fill(sq.trained.begin(), sq.trained.begin() + dims, -1.0f);
      std::fill(sq.trained.begin() + dims, sq.trained.end(), 2.0f);
    }
    sq_trained = true;
  }

  std::vector<float> sq_decode(const std::uint8_t* code) const {
    std::vector<float> v(dims);
    sq.decode(code, v.data(), 1);
    normalise(v);
    return v;
  }

  /// The query scaled so that `offset + dot_u8(scaled, code)` is the inner product of the
  /// query with the decoded code: x_i = vmin_i + (c_i + 0.5) / 255 · vdiff_i (FAISS QT_8bit).
  std::pair<std::vector<float>, float> sq_query(std::span<const float> q) const {
    std::vector<float> scaled(dims);
    double offset = 0;
    for (std::size_t i = 0; i < dims; ++i) {
      const float vmin = sq.trained[i], vdiff = sq.trained[dims + i];
      scaled[i] = q[i] * vdiff / 255.0f;
      offset += static_cast<double>(q[i]) * vmin + 0.5 * scaled[i];
    }
    return {std::move(scaled), static_cast<float>(offset)};
  }

  void sign_bits(std::span<const float> v, std::uint8_t* out) const {
    std::fill(out, out + code_bytes, 0);
    for (std::size_t i = 0; i < dims; ++i)
      if (v[i] > 0) out[i / 8] |= static_cast<std::uint8_t>(1u << (i % 8));
  }

  // --- placement --------------------------------------------------------------------

  tier target(const entry_times& t, utc_time now, const tier_policy& p) const {
    const utc_time since = t.hits_since == utc_time{} ? t.created : t.hits_since;
    const std::uint32_t hits = days(since, now) <= p.hot_days ? t.hits : 0;
    if (days(t.created, now) < p.hot_days || (p.hot_min_hits > 0 && hits >= p.hot_min_hits)) return tier::hot;
    const utc_time last_use = std::max(t.created, t.last_access);
    return days(last_use, now) < p.warm_days ? tier::warm : tier::cold;
  }

  /// Puts a normalised vector into `t` and records it in `m`.
  status place(std::uint32_t label, std::span<const float> v, tier t, entry_meta& m) {
    m.where = t;
    switch (t) {
      case tier::hot: return hot.add(label, v);
      case tier::warm: {
        train_sq({std::vector<float>(v.begin(), v.end())});
        m.slot = static_cast<std::uint32_t>(warm_labels.size());
        warm_labels.push_back(label);
        warm_codes.resize(warm_codes.size() + dims);
        sq.compute_codes(v.data(), warm_codes.data() + static_cast<std::size_t>(m.slot) * dims, 1);
        return {};
      }
      case tier::cold: {
        m.slot = static_cast<std::uint32_t>(cold_labels.size());
        cold_labels.push_back(label);
        cold_codes.resize(cold_codes.size() + code_bytes);
        sign_bits(v, cold_codes.data() + static_cast<std::size_t>(m.slot) * code_bytes);
        return {};
      }
    }
    return {};
  }

  /// Removes an entry's vector from its tier (the map entry stays).
  void unplace(std::uint32_t label, const entry_meta& m) {
    auto drop = [&](std::vector<std::uint32_t>& labels, std::vector<std::uint8_t>& codes, std::size_t width) {
      const std::uint32_t last = static_cast<std::uint32_t>(labels.size() - 1);
      if (m.slot != last) {
        labels[m.slot] = labels[last];
        std::copy_n(codes.begin() + static_cast<std::ptrdiff_t>(last * width), width,
                    codes.begin() + static_cast<std::ptrdiff_t>(m.slot * width));
        entries[labels[m.slot]].slot = m.slot;
      }
      labels.pop_back();
      codes.resize(codes.size() - width);
    };
    switch (m.where) {
      case tier::hot: hot.remove(label); break;
      case tier::warm: drop(warm_labels, warm_codes, dims); break;
      case tier::cold: drop(cold_labels, cold_codes, code_bytes); break;
    }
  }

  /// The best full-precision vector available for an entry: fetched, else from its tier.
  std::optional<std::vector<float>> vector_of(std::uint32_t label, const entry_meta& m, const fetch_fn& fetch) {
    if (m.where == tier::hot) return hot.get(label);
    if (fetch) {
      if (auto v = fetch(label); v && v->size() == dims && normalise(*v)) return v;
    }
    if (m.where == tier::warm) return sq_decode(warm_codes.data() + static_cast<std::size_t>(m.slot) * dims);
    return std::nullopt;  // binary codes are too coarse to rebuild a vector from
  }

  /// Rebuilds the hot graph when removed slots outnumber live ones, so demotion frees RAM.
  void compact_hot() {
    if (hot.slots() < 64 || hot.slots() - hot.size() <= hot.size()) return;
    hnsw_params p = params.hnsw;
    p.capacity = std::max<std::size_t>(hot.size(), 16);
    hnsw_index fresh(dims, p);
    fresh.set_ef(hot.ef());
    std::vector<std::uint32_t> labels;
    std::vector<float> rows;
    labels.reserve(hot.size());
    rows.reserve(hot.size() * dims);
    for (const auto& [label, m] : entries) {
      if (m.where != tier::hot) continue;
      auto v = hot.get(label);
      if (!v) continue;
      labels.push_back(label);
      rows.insert(rows.end(), v->begin(), v->end());
    }
    if (fresh.add_batch(labels, rows)) hot = std::move(fresh);  // on failure keep the old graph
  }
};

tiered_index::tiered_index(std::uint32_t dims, tiered_params params)
    : _impl(std::make_unique<impl>(dims, params)) {}
tiered_index::tiered_index(std::unique_ptr<impl> p) : _impl(std::move(p)) {}
tiered_index::~tiered_index() = default;
tiered_index::tiered_index(tiered_index&&) noexcept = default;
tiered_index& tiered_index::operator=(tiered_index&&) noexcept = default;

status tiered_index::add(std::uint32_t label, std::span<const float> vector, const entry_times& times, utc_time now) {
  impl& s = *_impl;
  if (vector.size() != s.dims)
    return fail(errc::invalid_argument, "Failed to add vector: it has {} dimensions, the index {}", vector.size(),
                s.dims);
  std::vector<float> v(vector.begin(), vector.end());
  if (!normalise(v)) return fail(errc::invalid_argument, "Failed to add vector: it is zero or holds NaN/Inf");
  const tier t = s.target(times, now, s.params.policy);
  if (auto it = s.entries.find(label); it != s.entries.end()) {
    s.unplace(label, it->second);
    s.entries.erase(it);
  }
  entry_meta m;
  m.times = times;
  if (auto st = s.place(label, v, t, m); !st) return st;
  s.entries.emplace(label, m);
  return {};
}

status tiered_index::add_batch(std::span<const std::uint32_t> labels, std::span<const float> rows,
                               std::span<const entry_times> times, utc_time now, unsigned threads,
                               const std::function<void(std::size_t)>& progress) {
  impl& s = *_impl;
  const std::size_t n = labels.size();
  if (rows.size() != n * s.dims || times.size() != n)
    return fail(errc::invalid_argument, "Failed to add vectors: {} labels, {} floats and {} histories do not match",
                n, rows.size(), times.size());
  std::vector<std::uint32_t> hot_labels;
  std::vector<float> hot_rows;
  std::vector<std::size_t> hot_rows_at, other;  // row numbers going to the graph / elsewhere
  for (std::size_t i = 0; i < n; ++i) {
    if (auto it = s.entries.find(labels[i]); it != s.entries.end()) {
      s.unplace(labels[i], it->second);
      s.entries.erase(it);
    }
    if (s.target(times[i], now, s.params.policy) == tier::hot) {
      hot_labels.push_back(labels[i]);
      hot_rows_at.push_back(i);
      hot_rows.insert(hot_rows.end(), rows.begin() + static_cast<std::ptrdiff_t>(i * s.dims),
                      rows.begin() + static_cast<std::ptrdiff_t>((i + 1) * s.dims));
    } else {
      other.push_back(i);
    }
  }
  if (auto st = s.hot.add_batch(hot_labels, hot_rows, threads, progress); !st) return st;
  for (std::size_t i : hot_rows_at) {
    entry_meta m;
    m.times = times[i];
    s.entries[labels[i]] = m;
  }
  if (!s.sq_trained) {
    std::vector<std::vector<float>> sample;
    for (std::size_t i : other) {
      if (sample.size() >= sq_train_max) break;
      if (s.target(times[i], now, s.params.policy) != tier::warm) continue;
      std::vector<float> v(rows.begin() + static_cast<std::ptrdiff_t>(i * s.dims),
                           rows.begin() + static_cast<std::ptrdiff_t>((i + 1) * s.dims));
      if (normalise(v)) sample.push_back(std::move(v));
    }
    if (!sample.empty()) s.train_sq(sample);
  }
  for (std::size_t i : other) {
    if (auto st = add(labels[i], rows.subspan(i * s.dims, s.dims), times[i], now); !st) return st;
  }
  s.warm_labels.shrink_to_fit();
  s.warm_codes.shrink_to_fit();
  s.cold_labels.shrink_to_fit();
  s.cold_codes.shrink_to_fit();
  return {};
}

status tiered_index::add(std::uint32_t label, std::span<const float> vector, utc_time now) {
  entry_times t;
  t.created = now;
  return add(label, vector, t, now);
}

bool tiered_index::remove(std::uint32_t label) {
  auto it = _impl->entries.find(label);
  if (it == _impl->entries.end()) return false;
  _impl->unplace(label, it->second);
  _impl->entries.erase(label);
  return true;
}

void tiered_index::touch(std::uint32_t label, utc_time now) {
  auto it = _impl->entries.find(label);
  if (it == _impl->entries.end()) return;
  entry_times& t = it->second.times;
  if (t.hits_since == utc_time{}) t.hits_since = t.created;
  if (days(t.hits_since, now) > _impl->params.policy.hot_days) {
    t.hits = 0;
    t.hits_since = now;
  }
  ++t.hits;
  t.last_access = std::max(t.last_access, now);
}

retier_report tiered_index::retier(utc_time now, const tier_policy& policy, const fetch_fn& fetch_full) {
  impl& s = *_impl;
  retier_report report;
  std::vector<std::pair<std::uint32_t, tier>> moves;
  for (const auto& [label, m] : s.entries) {
    const tier t = s.target(m.times, now, policy);
    if (t != m.where) moves.emplace_back(label, t);
  }
  // Train the SQ8 ranges on what is about to become warm before encoding any of it.
  if (!s.sq_trained) {
    std::vector<std::vector<float>> going_warm;
    for (const auto& [label, t] : moves) {
      if (t != tier::warm || going_warm.size() >= sq_train_max) continue;
      if (auto v = s.vector_of(label, s.entries[label], fetch_full)) going_warm.push_back(std::move(*v));
    }
    if (!going_warm.empty()) s.train_sq(going_warm);
  }
  for (const auto& [label, t] : moves) {
    entry_meta& m = s.entries[label];
    auto v = s.vector_of(label, m, fetch_full);
    if (!v) {
      ++report.unfetched;
      continue;
    }
    s.unplace(label, m);
    if (!s.place(label, *v, t, m)) {
      ++report.unfetched;  // cannot happen for a vector the index held; keep it counted
      continue;
    }
    ++(t == tier::hot ? report.to_hot : t == tier::warm ? report.to_warm : report.to_cold);
  }
  if (!moves.empty()) {
    s.compact_hot();
    s.warm_labels.shrink_to_fit();
    s.warm_codes.shrink_to_fit();
    s.cold_labels.shrink_to_fit();
    s.cold_codes.shrink_to_fit();
  }
  return report;
}

retier_report tiered_index::retier(utc_time now, const fetch_fn& fetch_full) {
  return retier(now, _impl->params.policy, fetch_full);
}

std::vector<hit> tiered_index::search(std::span<const float> query, std::size_t k, const filter_fn& filter,
                                      const fetch_fn& fetch_full) const {
  const impl& s = *_impl;
  std::vector<hit> all;
  if (k == 0 || query.size() != s.dims) return all;
  std::vector<float> q(query.begin(), query.end());
  if (!normalise(q)) return all;
  const kernel_set& kern = kernels();

  all = s.hot.search(q, k, filter);

  // Candidates from the compressed tiers, best by their code's estimate.
  std::vector<std::pair<float, std::uint32_t>> candidates;
  if (!s.warm_labels.empty()) {
    auto [scaled, offset] = s.sq_query(q);
    best_n best(k * std::max<std::uint32_t>(s.params.warm_rerank, 1));
    const std::uint8_t* code = s.warm_codes.data();
    for (std::size_t i = 0; i < s.warm_labels.size(); ++i, code += s.dims) {
      const float score = offset + kern.dot_u8(scaled.data(), code, s.dims);
      if (best.wants(score) && (!filter || filter(s.warm_labels[i]))) best.push(score, s.warm_labels[i]);
    }
    auto w = best.take();
    candidates.insert(candidates.end(), w.begin(), w.end());
  }
  if (!s.cold_labels.empty()) {
    std::vector<std::uint8_t> qbits(s.code_bytes);
    s.sign_bits(q, qbits.data());
    best_n best(k * std::max<std::uint32_t>(s.params.cold_rerank, 1));
    const double bits = s.dims;
    const std::uint8_t* code = s.cold_codes.data();
    for (std::size_t i = 0; i < s.cold_labels.size(); ++i, code += s.code_bytes) {
      // Rank by −hamming (cheap); the cosine estimate is computed for the survivors only.
      const float score = -static_cast<float>(kern.hamming(qbits.data(), code, s.code_bytes));
      if (best.wants(score) && (!filter || filter(s.cold_labels[i]))) best.push(score, s.cold_labels[i]);
    }
    for (auto [neg_h, label] : best.take())
      candidates.emplace_back(static_cast<float>(std::cos(std::numbers::pi * -neg_h / bits)), label);
  }
  // Re-rank with full precision where the caller can supply it.
  for (auto [score, label] : candidates) {
    if (fetch_full) {
      if (auto v = fetch_full(label); v && v->size() == s.dims && normalise(*v))
        score = kern.dot(q.data(), v->data(), s.dims);
    }
    all.push_back(hit{label, score});
  }
  std::sort(all.begin(), all.end(), [](const hit& a, const hit& b) {
    return a.similarity != b.similarity ? a.similarity > b.similarity : a.label < b.label;
  });
  if (all.size() > k) all.resize(k);
  return all;
}

std::optional<tier> tiered_index::tier_of(std::uint32_t label) const {
  auto it = _impl->entries.find(label);
  if (it == _impl->entries.end()) return std::nullopt;
  return it->second.where;
}

std::optional<entry_times> tiered_index::times(std::uint32_t label) const {
  auto it = _impl->entries.find(label);
  if (it == _impl->entries.end()) return std::nullopt;
  return it->second.times;
}

bool tiered_index::contains(std::uint32_t label) const { return _impl->entries.count(label) > 0; }
std::size_t tiered_index::size() const { return _impl->entries.size(); }

tier_stats tiered_index::stats() const {
  const impl& s = *_impl;
  tier_stats st;
  st.hot = s.hot.size();
  st.warm = s.warm_labels.size();
  st.cold = s.cold_labels.size();
  st.hot_bytes = s.hot.memory_bytes();
  st.warm_bytes = s.warm_codes.capacity() + s.warm_labels.capacity() * sizeof(std::uint32_t) +
                  s.sq.trained.capacity() * sizeof(float);
  st.cold_bytes = s.cold_codes.capacity() + s.cold_labels.capacity() * sizeof(std::uint32_t);
  // unordered_map node: next pointer + key + entry_meta (+ padding); buckets are pointers.
  st.meta_bytes = s.entries.bucket_count() * sizeof(void*) +
                  s.entries.size() * (sizeof(void*) + sizeof(std::pair<const std::uint32_t, entry_meta>));
  return st;
}

void tiered_index::set_ef(std::size_t ef) { _impl->hot.set_ef(ef); }
std::uint32_t tiered_index::dims() const { return _impl->dims; }
const tiered_params& tiered_index::params() const { return _impl->params; }
const hnsw_index& tiered_index::hot() const { return _impl->hot; }

status tiered_index::save(const std::string& dir) const {
  const impl& s = *_impl;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return fail(errc::io, "Failed to create index directory '{}': {}", dir, ec.message());
  if (auto st = s.hot.save(dir + "/hot.hnsw"); !st) return st;
  detail::file_writer w(dir + "/tiers.bin");
  if (auto st = w.open(); !st) return st;
  w.write(tiers_magic, sizeof tiers_magic);
  w.pod(tiers_version);
  w.pod(s.dims);
  w.pod(static_cast<std::uint8_t>(s.sq_trained));
  if (s.sq_trained) w.write(s.sq.trained.data(), 2 * s.dims * sizeof(float));
  w.pod(static_cast<std::uint64_t>(s.entries.size()));
  for (const auto& [label, m] : s.entries) {
    w.pod(label);
    w.pod(static_cast<std::uint8_t>(m.where));
    w.pod(ns(m.times.created));
    w.pod(ns(m.times.last_access));
    w.pod(m.times.hits);
    w.pod(ns(m.times.hits_since));
  }
  w.pod(static_cast<std::uint64_t>(s.warm_labels.size()));
  w.write(s.warm_labels.data(), s.warm_labels.size() * sizeof(std::uint32_t));
  w.write(s.warm_codes.data(), s.warm_codes.size());
  w.pod(static_cast<std::uint64_t>(s.cold_labels.size()));
  w.write(s.cold_labels.data(), s.cold_labels.size() * sizeof(std::uint32_t));
  w.write(s.cold_codes.data(), s.cold_codes.size());
  return w.commit();
}

result<tiered_index> tiered_index::load(const std::string& dir, std::uint32_t dims, tiered_params params) {
  auto hot = hnsw_index::load(dir + "/hot.hnsw", dims);
  if (!hot) return hot.take_error();
  const std::string path = dir + "/tiers.bin";
  detail::file_reader r(path);
  if (auto st = r.open(); !st) return st.take_error();
  auto bad = [&](std::string_view why) {
    return fail(errc::malformed, "Failed to load vector tiers '{}': {}", path, why);
  };
  auto im = std::make_unique<impl>(dims, params);
  impl& s = *im;
  s.params.hnsw.M = hot->params().M;
  s.params.hnsw.ef_construction = hot->params().ef_construction;
  hot->set_ef(params.hnsw.ef_search);
  s.hot = std::move(*hot);

  char magic[8];
  std::uint32_t version = 0, file_dims = 0;
  std::uint8_t trained = 0;
  if (!r.read(magic, sizeof magic) || !r.pod(version) || !r.pod(file_dims) || !r.pod(trained))
    return bad("the file is truncated (header)");
  if (std::memcmp(magic, tiers_magic, sizeof magic) != 0) return bad("not a weft tier file (bad magic)");
  if (version != tiers_version) return bad(fmt::format("unsupported version {}", version));
  if (file_dims != dims) return bad(fmt::format("it holds {}-dimensional vectors, expected {}", file_dims, dims));
  if (trained > 1) return bad("invalid SQ8 flag");
  if (trained) {
    s.sq.trained.resize(2 * dims);
    if (!r.read(s.sq.trained.data(), 2 * dims * sizeof(float))) return bad("the file is truncated (SQ8 ranges)");
    s.sq_trained = true;
  }
  std::uint64_t count = 0;
  constexpr std::size_t entry_bytes = 4 + 1 + 8 + 8 + 4 + 8;
  if (!r.pod(count) || count > r.remaining() / entry_bytes) return bad("the file is truncated (entries)");
  s.entries.reserve(count);
  std::size_t hot_count = 0;
  for (std::uint64_t i = 0; i < count; ++i) {
    std::uint32_t label = 0;
    std::uint8_t t = 0;
    std::int64_t created = 0, last = 0, since = 0;
    entry_meta m;
    m.slot = unplaced;
    if (!r.pod(label) || !r.pod(t) || !r.pod(created) || !r.pod(last) || !r.pod(m.times.hits) || !r.pod(since))
      return bad("the file is truncated (entries)");
    if (t > 2) return bad("invalid tier");
    m.where = static_cast<tier>(t);
    m.times.created = from_ns(created);
    m.times.last_access = from_ns(last);
    m.times.hits_since = from_ns(since);
    if (m.where == tier::hot) {
      if (!s.hot.contains(label)) return bad("a hot entry is missing from the graph");
      ++hot_count;
    }
    if (!s.entries.emplace(label, m).second) return bad("a label appears twice");
  }
  if (hot_count != s.hot.size()) return bad("the graph and the tier file disagree");
  auto read_tier = [&](tier t, std::vector<std::uint32_t>& labels, std::vector<std::uint8_t>& codes,
                       std::size_t width) -> status {
    std::uint64_t n = 0;
    if (!r.pod(n) || n > r.remaining() / (4 + width)) return bad("the file is truncated (codes)");
    labels.resize(n);
    codes.resize(n * width);
    if (!r.read(labels.data(), n * 4) || !r.read(codes.data(), n * width)) return bad("the file is truncated (codes)");
    for (std::uint32_t i = 0; i < n; ++i) {
      auto it = s.entries.find(labels[i]);
      if (it == s.entries.end() || it->second.where != t || it->second.slot != unplaced)
        return bad("codes and entries disagree");
      it->second.slot = i;
    }
    return {};
  };
  if (auto st = read_tier(tier::warm, s.warm_labels, s.warm_codes, dims); !st) return st.take_error();
  if (auto st = read_tier(tier::cold, s.cold_labels, s.cold_codes, s.code_bytes); !st) return st.take_error();
  if (!s.warm_labels.empty() && !s.sq_trained) return bad("warm codes without SQ8 ranges");
  if (hot_count + s.warm_labels.size() + s.cold_labels.size() != s.entries.size())
    return bad("codes and entries disagree");
  if (auto st = r.finish(); !st) return st.take_error();
  return tiered_index(std::move(im));
}

}  // namespace weft::vecindex
