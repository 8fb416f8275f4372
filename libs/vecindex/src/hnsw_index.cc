// hnsw_index: hnswlib's graph with our kernels, our search loop (filters, removed
// entries) and our file format (validated before anything is trusted).
//
// This is the only translation unit that includes hnswlib: its hnswlib.h defines
// non-inline functions (cpuid, AVXCapable, …) that would clash at link time otherwise.

#include <weft/vecindex/hnsw_index.hh>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <fstream>
#include <iostream>
#include <limits>
#include <mutex>
#include <queue>
#include <stdexcept>
#include <thread>
#include <unordered_set>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wtype-limits"
#include <hnswlib/hnswlib.h>
#pragma GCC diagnostic pop

#include "file_io.hh"
#include "kernels_impl.hh"

namespace weft::vecindex {

using graph_t = hnswlib::HierarchicalNSW<float>;
using hnswlib::tableint;

namespace {

constexpr char file_magic[8] = {'W', 'E', 'F', 'T', 'H', 'N', 'S', 'W'};
constexpr std::uint32_t file_version = 1;

/// Inner-product space (distance = 1 − dot) with the kernel chosen at startup.
class ip_space final : public hnswlib::SpaceInterface<float> {
 public:
  explicit ip_space(std::size_t dims) : _dims(dims), _fn(detail::ip_distance()) {}
  std::size_t get_data_size() override { return _dims * sizeof(float); }
  hnswlib::DISTFUNC<float> get_dist_func() override { return _fn; }
  void* get_dist_func_param() override { return &_dims; }

 private:
  std::size_t _dims;
  hnswlib::DISTFUNC<float> _fn;
};

}  // namespace

bool normalise(std::span<float> v) {
  double sum = 0;
  for (float x : v) {
    if (!std::isfinite(x)) return false;
    sum += static_cast<double>(x) * x;
  }
  if (!(sum > 0) || !std::isfinite(sum)) return false;
  const float inv = static_cast<float>(1.0 / std::sqrt(sum));
  for (float& x : v) x *= inv;
  return true;
}

struct hnsw_index::impl {
  impl(std::uint32_t d, hnsw_params p) : dims(d), params(p), space(d), ef(std::max<std::uint32_t>(p.ef_search, 1)) {}

  std::uint32_t dims;
  hnsw_params params;
  ip_space space;
  std::unique_ptr<graph_t> g;
  std::size_t ef;

  const tableint* find(std::uint32_t label) const {
    auto it = g->label_lookup_.find(label);
    if (it == g->label_lookup_.end()) return nullptr;
    return &it->second;
  }

  status ensure_capacity(std::size_t needed) {
    if (needed <= g->max_elements_) return {};
    // Doubling keeps single adds amortised O(1); a big batch gets exactly what it needs.
    const std::size_t cap = std::max<std::size_t>({needed, g->max_elements_ * 2, 16});
    try {
      g->resizeIndex(cap);
    } catch (const std::exception& e) {
      return fail(errc::unavailable, "Failed to grow the vector index to {} entries: {}", cap, e.what());
    }
    return {};
  }

