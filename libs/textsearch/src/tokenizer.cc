#include <weft/textsearch/tokenizer.hh>

#include <algorithm>
#include <array>

namespace weft::textsearch {

namespace {

// A deliberately small list: words so common in English that they only add noise to
// BM25, yet short enough that dropping them never empties a meaningful query.
constexpr std::array<std::string_view, 60> stopwords = {
    "a",    "about", "an",   "and",   "are",  "as",   "at",    "be",    "been", "but",
    "by",   "can",   "did",  "do",    "does", "for",  "from",  "had",   "has",  "have",
    "he",   "her",   "his",  "i",     "if",   "in",   "into",  "is",    "it",   "its",
    "me",   "my",    "no",   "not",   "of",   "on",   "or",    "our",   "she",  "so",
    "than", "that",  "the",  "their", "them", "then", "there", "these", "they", "this",
    "to",   "was",   "we",   "were",  "what", "when", "which", "will",  "with", "you",
};

constexpr bool sorted_unique() {
  for (std::size_t i = 1; i < stopwords.size(); ++i)
    if (!(stopwords[i - 1] < stopwords[i])) return false;
  return true;
}
static_assert(sorted_unique(), "keep the stopword list sorted for binary search");

bool ascii_word(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// Length of the UTF-8 sequence starting at text[i] and its code point. An invalid or
// truncated sequence yields {1, invalid}: its bytes are consumed one at a time as word bytes.
constexpr char32_t invalid = 0xFFFFFFFF;
std::pair<std::size_t, char32_t> decode(std::string_view text, std::size_t i) {
  auto b = static_cast<unsigned char>(text[i]);
  std::size_t n = b >= 0xF8 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
  if (n == 1 || i + n > text.size()) return {1, invalid};
  char32_t cp = n == 2 ? (b & 0x1F) : n == 3 ? (b & 0x0F) : (b & 0x07);
  for (std::size_t j = 1; j < n; ++j) {
    auto c = static_cast<unsigned char>(text[i + j]);
    if ((c & 0xC0) != 0x80) return {1, invalid};
    cp = (cp << 6) | (c & 0x3F);
  }
  return {n, cp};
}

// Unicode spaces and punctuation that separate words like ASCII punctuation does.
bool unicode_separator(char32_t cp) {
  return (cp >= 0x80 && cp <= 0xBF && cp != 0xAA && cp != 0xB5 && cp != 0xBA) ||
         cp == 0xD7 || cp == 0xF7 ||                 // × ÷
         (cp >= 0x2000 && cp <= 0x206F) ||           // general punctuation
         (cp >= 0x3000 && cp <= 0x303F) ||           // CJK symbols and punctuation
         (cp >= 0xFF01 && cp <= 0xFF0F) || (cp >= 0xFF1A && cp <= 0xFF20) || cp == 0xFEFF;
}

template <typename Sink>
void scan(std::string_view text, std::size_t max_tokens, Sink&& sink) {
  std::string cur;
  std::size_t count = 0;
  bool too_long = false;
  auto flush = [&] {
    if (!cur.empty() && !too_long && !is_stopword(cur)) {
      sink(std::move(cur));
      ++count;
    }
    cur.clear();
    too_long = false;
  };
  std::size_t i = 0;
  while (i < text.size() && count < max_tokens) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++i;
      if (!ascii_word(c)) {
        flush();
        continue;
      }
      if (cur.size() >= max_token_bytes) {
        too_long = true;
        continue;
      }
      cur.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : static_cast<char>(c));
      continue;
    }
    auto [n, cp] = decode(text, i);
    if (unicode_separator(cp)) {
      i += n;
      flush();
      continue;
    }
    if (cur.size() + n > max_token_bytes) too_long = true;
    else cur.append(text.substr(i, n));
    i += n;
  }
  if (count < max_tokens) flush();
}

}  // namespace

bool is_stopword(std::string_view token) {
  return std::binary_search(stopwords.begin(), stopwords.end(), token);
}

std::vector<std::string> tokenize(std::string_view text, std::size_t max_tokens) {
  std::vector<std::string> out;
  scan(text, max_tokens, [&](std::string&& t) { out.push_back(std::move(t)); });
  return out;
}

std::vector<std::string> token_set(std::string_view text, std::size_t max_tokens) {
  auto t = tokenize(text, max_tokens);
  std::sort(t.begin(), t.end());
  t.erase(std::unique(t.begin(), t.end()), t.end());
  return t;
}

double jaccard(std::string_view a, std::string_view b) { return jaccard(token_set(a), token_set(b)); }

double jaccard(const std::vector<std::string>& sa, const std::vector<std::string>& sb) {
  if (sa.empty() && sb.empty()) return 0;
  std::size_t common = 0;
  for (std::size_t i = 0, j = 0; i < sa.size() && j < sb.size();) {
    int c = sa[i].compare(sb[j]);
    if (c == 0) ++common, ++i, ++j;
    else if (c < 0) ++i;
    else ++j;
  }
  return static_cast<double>(common) / static_cast<double>(sa.size() + sb.size() - common);
}

}  // namespace weft::textsearch
