#pragma once
/// Approximate nearest-neighbour search over normalised vectors (cosine similarity) with
/// an HNSW graph (hnswlib), so the memory service answers a vector query in well under a
/// millisecond at 100K entries instead of scanning them all.
///
/// Thread safety: one writer. `add`, `add_batch`, `remove`, `set_ef` and assignment need
/// exclusive access; the const members (`search`, `get`, `size`, `save`, …) may run
/// concurrently with each other but not with a writer (guard with a std::shared_mutex).
/// `add_batch` uses several threads internally and is itself a writer.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <weft/base/result.hh>

namespace weft::vecindex {

/// One search result: the caller's label and the cosine similarity to the query
/// (1 = same direction, 0 = orthogonal, -1 = opposite).
struct hit {
  std::uint32_t label = 0;
  float similarity = 0;
  bool operator==(const hit&) const = default;
};

/// A search filter: true keeps the label. An empty function keeps everything.
using filter_fn = std::function<bool(std::uint32_t label)>;

/// HNSW parameters. Larger M and ef_construction give better recall at the cost of RAM
/// and build time; ef_search trades query time for recall and can change at any time.
struct hnsw_params {
  std::uint32_t M = 16;                ///< links per node (2·M on the bottom layer)
  std::uint32_t ef_construction = 200; ///< candidate list size while inserting
  std::uint32_t ef_search = 64;        ///< candidate list size while searching (≥ k is used)
  std::size_t capacity = 1024;         ///< initial slots; grows by doubling as needed
  std::uint64_t seed = 100;            ///< level generator seed (builds are reproducible single-threaded)
};

/// An HNSW index of `dims`-dimensional vectors keyed by 32-bit labels. Vectors are
/// normalised on the way in, so similarity is cosine whatever their length.
class hnsw_index {
 public:
  explicit hnsw_index(std::uint32_t dims, hnsw_params params = {});
  ~hnsw_index();
  hnsw_index(hnsw_index&&) noexcept;
  hnsw_index& operator=(hnsw_index&&) noexcept;

  /// Adds a vector, or replaces the vector of a label already present (a removed label
  /// comes back). Refuses a wrong dimension, a zero vector or NaN/Inf (InvalidArgument),
  /// and reports an allocation failure (Unavailable) instead of throwing.
  status add(std::uint32_t label, std::span<const float> vector);

  /// Adds `labels.size()` vectors stored row after row in `rows` with `threads` threads
  /// (0: hardware concurrency). `progress(done)` is called from the calling thread about
  /// every 1% of the batch. Stops at the first bad row and reports it.
  status add_batch(std::span<const std::uint32_t> labels, std::span<const float> rows,
                   unsigned threads = 0,
                   const std::function<void(std::size_t done)>& progress = {});

  /// Removes a label from search results (hnswlib marks it deleted; its slot stays in
  /// the graph until the index is rebuilt). False if the label is not present.
  bool remove(std::uint32_t label);

  /// True if the label is present and not removed.
  bool contains(std::uint32_t label) const;

  /// The stored (normalised) vector of a label, if present.
  std::optional<std::vector<float>> get(std::uint32_t label) const;

  /// The `k` most similar vectors that pass `filter`, best first. A query of the wrong
  /// dimension or a zero query gives no results. A filter that keeps few labels makes
  /// the search visit more of the graph (it stays correct, it gets slower).
  std::vector<hit> search(std::span<const float> query, std::size_t k,
                          const filter_fn& filter = {}) const;

  /// Sets ef_search (clamped to ≥ 1).
  void set_ef(std::size_t ef);
  std::size_t ef() const;

  std::uint32_t dims() const;
  const hnsw_params& params() const;
  /// Live (not removed) vectors.
  std::size_t size() const;
  /// Slots used, removed ones included.
  std::size_t slots() const;
  /// Bytes of RAM the index holds: vectors, graph links, label map, per-slot locks and
  /// the visited-list buffer (allocated capacity, not just used slots).
  std::size_t memory_bytes() const;

  /// Writes the index to `path` atomically (a temporary file, fsync, rename). The file
  /// carries a header (magic, version, dims, M) and a checksum over everything.
  status save(const std::string& path) const;

  /// Reads an index written by `save`. A missing file is NotFound; a file that is
  /// truncated, corrupted (checksum), of another dimension or structurally invalid is
  /// refused with Malformed — never a crash and never a partly loaded index.
  static result<hnsw_index> load(const std::string& path, std::uint32_t dims);

  struct impl;

 private:
  explicit hnsw_index(std::unique_ptr<impl> p);
  std::unique_ptr<impl> _impl;
};

/// Scales `v` to unit length in place. False if it is zero or not finite.
bool normalise(std::span<float> v);

}  // namespace weft::vecindex
