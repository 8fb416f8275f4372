#pragma once
/// Small value types shared by the BM25 index and the hybrid merge.

#include <cstdint>

namespace weft::textsearch {

/// One keyword hit: a document label and its raw BM25 score (higher is better).
struct scored {
  std::uint32_t label = 0;
  double score = 0;
  bool operator==(const scored&) const = default;
};

/// One vector hit: a document label and the cosine similarity of its vector to the query
/// vector, in [-1, 1] (negative similarities count as 0 in the merge).
struct candidate_vector {
  std::uint32_t label = 0;
  double similarity = 0;
  bool operator==(const candidate_vector&) const = default;
};

}  // namespace weft::textsearch
