#pragma once
/// Temperature tiers for the memory service's vectors, so old, rarely used memories cost
/// a fraction of the RAM of new or popular ones and are still found:
///   hot  — full float32 precision in the HNSW graph (hnsw_index);
///   warm — 8-bit scalar codes (FAISS ScalarQuantizer QT_8bit, 1 byte per dimension),
///          scanned with a SIMD kernel;
///   cold — binary codes (the sign of each component: 384 dims → 48 bytes), scanned by
///          Hamming distance.
/// A search looks in all three tiers; warm and cold candidates are re-ranked with their
/// full-precision vectors, fetched through `fetch_fn` (the memory service reads them
/// from its segment files), so a cold entry scores exactly as it would if it were hot.
///
/// Thread safety: one writer (`add`, `remove`, `touch`, `retier`, `set_ef`); const
/// members may run concurrently with each other but not with a writer.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <weft/base/result.hh>
#include <weft/base/time.hh>
#include <weft/vecindex/hnsw_index.hh>

namespace weft::vecindex {

/// Where an entry's vector lives. Values are stored in index files: never renumber.
enum class tier : std::uint8_t { hot = 0, warm = 1, cold = 2 };

/// "hot", "warm", "cold".
std::string_view to_string(tier t);

/// When entries move (memory_settings hot_days, warm_days, hot_min_hits):
///   hot  if created less than `hot_days` ago, or accessed at least `hot_min_hits` times
///        in the last `hot_days`;
///   warm otherwise, if created or last accessed less than `warm_days` ago;
///   cold otherwise.
struct tier_policy {
  double hot_days = 7;
  double warm_days = 30;
  std::uint32_t hot_min_hits = 3;
};

/// An entry's history, as the memory service stores it.
struct entry_times {
  utc_time created{};
  utc_time last_access{};  ///< epoch (the default) = never accessed
  std::uint32_t hits = 0;  ///< accesses counted since `hits_since`
  utc_time hits_since{};   ///< start of the access-count window (epoch: `created`)
  bool operator==(const entry_times&) const = default;
};

/// Reads an entry's full-precision vector from outside the index (the segment files);
/// nullopt if it is not available.
using fetch_fn = std::function<std::optional<std::vector<float>>(std::uint32_t label)>;

struct tiered_params {
  hnsw_params hnsw;
  tier_policy policy;
  /// Candidates taken from the warm / cold scans per requested result, then re-ranked
  /// with full precision (warm codes rank well, binary codes need a wider net).
  std::uint32_t warm_rerank = 4;
  std::uint32_t cold_rerank = 20;
};

/// Counts and RAM per tier. `*_bytes` is what each tier's codes and graph hold;
/// `meta_bytes` the per-entry bookkeeping (times, label maps) shared by all tiers.
struct tier_stats {
  std::size_t hot = 0, warm = 0, cold = 0;
  std::size_t hot_bytes = 0, warm_bytes = 0, cold_bytes = 0, meta_bytes = 0;
  std::size_t total_bytes() const { return hot_bytes + warm_bytes + cold_bytes + meta_bytes; }
};

/// What a `retier` pass did.
struct retier_report {
  std::size_t to_hot = 0, to_warm = 0, to_cold = 0;
  std::size_t unfetched = 0;  ///< promotions skipped: fetch_full had no vector
};

class tiered_index {
 public:
  explicit tiered_index(std::uint32_t dims, tiered_params params = {});
  ~tiered_index();
  tiered_index(tiered_index&&) noexcept;
  tiered_index& operator=(tiered_index&&) noexcept;

  /// Adds (or replaces) an entry with its history, placed in the tier the policy gives
  /// at `now` — so a service that reloads old entries does not build a graph of them.
  /// Refuses a wrong dimension, a zero vector or NaN/Inf (InvalidArgument).
  status add(std::uint32_t label, std::span<const float> vector, const entry_times& times,
             utc_time now);
  /// Adds many entries at once (a service loading its store): `rows` holds the vectors
  /// row after row, `times[i]` belongs to `labels[i]`; the hot ones are inserted into the
  /// graph with `threads` threads (0: hardware concurrency). Stops at the first bad row.
  status add_batch(std::span<const std::uint32_t> labels, std::span<const float> rows,
                   std::span<const entry_times> times, utc_time now, unsigned threads = 0,
                   const std::function<void(std::size_t done)>& progress = {});
  /// A new entry: created now, never accessed, hot.
  status add(std::uint32_t label, std::span<const float> vector, utc_time now);

  /// Drops an entry from every tier. False if absent.
  bool remove(std::uint32_t label);

  /// Records one access (a search hit shown to the agent). Unknown labels are ignored.
  void touch(std::uint32_t label, utc_time now);

  /// Moves entries to the tier `policy` gives at `now`. Demotion uses the vectors the
  /// index holds (hot → warm/cold; warm → cold decodes the SQ8 code when `fetch_full`
  /// cannot supply the original); promotion to hot needs `fetch_full` (or the warm
  /// code, when fetch_full has nothing, which costs a little precision).
  retier_report retier(utc_time now, const tier_policy& policy, const fetch_fn& fetch_full = {});
  /// Same with the policy given at construction.
  retier_report retier(utc_time now, const fetch_fn& fetch_full = {});

  /// The `k` best entries passing `filter` across all tiers, best first. Warm and cold
  /// candidates are re-scored with `fetch_full` when it returns a vector; otherwise
  /// their similarity is the code's estimate (SQ8 dot product; cos(π·hamming/bits)).
  std::vector<hit> search(std::span<const float> query, std::size_t k, const filter_fn& filter = {},
                          const fetch_fn& fetch_full = {}) const;

  /// The tier an entry is in, if present.
  std::optional<tier> tier_of(std::uint32_t label) const;
  /// An entry's history, if present.
  std::optional<entry_times> times(std::uint32_t label) const;
  bool contains(std::uint32_t label) const;
  std::size_t size() const;
  tier_stats stats() const;

  /// ef_search of the hot graph.
  void set_ef(std::size_t ef);
  std::uint32_t dims() const;
  const tiered_params& params() const;
  /// The hot tier's graph (read-only access for diagnostics).
  const hnsw_index& hot() const;

  /// Writes the index into directory `dir` (created if missing): `hot.hnsw` (the graph)
  /// and `tiers.bin` (histories, SQ8 parameters, warm and cold codes; checksummed),
  /// each atomically.
  status save(const std::string& dir) const;
  /// Reads what `save` wrote; a truncated or corrupted file is Malformed, missing NotFound.
  static result<tiered_index> load(const std::string& dir, std::uint32_t dims,
                                   tiered_params params = {});

  struct impl;

 private:
  explicit tiered_index(std::unique_ptr<impl> p);
  std::unique_ptr<impl> _impl;
};

}  // namespace weft::vecindex
