#pragma once
/// Merging keyword (BM25) and vector hits into one ranking, with a recency bonus, optional
/// MMR diversification, and the metadata filters of a memory search.
///
/// For every label in either hit list:
///   kw      = bm25 / max bm25 of this result           (0 when not a keyword hit)
///   vec     = max(0, cosine similarity)                (0 when not a vector hit)
///   recency = 0.5 ^ (age_days / half_life_days)        (age clamped at 0; 0 when off)
///   score   = keyword·kw + vector·vec + recency_w·recency
/// With no vector hits at all (no embedder, or a keyword-only request) the result is
/// `keyword_only` and the keyword part is weighted keyword+vector, so the balance against
/// recency stays what it is in hybrid mode.
///
/// MMR (maximal marginal relevance) re-selects the k hits greedily from the best
/// candidates: next = argmax λ·rel(c) − (1−λ)·max_{s∈selected} sim(c, s), with rel the
/// score divided by the best score. sim comes from the caller's callback (cosine of the
/// vectors); without one, the Jaccard similarity of the texts' token sets.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <weft/base/time.hh>
#include <weft/textsearch/types.hh>

namespace weft::textsearch {

/// How the parts of a hybrid score are weighted ([memory] in the config: keyword_weight,
/// vector_weight, recency_weight, recency_half_life_days, mmr_lambda).
struct weights {
  double keyword = 0.4;         ///< weight of the normalised BM25 score
  double vector = 0.6;          ///< weight of the cosine similarity
  double recency = 0.1;         ///< weight of the recency bonus (0: off)
  double half_life_days = 30;   ///< the recency bonus halves every this many days (≤ 0: off)
  double mmr_lambda = 0.7;      ///< MMR: 1 = relevance only, 0 = diversity only
};

/// One merged hit with its parts (each in [0, 1]).
struct hybrid_hit {
  std::uint32_t label = 0;
  double score = 0;    ///< the merged score, higher is better
  double keyword = 0;  ///< normalised BM25 part
  double vector = 0;   ///< vector similarity part
  double recency = 0;  ///< 0.5^(age/half-life), before weighting
};

/// The merged hits, best first (or in MMR selection order), and how they were scored.
struct merged_hits {
  std::vector<hybrid_hit> hits;
  /// No vector hits were given: the scores are keyword (and recency) only. The caller says
  /// so to the person asking (e.g. "no embedding provider is configured").
  bool keyword_only = false;

  auto begin() const { return hits.begin(); }
  auto end() const { return hits.end(); }
  auto begin() { return hits.begin(); }
  auto end() { return hits.end(); }
  std::size_t size() const { return hits.size(); }
  bool empty() const { return hits.empty(); }
  const hybrid_hit& operator[](std::size_t i) const { return hits[i]; }
};

/// Similarity of two labels in [0, 1] (e.g. cosine of their vectors), for MMR.
using similarity_fn = std::function<double(std::uint32_t, std::uint32_t)>;
/// The creation time of a label, for recency.
using created_fn = std::function<utc_time(std::uint32_t)>;
/// The text of a label, for the Jaccard fallback of MMR.
using text_fn = std::function<std::string_view(std::uint32_t)>;

/// Merges keyword and vector hits into at most `k` hits. `created` may be empty (no
/// recency). With `mmr`, `similarity` is used when set, else the Jaccard similarity of
/// `text`; with neither, MMR has nothing to compare and the order is by score.
/// Labels may appear in both lists; a label listed twice in one list counts once (best).
merged_hits merge(const std::vector<scored>& keyword, const std::vector<candidate_vector>& vector,
                  const weights& w, utc_time now, const created_fn& created, std::size_t k,
                  bool mmr = false, const similarity_fn& similarity = {}, const text_fn& text = {});

/// The recency bonus 0.5^(age/half_life) in (0, 1]; 1 for a future time, 0 when
/// half_life_days ≤ 0.
double recency_bonus(utc_time created, utc_time now, double half_life_days);

/// What a search may be restricted to. Empty fields do not restrict.
struct filter {
  std::optional<utc_time> since;   ///< created at or after
  std::optional<utc_time> until;   ///< created strictly before
  std::string session;             ///< exactly this session key
  std::vector<std::string> tags;   ///< carrying every one of these tags
  std::vector<std::uint8_t> kinds; ///< one of these kinds
};

/// What the filter looks at in a document.
struct doc_meta {
  utc_time created{};
  std::string session;
  std::vector<std::string> tags;
  std::uint8_t kind = 0;
};

/// Whether a document passes a filter.
bool matches(const filter& f, const doc_meta& d);

}  // namespace weft::textsearch
