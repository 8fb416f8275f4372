#pragma once
/// Keyword search over a changing set of documents: an incremental BM25 index.
///
/// Documents are identified by a caller-chosen 32-bit label (the memory service uses its
/// slot number). Each distinct term has a posting list; a query reads only the posting
/// lists of its own terms, so its cost grows with how common the query terms are, not with
/// the number of documents. Adding or removing a document touches only its own terms'
/// posting lists (swap-remove with back-pointers, no rebuild).
///
/// Scoring (Okapi BM25 with Lucene's non-negative idf):
///   idf(t)   = ln(1 + (N − n_t + 0.5) / (n_t + 0.5))
///   score(d) = Σ_t∈q idf(t) · tf·(k1+1) / (tf + k1·(1 − b + b·|d|/avgdl))
/// N = documents, n_t = documents containing t, tf = occurrences of t in d, |d| = terms in
/// d after tokenizing, avgdl = mean |d|. A term repeated in the query counts once.
///
/// Not thread-safe: one writer, or external locking. `search` is const and may run
/// concurrently with other `search` calls.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <weft/textsearch/types.hh>

namespace weft::textsearch {

/// BM25 parameters and per-document limits.
struct bm25_params {
  double k1 = 1.2;   ///< term-frequency saturation
  double b = 0.75;   ///< document-length normalisation (0: none, 1: full)
  std::size_t max_tokens_per_doc = 1u << 16;  ///< terms past this are not indexed
  std::size_t max_query_terms = 64;           ///< distinct query terms past this are ignored
};

/// An incremental BM25 index of labelled texts.
class bm25_index {
 public:
  explicit bm25_index(bm25_params params = {});

  /// Indexes `text` under `label`; a label already present is replaced.
  void add(std::uint32_t label, std::string_view text);

  /// Removes a document; returns false when the label was not indexed.
  bool remove(std::uint32_t label);

  /// Whether `label` is indexed.
  bool contains(std::uint32_t label) const;

  /// The best `k` documents for `query`, best first (ties: lower label first). Only
  /// documents sharing at least one term with the query are returned. `filter`, when set,
  /// is asked about candidates in score order until `k` were accepted.
  std::vector<scored> search(std::string_view query, std::size_t k,
                             const std::function<bool(std::uint32_t)>& filter = {}) const;

  /// Number of indexed documents.
  std::size_t size() const { return _label_to_slot.size(); }

  /// Number of distinct terms with at least one document.
  std::size_t terms() const { return _live_terms; }

  /// Approximate heap bytes held by the index.
  std::size_t memory_bytes() const;

  /// Drops everything.
  void clear();

  const bm25_params& params() const { return _params; }

 private:
  struct posting {
    std::uint32_t slot;  // document slot
    std::uint32_t tf;    // occurrences in that document
  };
  struct doc_term {
    std::uint32_t term;  // term id
    std::uint32_t pos;   // index of this document's posting in the term's list
  };
  struct doc {
    std::uint32_t label = 0;
    std::uint32_t length = 0;       // terms after tokenizing
    std::vector<doc_term> terms;    // sorted by term id
    bool live = false;
  };

  std::uint32_t term_id(const std::string& t);
  void remove_slot(std::uint32_t slot);

  bm25_params _params;
  std::unordered_map<std::string, std::uint32_t> _term_ids;
  std::vector<std::string> _term_names;            // by term id (for freeing)
  std::vector<std::vector<posting>> _postings;     // by term id
  std::vector<std::uint32_t> _free_terms;          // term ids with empty postings
  std::vector<doc> _docs;                          // by slot
  std::vector<std::uint32_t> _lengths;             // by slot, dense for the scoring loop
  std::vector<std::uint32_t> _free_slots;
  std::unordered_map<std::uint32_t, std::uint32_t> _label_to_slot;
  std::uint64_t _total_length = 0;
  std::size_t _live_terms = 0;
};

}  // namespace weft::textsearch
