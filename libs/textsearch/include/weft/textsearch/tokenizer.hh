#pragma once
/// Turning text into search terms, the same way for documents and queries.
///
/// The rules (docs: libs/textsearch/README.md):
/// - ASCII letters are lowercased; ASCII digits are kept; every other ASCII byte
///   (space, punctuation, `_`, control) separates tokens.
/// - A UTF-8 multibyte sequence is a word character and kept as is (no case folding
///   outside ASCII), except a few Unicode blocks that are spaces or punctuation and
///   separate tokens like ASCII punctuation does: U+0080–U+00BF (Latin-1 controls,
///   no-break space, «, », ¿ …), U+2000–U+206F (general punctuation: dashes, quotes, …),
///   U+3000–U+303F (CJK spaces and punctuation) and U+FF01–U+FF0F, U+FF1A–U+FF20
///   (full-width punctuation). Invalid UTF-8 bytes are kept as word bytes.
/// - Tokens longer than `max_token_bytes` bytes are dropped (hashes, base64 blobs).
/// - A small list of English stopwords is dropped (`is_stopword`).
/// - No stemming: memory holds several languages, code and identifiers; an English
///   suffix stripper would mangle those ("bus" → "bu"), and the vector side of hybrid
///   search already matches inflected forms.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace weft::textsearch {

/// Longer tokens are dropped: they are ids, hashes or encoded blobs, not words.
inline constexpr std::size_t max_token_bytes = 64;

/// Whether a lowercased token is one of the English stopwords ("the", "and", "is", …).
bool is_stopword(std::string_view token);

/// The terms of `text` in order, duplicates kept, stopwords and over-long tokens dropped.
/// At most `max_tokens` terms are returned (the rest of the text is ignored), which bounds
/// the memory one document can take in an index.
std::vector<std::string> tokenize(std::string_view text, std::size_t max_tokens = 1u << 16);

/// The distinct terms of `text`, sorted (for set similarity).
std::vector<std::string> token_set(std::string_view text, std::size_t max_tokens = 1u << 16);

/// Jaccard similarity |A∩B| / |A∪B| of the token sets of two texts, in [0, 1];
/// 0 when both are empty. The MMR fallback when there are no vectors.
double jaccard(std::string_view a, std::string_view b);
/// The same for two token sets as token_set() gives them (sorted, distinct).
double jaccard(const std::vector<std::string>& a, const std::vector<std::string>& b);

}  // namespace weft::textsearch