  status prepare(std::span<const float> v, std::vector<float>& out) const {
    if (v.size() != dims)
      return fail(errc::invalid_argument, "Failed to add vector: it has {} dimensions, the index {}", v.size(),
                  dims);
    out.assign(v.begin(), v.end());
    if (!normalise(out))
      return fail(errc::invalid_argument, "Failed to add vector: it is zero or holds NaN/Inf");
    return {};
  }
};

hnsw_index::hnsw_index(std::uint32_t dims, hnsw_params params) : _impl(std::make_unique<impl>(dims, params)) {
  params.M = std::clamp<std::uint32_t>(params.M, 2, 1024);
  _impl->params.M = params.M;
  _impl->g = std::make_unique<graph_t>(&_impl->space, std::max<std::size_t>(params.capacity, 1), params.M,
                                       params.ef_construction, params.seed);
}

hnsw_index::hnsw_index(std::unique_ptr<impl> p) : _impl(std::move(p)) {}
hnsw_index::~hnsw_index() = default;
hnsw_index::hnsw_index(hnsw_index&&) noexcept = default;
hnsw_index& hnsw_index::operator=(hnsw_index&&) noexcept = default;

status hnsw_index::add(std::uint32_t label, std::span<const float> vector) {
  std::vector<float> v;
  if (auto s = _impl->prepare(vector, v); !s) return s;
  if (!_impl->find(label)) {
    if (auto s = _impl->ensure_capacity(_impl->g->cur_element_count + 1); !s) return s;
  }
  try {
    _impl->g->addPoint(v.data(), label);
  } catch (const std::exception& e) {
    return fail(errc::unavailable, "Failed to add vector {}: {}", label, e.what());
  }
  return {};
}

status hnsw_index::add_batch(std::span<const std::uint32_t> labels, std::span<const float> rows, unsigned threads,
                             const std::function<void(std::size_t)>& progress) {
  const std::size_t n = labels.size();
  if (rows.size() != n * _impl->dims)
    return fail(errc::invalid_argument, "Failed to add vectors: {} floats for {} vectors of {} dimensions",
                rows.size(), n, _impl->dims);
  std::unordered_set<std::uint32_t> seen;
  seen.reserve(n);
  std::size_t fresh = 0;
  for (auto l : labels) {
    if (!seen.insert(l).second)
      return fail(errc::invalid_argument, "Failed to add vectors: label {} appears twice in the batch", l);
    if (!_impl->find(l)) ++fresh;
  }
  if (auto s = _impl->ensure_capacity(_impl->g->cur_element_count + fresh); !s) return s;
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  threads = static_cast<unsigned>(std::min<std::size_t>(threads, std::max<std::size_t>(n, 1)));

  std::atomic<std::size_t> next{0}, done{0};
  std::atomic<bool> stop{false};
  std::mutex err_mu;
  std::optional<error> first_error;
  auto work = [&](bool report) {
    std::vector<float> v;
    const std::size_t step = std::max<std::size_t>(n / 100, 1);
    std::size_t next_report = step;
    while (!stop.load(std::memory_order_relaxed)) {
      std::size_t i = next.fetch_add(1);
      if (i >= n) break;
      status s = _impl->prepare(rows.subspan(i * _impl->dims, _impl->dims), v);
      if (s) {
        try {
          _impl->g->addPoint(v.data(), labels[i]);
        } catch (const std::exception& e) {
          s = fail(errc::unavailable, "Failed to add vector {}: {}", labels[i], e.what());
        }
      }
      if (!s) {
        std::lock_guard lock(err_mu);
        if (!first_error) first_error = s.err();
        stop = true;
        break;
      }
      std::size_t d = done.fetch_add(1) + 1;
      if (report && progress && d >= next_report) {
        progress(d);
        next_report = d + step;
      }
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work, false);
  work(true);
  for (auto& t : pool) t.join();
  if (first_error) return *first_error;
  if (progress) progress(done.load());
  return {};
}

bool hnsw_index::remove(std::uint32_t label) {
  const tableint* id = _impl->find(label);
  if (!id || _impl->g->isMarkedDeleted(*id)) return false;
  _impl->g->markDelete(label);
  return true;
}

bool hnsw_index::contains(std::uint32_t label) const {
  const tableint* id = _impl->find(label);
  return id && !_impl->g->isMarkedDeleted(*id);
}

std::optional<std::vector<float>> hnsw_index::get(std::uint32_t label) const {
  const tableint* id = _impl->find(label);
  if (!id || _impl->g->isMarkedDeleted(*id)) return std::nullopt;
  auto p = reinterpret_cast<const float*>(_impl->g->getDataByInternalId(*id));
  return std::vector<float>(p, p + _impl->dims);
}

std::vector<hit> hnsw_index::search(std::span<const float> query, std::size_t k, const filter_fn& filter) const {
  graph_t& g = *_impl->g;
  std::vector<hit> out;
  if (k == 0 || query.size() != _impl->dims || g.cur_element_count == g.num_deleted_) return out;
  std::vector<float> qv(query.begin(), query.end());
  if (!normalise(qv)) return out;
  const void* q = qv.data();
  const auto dist = g.fstdistfunc_;
  const void* param = g.dist_func_param_;

  // Greedy descent through the upper layers (removed nodes still route).
  tableint cur = g.enterpoint_node_;
  float curdist = dist(q, g.getDataByInternalId(cur), param);
  for (int level = g.maxlevel_; level > 0; --level) {
    bool changed = true;
    while (changed) {
      changed = false;
      const unsigned int* data = g.get_linklist(cur, level);
      const int size = g.getListCount(const_cast<unsigned int*>(data));
      const tableint* links = reinterpret_cast<const tableint*>(data + 1);
      for (int i = 0; i < size; ++i) {
        const float d = dist(q, g.getDataByInternalId(links[i]), param);
        if (d < curdist) {
          curdist = d;
          cur = links[i];
          changed = true;
        }
      }
    }
  }

  // Bottom layer: best-first search keeping `ef` results that pass the filter. With
  // removals or a filter the search continues until `ef` allowed results are held
  // (hnswlib 0.7's rule), so a selective filter widens the search instead of losing hits.
  const std::size_t ef = std::max(_impl->ef, k);
  const bool restricted = g.num_deleted_ > 0 || static_cast<bool>(filter);
  auto allowed = [&](tableint id) {
    if (g.num_deleted_ && g.isMarkedDeleted(id)) return false;
    return !filter || filter(static_cast<std::uint32_t>(g.getExternalLabel(id)));
  };
  using entry = std::pair<float, tableint>;
  std::priority_queue<entry> top;                                              // worst on top
  std::priority_queue<entry, std::vector<entry>, std::greater<entry>> frontier;  // best on top
  hnswlib::VisitedList* vl = g.visited_list_pool_->getFreeVisitedList();
  hnswlib::vl_type* visited = vl->mass;
  const hnswlib::vl_type tag = vl->curV;

  float bound = std::numeric_limits<float>::max();
  if (allowed(cur)) {
    top.emplace(curdist, cur);
    bound = curdist;
  }
  frontier.emplace(curdist, cur);
  visited[cur] = tag;
  while (!frontier.empty()) {
    const entry c = frontier.top();
    if (c.first > bound && (top.size() >= ef || !restricted)) break;
    frontier.pop();
    const unsigned int* data = g.get_linklist0(c.second);
    const std::size_t size = g.getListCount(const_cast<unsigned int*>(data));
    const tableint* links = reinterpret_cast<const tableint*>(data + 1);
    if (size) __builtin_prefetch(g.getDataByInternalId(links[0]));
    for (std::size_t j = 0; j < size; ++j) {
      const tableint id = links[j];
      if (j + 1 < size) {
        __builtin_prefetch(visited + links[j + 1]);
        __builtin_prefetch(g.getDataByInternalId(links[j + 1]));
      }
      if (visited[id] == tag) continue;
      visited[id] = tag;
      const float d = dist(q, g.getDataByInternalId(id), param);
      if (top.size() < ef || d < bound) {
        frontier.emplace(d, id);
        if (allowed(id)) {
          top.emplace(d, id);
          if (top.size() > ef) top.pop();
          bound = top.top().first;
        }
      }
    }
  }
  g.visited_list_pool_->releaseVisitedList(vl);

  while (top.size() > k) top.pop();
  out.resize(top.size());
  for (std::size_t i = out.size(); i-- > 0;) {
    out[i] = hit{static_cast<std::uint32_t>(g.getExternalLabel(top.top().second)), 1.0f - top.top().first};
    top.pop();
  }
  return out;
}

void hnsw_index::set_ef(std::size_t ef) { _impl->ef = std::max<std::size_t>(ef, 1); }
std::size_t hnsw_index::ef() const { return _impl->ef; }
std::uint32_t hnsw_index::dims() const { return _impl->dims; }
const hnsw_params& hnsw_index::params() const { return _impl->params; }
std::size_t hnsw_index::size() const { return _impl->g->cur_element_count - _impl->g->num_deleted_; }
std::size_t hnsw_index::slots() const { return _impl->g->cur_element_count; }

std::size_t hnsw_index::memory_bytes() const {
  const graph_t& g = *_impl->g;
  std::size_t bytes = g.max_elements_ * g.size_data_per_element_;       // vectors + level-0 links + labels
  bytes += g.max_elements_ * (sizeof(void*) + sizeof(int) + sizeof(std::mutex));  // linkLists_, levels, locks
  bytes += graph_t::max_update_element_locks * sizeof(std::mutex);
  bytes += g.max_elements_ * sizeof(hnswlib::vl_type);                   // one visited list (more while threads search)
  for (std::size_t i = 0; i < g.cur_element_count; ++i)
    if (g.element_levels_[i] > 0) bytes += g.size_links_per_element_ * static_cast<std::size_t>(g.element_levels_[i]) + 1;
  // unordered_map: bucket array plus one node (next pointer, key, value, cached hash) per entry.
  bytes += g.label_lookup_.bucket_count() * sizeof(void*) + g.label_lookup_.size() * 32;
  return bytes;
}

status hnsw_index::save(const std::string& path) const {
  const graph_t& g = *_impl->g;
  detail::file_writer w(path);
  if (auto s = w.open(); !s) return s;
  w.write(file_magic, sizeof file_magic);
  w.pod(file_version);
  w.pod(_impl->dims);
  w.pod(static_cast<std::uint64_t>(g.M_));
  w.pod(static_cast<std::uint64_t>(g.ef_construction_));
  w.pod(static_cast<std::uint64_t>(g.cur_element_count));
  w.pod(static_cast<std::uint64_t>(g.size_data_per_element_));
  w.pod(static_cast<std::int32_t>(g.maxlevel_));
  w.pod(static_cast<std::uint32_t>(g.enterpoint_node_));
  w.write(g.data_level0_memory_, g.cur_element_count * g.size_data_per_element_);
  for (std::size_t i = 0; i < g.cur_element_count; ++i) {
    const auto level = static_cast<std::uint32_t>(std::max(g.element_levels_[i], 0));
    w.pod(level);
    if (level) w.write(g.linkLists_[i], g.size_links_per_element_ * level);
  }
  return w.commit();
}

result<hnsw_index> hnsw_index::load(const std::string& path, std::uint32_t dims) {
  detail::file_reader r(path);
  if (auto s = r.open(); !s) return s.take_error();
  auto bad = [&](std::string_view why) {
    return fail(errc::malformed, "Failed to load vector index '{}': {}", path, why);
  };
  char magic[8];
  std::uint32_t version = 0, file_dims = 0, enterpoint = 0;
  std::uint64_t M = 0, efc = 0, count = 0, sdpe = 0;
  std::int32_t maxlevel = 0;
  if (!r.read(magic, sizeof magic) || !r.pod(version) || !r.pod(file_dims) || !r.pod(M) || !r.pod(efc) ||
      !r.pod(count) || !r.pod(sdpe) || !r.pod(maxlevel) || !r.pod(enterpoint))
    return bad("the file is truncated (header)");
  if (std::memcmp(magic, file_magic, sizeof magic) != 0) return bad("not a weft vector index (bad magic)");
  if (version != file_version) return bad(fmt::format("unsupported version {}", version));
  if (file_dims != dims)
    return fail(errc::malformed, "Failed to load vector index '{}': it holds {}-dimensional vectors, expected {}",
                path, file_dims, dims);
  if (M < 2 || M > 1024 || efc > 1'000'000) return bad("implausible parameters");
  if (count > std::numeric_limits<std::uint32_t>::max()) return bad("implausible entry count");

  hnsw_params p;
  p.M = static_cast<std::uint32_t>(M);
  p.ef_construction = static_cast<std::uint32_t>(efc);
  auto im = std::make_unique<impl>(dims, p);
  const std::size_t expect_sdpe = 2 * M * sizeof(tableint) + sizeof(unsigned int) + dims * sizeof(float) +
                                  sizeof(hnswlib::labeltype);
  if (sdpe != expect_sdpe) return bad("record size does not match the parameters");
  // Bound every allocation by what the file can hold before allocating it.
  if (count * sdpe > r.remaining()) return bad("the file is truncated (vectors)");
  if (count > 0 && (maxlevel < 0 || maxlevel > 64 || enterpoint >= count)) return bad("invalid entry point");

  try {
    im->g = std::make_unique<graph_t>(&im->space, std::max<std::size_t>(count, 16), M, efc, p.seed);
  } catch (const std::exception& e) {
    return fail(errc::unavailable, "Failed to load vector index '{}': {}", path, e.what());
  }
  graph_t& g = *im->g;
  if (g.size_data_per_element_ != sdpe) return bad("record size does not match this build");
  if (!r.read(g.data_level0_memory_, count * sdpe)) return bad("the file is truncated (vectors)");
  g.cur_element_count = count;  // element_levels_ are 0: the destructor frees only what we set below
  for (std::size_t i = 0; i < count; ++i) {
    std::uint32_t level = 0;
    if (!r.pod(level)) return bad("the file is truncated (links)");
    if (level == 0) {
      g.linkLists_[i] = nullptr;
      continue;
    }
    if (level > static_cast<std::uint32_t>(maxlevel)) return bad("a node is above the top level");
    const std::size_t bytes = g.size_links_per_element_ * level;
    if (bytes > r.remaining()) return bad("the file is truncated (links)");
    g.linkLists_[i] = static_cast<char*>(std::malloc(bytes + 1));
    if (!g.linkLists_[i]) return fail(errc::unavailable, "Failed to load vector index '{}': out of memory", path);
    g.element_levels_[i] = static_cast<int>(level);
    if (!r.read(g.linkLists_[i], bytes)) return bad("the file is truncated (links)");
  }
  if (auto s = r.finish(); !s) return s.take_error();

  // The checksum matched; still check the structure so no index file can make a search
  // read outside the graph.
  for (std::size_t i = 0; i < count; ++i) {
    const auto label = g.getExternalLabel(static_cast<tableint>(i));
    if (label > std::numeric_limits<std::uint32_t>::max()) return bad("a label is out of range");
    if (!g.label_lookup_.emplace(label, static_cast<tableint>(i)).second) return bad("a label appears twice");
    for (int level = 0; level <= g.element_levels_[i]; ++level) {
      unsigned int* ll = g.get_linklist_at_level(static_cast<tableint>(i), level);
      const std::size_t n = g.getListCount(ll);
      if (n > (level == 0 ? g.maxM0_ : g.maxM_)) return bad("a node has too many links");
      const tableint* links = reinterpret_cast<const tableint*>(ll + 1);
      for (std::size_t j = 0; j < n; ++j)
        if (links[j] >= count || g.element_levels_[links[j]] < level) return bad("a link points outside the graph");
    }
    if (g.isMarkedDeleted(static_cast<tableint>(i))) ++g.num_deleted_;
  }
  if (count > 0 && g.element_levels_[enterpoint] != maxlevel) return bad("invalid entry point");
  g.enterpoint_node_ = count > 0 ? enterpoint : static_cast<tableint>(-1);
  g.maxlevel_ = count > 0 ? maxlevel : -1;
  return hnsw_index(std::move(im));
}

}  // namespace weft::vecindex
