#pragma once
/// One agent's memory inside the memory process: the durable store (segment files, the
/// active one the write-ahead log), and the indexes rebuilt from it — id and key maps,
/// BM25 over the texts, and the tiered vector index, checkpointed so a restart does not
/// rebuild the graph.
///
/// Writes follow one rule: a record is appended to the store first; the indexes change
/// only after commit() made it durable, and only then is the write acknowledged.

#include <deque>
#include <functional>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <weft/base/log.hh>
#include <weft/memstore/snapshot.hh>
#include <weft/memstore/store.hh>
#include <weft/service/config.hh>
#include <weft/textsearch/bm25.hh>
#include <weft/textsearch/hybrid.hh>
#include <weft/vecindex/tiered_index.hh>

#include "proto/memory_v1.hh"

namespace weft::memory {

/// What a Put did: the entry's id, and whether an entry with its key already existed.
struct put_outcome {
  std::string id;
  bool duplicate = false;
};

/// A search, decoded and with the query's vector when there is one.
struct search_request {
  proto::memory_v1::search req;
  std::optional<std::vector<float>> query_vector;
  std::string note;  ///< why the vector part is missing, when the caller wanted it
};

/// One text waiting for its embedding.
struct pending_text {
  std::uint32_t label;
  std::string id;  ///< the entry's id, checked when its vector comes back
  std::string text;
};

class memory_namespace {
 public:
  /// Opens (creating) the namespace of `agent` in `dir`: replays the store, loads the
  /// vector checkpoint when it matches, and re-queues entries that have no vector.
  /// `tick` is called every few thousand records during long work (replay, import,
  /// export, index updates), so the service can keep sending heartbeats.
  static result<std::unique_ptr<memory_namespace>> open(const std::filesystem::path& dir, const std::string& agent,
                                                        const service::memory_settings& settings,
                                                        std::function<void()> tick = {});
  ~memory_namespace();

  const std::string& agent() const { return _agent; }

  // --- writes: appended now, applied to the indexes by commit() ---
  result<put_outcome> put(const proto::memory_v1::put& p, utc_time now);
  result<std::uint64_t> forget(const std::vector<std::string>& ids);
  result<std::uint64_t> wipe();
  /// Stores a vector for an entry (from the llm's embeddings). Ignored when the entry is
  /// gone (or `id`, when given, is no longer the entry at `label`), or when the vector's
  /// model or dimension differs from the namespace's (reported once).
  status add_vector(std::uint32_t label, std::vector<float> v, const std::string& model, std::string_view id = {});
  /// Makes everything appended durable (one fdatasync), then applies it to the indexes.
  /// After a failure the namespace must be reopened: nothing since the last commit counts.
  status commit();
  bool dirty() const { return !_applied_ops.empty(); }

  // --- reads ---
  proto::memory_v1::results search(const search_request& s, utc_time now);
  proto::memory_v1::statistics statistics(const std::string& search_mode) const;
  /// Whether vector search can be used (some entry has a vector).
  bool has_vectors() const { return _vectors.has_value() && _vectors->size() > 0; }
  const std::string& embedder() const { return _model; }

  /// Up to `max` entries that still need a vector (each handed out once until requeue()).
  std::vector<pending_text> take_unembedded(std::size_t max);
  /// `n` texts handed out by take_unembedded came back (their vectors, if any, follow
  /// through add_vector).
  void embedded(std::size_t n);
  /// Puts labels whose embedding failed back at the front of the queue (counts as embedded).
  void requeue(const std::vector<std::uint32_t>& labels);
  std::size_t unembedded() const { return _unembedded.size() + _embedding; }
  /// The provider refused a batch: hand out the next `n` texts one at a time.
  void embed_singly(std::size_t n) { _single_embeds = std::max(_single_embeds, n); }
  bool single_embeds() const { return _single_embeds > 0; }
  /// The provider refused this entry's text on its own: it stays keyword-only.
  void unembeddable(std::uint32_t label);

  // --- maintenance ---
  /// Saves the vector index and the store position it covers (atomic), and moves entries
  /// between temperature tiers.
  status checkpoint(utc_time now);

  /// Writes a snapshot of every live entry and vector to `path`.
  result<memstore::snapshot_meta> export_to(const std::filesystem::path& path);
  /// Applies a snapshot that verify_snapshot accepted (`verified` is what it said): with
  /// `replace`, wipes first; an entry already present (same id and content, or same key)
  /// is skipped; one whose id is taken by another entry gets a new id. read_snapshot
  /// checks the file again before delivering anything.
  struct import_result {
    std::uint64_t added = 0, skipped = 0;
  };
  result<import_result> import_from(const std::filesystem::path& path, const memstore::snapshot_meta& verified,
                                    bool replace);


 private:
  struct slot {
    memstore::entry e;
    memstore::location where{};
    std::optional<memstore::location> vector_at;
    bool live = false;
    bool indexed = false;  ///< applied to BM25 (and maps) by commit
    bool unembeddable = false;  ///< the provider refused its text
  };
  enum class op_kind : std::uint8_t { add, remove, wipe, vector };
  struct op {
    op_kind kind;
    std::uint32_t label = 0;
    std::vector<float> v;
  };
  class replayer;

  memory_namespace(std::filesystem::path dir, std::string agent, const service::memory_settings& s);
  status load();
  void apply(const op& o, utc_time now);
  void reset_indexes();
  std::optional<std::vector<float>> full_vector(std::uint32_t label) const;
  std::string next_id();
  vecindex::tiered_params tier_params() const;

  std::filesystem::path _dir;
  std::string _agent;
  const service::memory_settings& _settings;
  log::logger& _log;
  std::unique_ptr<memstore::store> _store;
  std::vector<slot> _slots;  ///< by label
  std::unordered_map<std::string, std::uint32_t> _by_id, _by_key;  ///< live entries
  textsearch::bm25_index _bm25;
  std::optional<vecindex::tiered_index> _vectors;
  std::uint32_t _dims = 0;
  std::string _model;
  std::deque<std::uint32_t> _unembedded;
  std::size_t _embedding = 0;  ///< handed out by take_unembedded, not back yet
  std::size_t _single_embeds = 0;  ///< texts still to hand out one at a time
  std::vector<op> _applied_ops;  ///< appended, waiting for commit
  std::uint64_t _next_seq = 1;
  std::uint64_t _live = 0;
  bool _vectors_changed = false;
  bool _dims_warned = false;
  std::function<void()> _tick = [] {};
};

}  // namespace weft::memory
