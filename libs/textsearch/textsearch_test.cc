#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <string>

#include <weft/textsearch/bm25.hh>
#include <weft/textsearch/hybrid.hh>
#include <weft/textsearch/tokenizer.hh>

using namespace weft;
using namespace weft::textsearch;
using namespace std::chrono_literals;

namespace {

std::vector<std::uint32_t> labels(const std::vector<scored>& v) {
  std::vector<std::uint32_t> out;
  for (auto& s : v) out.push_back(s.label);
  return out;
}
std::vector<std::uint32_t> labels(const merged_hits& v) {
  std::vector<std::uint32_t> out;
  for (auto& s : v) out.push_back(s.label);
  return out;
}

const utc_time t0 = utc_time{} + std::chrono::hours(24 * 365 * 56);  // ~2026

}  // namespace

TEST_SUITE("unit") {

TEST_CASE("tokenizer: lowercase, ASCII separators, stopwords, long tokens") {
  CHECK(tokenize("The Build broke on ARM64, again!") ==
        std::vector<std::string>{"build", "broke", "arm64", "again"});
  CHECK(tokenize("snake_case foo-bar x.y") == std::vector<std::string>{"snake", "case", "foo", "bar", "x", "y"});
  std::string long64(64, 'a'), long65(65, 'b');
  CHECK(tokenize("keep " + long64 + " drop " + long65 + " end") ==
        std::vector<std::string>{"keep", long64, "drop", "end"});
  CHECK(tokenize("") .empty());
  CHECK(tokenize("the and of , ;").empty());
  CHECK(tokenize("a b c d", /*max_tokens=*/2) == std::vector<std::string>{"b", "c"});
  CHECK(is_stopword("the"));
  CHECK_FALSE(is_stopword("build"));
}

TEST_CASE("tokenizer: UTF-8 sequences are word characters, Unicode punctuation separates") {
  CHECK(tokenize("Grüße aus Köln") == std::vector<std::string>{"grüße", "aus", "köln"});
  CHECK(tokenize("日本語のテキスト") == std::vector<std::string>{"日本語のテキスト"});
  // Em dash (U+2014), no-break space (U+00A0), ideographic full stop (U+3002), « ».
  CHECK(tokenize("alpha\u2014beta\u00a0gamma\u3002delta \u00abquoted\u00bb") ==
        std::vector<std::string>{"alpha", "beta", "gamma", "delta", "quoted"});
  // Invalid UTF-8 is kept as bytes, never crashes.
  CHECK(tokenize("ab\xff\xfe" "cd \xe2\x82") == std::vector<std::string>{"ab\xff\xfe" "cd", "\xe2\x82"});
  // The 64-byte limit counts bytes: 22 × "é" (2 bytes) = 44 bytes kept, 33 × = 66 dropped.
  std::string e22, e33;
  for (int i = 0; i < 22; ++i) e22 += "é";
  for (int i = 0; i < 33; ++i) e33 += "é";
  CHECK(tokenize(e22 + " " + e33) == std::vector<std::string>{e22});
  CHECK(jaccard("red green blue", "green blue yellow") == doctest::Approx(2.0 / 4.0));
  CHECK(jaccard("", "") == 0);
}

TEST_CASE("bm25: ranking on a small corpus matches a hand computation") {
  bm25_index idx;
  idx.add(1, "the cat sat on the mat");         // cat mat sat           |d|=3
  idx.add(2, "the dog chased the cat cat");     // dog chased cat cat    |d|=4
  idx.add(3, "dogs and cats are friends");      // dogs cats friends     |d|=3
  idx.add(4, "a quiet evening at home");        // quiet evening home    |d|=3
  REQUIRE(idx.size() == 4);

  auto r = idx.search("cat", 10);
  REQUIRE(labels(r) == std::vector<std::uint32_t>{2, 1});
  // By hand: N=4, n=2, avgdl=13/4=3.25, idf = ln(1 + (4−2+0.5)/(2+0.5)) = ln 2.
  // doc 2: tf=2, |d|=4: ln2 · 2·2.2 / (2 + 1.2·(0.25 + 0.75·4/3.25))
  double idf = std::log(2.0);
  double d2 = idf * 2 * 2.2 / (2 + 1.2 * (0.25 + 0.75 * 4 / 3.25));
  double d1 = idf * 1 * 2.2 / (1 + 1.2 * (0.25 + 0.75 * 3 / 3.25));
  CHECK(r[0].score == doctest::Approx(d2).epsilon(1e-12));
  CHECK(r[1].score == doctest::Approx(d1).epsilon(1e-12));
  CHECK(d2 == doctest::Approx(0.894989).epsilon(1e-5));  // 0.693147 · 4.4 / 3.407692

  // A rarer term weighs more: "mat" (1 doc) beats "cat" (2 docs) for doc 1 on "cat mat".
  auto r2 = idx.search("cat mat", 10);
  REQUIRE(labels(r2) == std::vector<std::uint32_t>{1, 2});
  CHECK(idx.search("friends", 10).at(0).label == 3);
  CHECK(idx.search("nothing matches", 10).empty());
  CHECK(idx.search("", 10).empty());
  CHECK(idx.search("cat", 0).empty());
  CHECK(idx.search("cat", 1).size() == 1);
  // A repeated query term counts once.
  CHECK(idx.search("cat cat cat", 10).at(0).score == doctest::Approx(d2));
}

TEST_CASE("bm25: remove and replace") {
  bm25_index idx;
  idx.add(10, "alpha beta");
  idx.add(11, "beta gamma");
  idx.add(12, "gamma delta");
  CHECK(idx.terms() == 4);
  CHECK(labels(idx.search("beta", 10)) == std::vector<std::uint32_t>{10, 11});
  CHECK(idx.remove(10));
  CHECK_FALSE(idx.remove(10));
  CHECK_FALSE(idx.contains(10));
  CHECK(idx.size() == 2);
  CHECK(labels(idx.search("beta", 10)) == std::vector<std::uint32_t>{11});
  CHECK(idx.search("alpha", 10).empty());
  CHECK(idx.terms() == 3);  // "alpha" freed
  // Replacing a label's text re-indexes it.
  idx.add(11, "epsilon");
  CHECK(idx.search("beta", 10).empty());
  CHECK(labels(idx.search("epsilon", 10)) == std::vector<std::uint32_t>{11});
  // Removal in the middle of posting lists keeps the others findable (swap-remove).
  bm25_index big;
  for (std::uint32_t i = 0; i < 200; ++i) big.add(i, "common word" + std::string(i % 2 ? " odd" : " even"));
  for (std::uint32_t i = 0; i < 200; i += 3) big.remove(i);
  auto all = big.search("common", 1000);
  CHECK(all.size() == 200 - 67);
  for (auto& s : all) CHECK(s.label % 3 != 0);
  auto odd = big.search("odd", 1000);
  for (auto& s : odd) CHECK(s.label % 2 == 1);
  CHECK(odd.size() == 100 - 33);
  for (std::uint32_t i = 0; i < 200; ++i) big.remove(i);
  CHECK(big.size() == 0);
  CHECK(big.terms() == 0);
  CHECK(big.search("common", 10).empty());
}

TEST_CASE("bm25: filter is applied in score order until k pass") {
  bm25_index idx;
  for (std::uint32_t i = 0; i < 50; ++i) idx.add(i, "apple " + std::to_string(i));
  std::size_t asked = 0;
  auto even = [&](std::uint32_t l) { ++asked; return l % 2 == 0; };
  auto r = idx.search("apple", 5, even);
  CHECK(r.size() == 5);
  for (auto& s : r) CHECK(s.label % 2 == 0);
  CHECK(asked <= 11);
  // Equal scores: lower label first.
  CHECK(labels(r) == std::vector<std::uint32_t>{0, 2, 4, 6, 8});
}

TEST_CASE("bm25: memory is bounded and reused") {
  bm25_index idx(bm25_params{.max_tokens_per_doc = 100});
  std::string huge;
  for (int i = 0; i < 10000; ++i) {
    huge += 'w';
    huge += std::to_string(i);
    huge += ' ';
  }
  idx.add(1, huge);
  CHECK(idx.terms() == 100);
  CHECK(idx.search("w99", 1).size() == 1);
  CHECK(idx.search("w100", 1).empty());
  // Churn of one-off words does not grow the index without bound.
  bm25_index churn;
  for (std::uint32_t i = 0; i < 100; ++i) churn.add(i, "unique" + std::to_string(i));
  auto before = churn.memory_bytes();
  for (std::uint32_t i = 0; i < 5000; ++i) {
    churn.remove(i % 100);
    churn.add(i % 100, "unique" + std::to_string(i + 100));
  }
  CHECK(churn.terms() == 100);
  CHECK(churn.memory_bytes() < before * 2);
}

TEST_CASE("filters") {
  doc_meta d{t0, "telegram:1", {"ci", "arm"}, 2};
  CHECK(matches(filter{}, d));
  CHECK(matches(filter{.since = t0}, d));
  CHECK_FALSE(matches(filter{.since = t0 + 1ms}, d));
  CHECK_FALSE(matches(filter{.until = t0}, d));  // until is exclusive
  CHECK(matches(filter{.until = t0 + 1ms}, d));
  CHECK(matches(filter{.session = "telegram:1"}, d));
  CHECK_FALSE(matches(filter{.session = "telegram:2"}, d));
  CHECK(matches(filter{.tags = {"ci"}}, d));
  CHECK(matches(filter{.tags = {"arm", "ci"}}, d));
  CHECK_FALSE(matches(filter{.tags = {"ci", "x86"}}, d));  // every tag must be present
  CHECK(matches(filter{.kinds = {1, 2}}, d));
  CHECK_FALSE(matches(filter{.kinds = {1, 3}}, d));
}

TEST_CASE("hybrid: weights decide between keyword and vector hits") {
  std::vector<scored> kw{{1, 8.0}, {2, 4.0}};
  std::vector<candidate_vector> vec{{2, 0.9}, {3, 0.8}, {1, 0.1}};
  weights w;
  w.recency = 0;
  // Default 0.4/0.6: 1 → 0.4+0.06=0.46, 2 → 0.2+0.54=0.74, 3 → 0.48.
  auto r = merge(kw, vec, w, t0, {}, 10);
  CHECK_FALSE(r.keyword_only);
  REQUIRE(labels(r) == std::vector<std::uint32_t>{2, 3, 1});
  CHECK(r[0].score == doctest::Approx(0.74));
  CHECK(r[0].keyword == doctest::Approx(0.5));
  CHECK(r[0].vector == doctest::Approx(0.9));
  // Keyword-heavy: 1 → 0.9+0.01=0.91, 2 → 0.45+0.09=0.54, 3 → 0.08.
  w.keyword = 0.9, w.vector = 0.1;
  CHECK(labels(merge(kw, vec, w, t0, {}, 10)) == std::vector<std::uint32_t>{1, 2, 3});
  // k truncates.
  CHECK(merge(kw, vec, w, t0, {}, 1).size() == 1);
  // Negative cosine counts as 0.
  auto neg = merge({}, {{7, -0.5}}, w, t0, {}, 10);
  CHECK(neg[0].vector == 0);
}

TEST_CASE("hybrid: no vector hits means keyword only, and says so") {
  std::vector<scored> kw{{1, 3.0}, {2, 1.5}};
  weights w;
  w.recency = 0;
  auto r = merge(kw, {}, w, t0, {}, 10);
  CHECK(r.keyword_only);
  REQUIRE(labels(r) == std::vector<std::uint32_t>{1, 2});
  CHECK(r[0].score == doctest::Approx(1.0));  // weight keyword+vector = 1.0
  CHECK(r[1].score == doctest::Approx(0.5));
  CHECK(merge({}, {}, w, t0, {}, 10).keyword_only);
}

TEST_CASE("hybrid: recency favours new entries and halves per half-life") {
  CHECK(recency_bonus(t0, t0, 30) == doctest::Approx(1.0));
  CHECK(recency_bonus(t0 - std::chrono::hours(24 * 30), t0, 30) == doctest::Approx(0.5));
  CHECK(recency_bonus(t0 - std::chrono::hours(24 * 60), t0, 30) == doctest::Approx(0.25));
  CHECK(recency_bonus(t0 + std::chrono::hours(1), t0, 30) == 1.0);
  CHECK(recency_bonus(t0, t0, 0) == 0.0);

  // Two equally relevant entries: the newer wins; with recency off, the label order.
  std::vector<scored> kw{{1, 2.0}, {2, 2.0}};
  std::map<std::uint32_t, utc_time> created{{1, t0 - std::chrono::hours(24 * 90)}, {2, t0 - std::chrono::hours(24)}};
  auto when = [&](std::uint32_t l) { return created.at(l); };
  weights w;
  auto r = merge(kw, {}, w, t0, when, 10);
  CHECK(labels(r) == std::vector<std::uint32_t>{2, 1});
  CHECK(r[1].recency == doctest::Approx(0.125));
  w.recency = 0;
  CHECK(labels(merge(kw, {}, w, t0, when, 10)) == std::vector<std::uint32_t>{1, 2});
  // A strong recency weight lifts an old-but-better hit below a new-but-weaker one.
  std::vector<scored> kw2{{1, 2.0}, {2, 1.6}};
  w.recency = 0.1;
  CHECK(labels(merge(kw2, {}, w, t0, when, 10)) == std::vector<std::uint32_t>{1, 2});
  w.recency = 1.0;
  CHECK(labels(merge(kw2, {}, w, t0, when, 10)) == std::vector<std::uint32_t>{2, 1});
}

TEST_CASE("hybrid: MMR removes near-duplicates") {
  // 1 and 2 say the same thing; 3 is a bit less relevant but different.
  std::map<std::uint32_t, std::string> text{
      {1, "deploy the service with docker compose on the server"},
      {2, "deploy the service with docker compose on the server today"},
      {3, "rollback procedure when a deploy fails"}};
  std::vector<scored> kw{{1, 5.0}, {2, 4.9}, {3, 3.5}};
  weights w;
  w.recency = 0;
  auto text_of = [&](std::uint32_t l) -> std::string_view { return text.at(l); };
  CHECK(labels(merge(kw, {}, w, t0, {}, 2)) == std::vector<std::uint32_t>{1, 2});
  // Jaccard fallback (no vectors).
  auto r = merge(kw, {}, w, t0, {}, 2, /*mmr=*/true, {}, text_of);
  CHECK(labels(r) == std::vector<std::uint32_t>{1, 3});
  // A similarity callback (e.g. cosine of vectors) is preferred over the texts.
  auto sim = [](std::uint32_t a, std::uint32_t b) { return (a == 3) != (b == 3) ? 0.0 : 1.0; };
  std::vector<candidate_vector> vec{{1, 0.9}, {2, 0.89}, {3, 0.5}};
  auto r2 = merge(kw, vec, w, t0, {}, 3, /*mmr=*/true, sim, text_of);
  CHECK(labels(r2) == std::vector<std::uint32_t>{1, 3, 2});
  // λ = 1 is relevance only.
  w.mmr_lambda = 1.0;
  CHECK(labels(merge(kw, {}, w, t0, {}, 2, true, {}, text_of)) == std::vector<std::uint32_t>{1, 2});
  // MMR without anything to compare keeps the score order.
  w.mmr_lambda = 0.7;
  CHECK(labels(merge(kw, {}, w, t0, {}, 2, true)) == std::vector<std::uint32_t>{1, 2});
}

TEST_CASE("bm25: 20K documents, a rare-term query reads only its postings") {
  bm25_index idx;
  for (std::uint32_t i = 0; i < 20000; ++i)
    idx.add(i, "message number " + std::to_string(i) + (i % 1000 == 7 ? " zebra" : "") + " about builds");
  auto r = idx.search("zebra", 100);
  CHECK(r.size() == 20);
  for (auto& s : r) CHECK(s.label % 1000 == 7);
  auto common = idx.search("builds zebra", 5);
  REQUIRE(common.size() == 5);
  for (auto& s : common) CHECK(s.label % 1000 == 7);  // the rare term dominates
  CHECK(idx.memory_bytes() > 0);
}

}  // TEST_SUITE
