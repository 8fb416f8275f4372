#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include <weft/vecindex/hnsw_index.hh>
#include <weft/vecindex/kernels.hh>
#include <weft/vecindex/synthetic.hh>
#include <weft/vecindex/tiered_index.hh>

#include "../../tests/temp_dir.hh"

using namespace weft;
using namespace weft::vecindex;

namespace {

std::vector<float> row(const std::vector<float>& rows, std::uint32_t dims, std::size_t i) {
  return std::vector<float>(rows.begin() + static_cast<std::ptrdiff_t>(i * dims),
                            rows.begin() + static_cast<std::ptrdiff_t>((i + 1) * dims));
}

std::vector<std::uint32_t> labels_of(const std::vector<hit>& hits) {
  std::vector<std::uint32_t> out;
  for (const auto& h : hits) out.push_back(h.label);
  return out;
}

hnsw_index build(const std::vector<float>& rows, std::uint32_t dims, hnsw_params p = {}) {
  hnsw_index index(dims, p);
  for (std::size_t i = 0; i < rows.size() / dims; ++i)
    REQUIRE(index.add(static_cast<std::uint32_t>(i), row(rows, dims, i)));
  return index;
}

void flip_byte(const std::string& path, std::uintmax_t at) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(at));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x5a);
  f.seekp(static_cast<std::streamoff>(at));
  f.write(&c, 1);
}

utc_time day(double d) {
  return utc_time(std::chrono::nanoseconds(1'700'000'000'000'000'000LL)) +
         std::chrono::nanoseconds(static_cast<std::int64_t>(d * 86400e9));
}

}  // namespace

TEST_CASE("kernels agree with the scalar reference") {
  std::mt19937 rng(7);
  std::normal_distribution<float> g;
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<const kernel_set*> sets{&kernels()};
  if (sse2_kernels()) sets.push_back(sse2_kernels());
  if (avx2_kernels()) sets.push_back(avx2_kernels());
  MESSAGE("dispatched kernels: " << kernels().name);
  const kernel_set& ref = scalar_kernels();
  for (std::size_t n : {1u, 3u, 7u, 8u, 15u, 16u, 31u, 33u, 64u, 100u, 384u, 1536u}) {
    std::vector<float> a(n), b(n);
    std::vector<std::uint8_t> c(n), x(n), y(n);
    for (std::size_t i = 0; i < n; ++i) {
      a[i] = g(rng);
      b[i] = g(rng);
      c[i] = static_cast<std::uint8_t>(byte(rng));
      x[i] = static_cast<std::uint8_t>(byte(rng));
      y[i] = static_cast<std::uint8_t>(byte(rng));
    }
    const float d = ref.dot(a.data(), b.data(), n);
    const float du = ref.dot_u8(a.data(), c.data(), n);
    const std::uint32_t h = ref.hamming(x.data(), y.data(), n);
    std::uint32_t h_check = 0;
    for (std::size_t i = 0; i < n; ++i) h_check += static_cast<std::uint32_t>(__builtin_popcount(x[i] ^ y[i]));
    CHECK(h == h_check);
    for (const kernel_set* k : sets) {
      CAPTURE(k->name);
      CAPTURE(n);
      CHECK(k->dot(a.data(), b.data(), n) == doctest::Approx(d).epsilon(1e-4).scale(std::sqrt(float(n))));
      CHECK(k->dot_u8(a.data(), c.data(), n) == doctest::Approx(du).epsilon(1e-4).scale(255 * std::sqrt(float(n))));
      CHECK(k->hamming(x.data(), y.data(), n) == h);
    }
  }
}

TEST_CASE("hnsw_index: recall against exact search on clustered data") {
  // 5,000 × 64 from 50 clusters; 200 fresh queries. Measured at M=16, ef=64: recall@10
  // 0.99+ (deterministic: single-threaded build, fixed seeds). The floor 0.95 leaves room
  // for kernel rounding differences while still failing on any real search bug (a broken
  // layer descent or neighbour selection drops recall below 0.8).
  const std::uint32_t dims = 64;
  clustered_generator gen({.dims = dims, .latent = 16, .centres = 50, .seed = 3});
  auto rows = gen.draw(5000);
  auto queries = gen.draw(200);
  auto index = build(rows, dims);
  const std::size_t k = 10;
  auto exact = exact_knn(rows, queries, dims, k);
  std::vector<std::vector<std::uint32_t>> found;
  for (std::size_t q = 0; q < 200; ++q) {
    auto hits = index.search(row(queries, dims, q), k);
    REQUIRE(hits.size() == k);
    for (std::size_t j = 1; j < hits.size(); ++j) CHECK(hits[j - 1].similarity >= hits[j].similarity);
    found.push_back(labels_of(hits));
  }
  const double recall = recall_at_k(exact, k, found);
  MESSAGE("recall@10 = " << recall);
  CHECK(recall >= 0.95);
  CHECK(index.size() == 5000);
  CHECK(index.memory_bytes() > 5000 * dims * sizeof(float));

  SUBCASE("a vector finds itself with similarity 1") {
    auto hits = index.search(row(rows, dims, 1234), 1);
    REQUIRE(hits.size() == 1);
    CHECK(hits[0].label == 1234);
    CHECK(hits[0].similarity == doctest::Approx(1.0).epsilon(1e-5));
  }
  SUBCASE("remove hides a label; adding it again brings it back") {
    CHECK(index.remove(1234));
    CHECK_FALSE(index.remove(1234));
    CHECK_FALSE(index.contains(1234));
    CHECK(index.size() == 4999);
    for (auto& h : index.search(row(rows, dims, 1234), 20)) CHECK(h.label != 1234);
    REQUIRE(index.add(1234, row(rows, dims, 1234)));
    CHECK(index.search(row(rows, dims, 1234), 1).at(0).label == 1234);
    CHECK(index.size() == 5000);
  }
  SUBCASE("a filter keeps only allowed labels and still finds the best of them") {
    // Allow 1% of the labels: the search must widen rather than return too few.
    auto allow = [](std::uint32_t l) { return l % 100 == 7; };
    std::vector<float> subset;
    std::vector<std::uint32_t> subset_labels;
    for (std::uint32_t i = 0; i < 5000; ++i)
      if (allow(i)) {
        auto r = row(rows, dims, i);
        subset.insert(subset.end(), r.begin(), r.end());
        subset_labels.push_back(i);
      }
    auto q = row(queries, dims, 0);
    auto truth = exact_knn(subset, q, dims, 5);
    auto hits = index.search(q, 5, allow);
    REQUIRE(hits.size() == 5);
    for (std::size_t j = 0; j < 5; ++j) CHECK(hits[j].label == subset_labels[truth[j]]);
    CHECK(index.search(q, 5, [](std::uint32_t) { return false; }).empty());
  }
}

TEST_CASE("hnsw_index: bad input is refused, capacity grows") {
  hnsw_index index(8, {.capacity = 2});
  std::vector<float> v(8, 1.0f);
  CHECK(index.add(1, std::vector<float>(7, 1.0f)).err().code == errc::invalid_argument);
  CHECK(index.add(1, std::vector<float>(8, 0.0f)).err().code == errc::invalid_argument);
  v[3] = std::nanf("");
  CHECK(index.add(1, v).err().code == errc::invalid_argument);
  CHECK(index.size() == 0);
  CHECK(index.search(std::vector<float>(8, 1.0f), 3).empty());
  std::mt19937 rng(1);
  std::normal_distribution<float> g;
  for (std::uint32_t i = 0; i < 100; ++i) {
    std::vector<float> x(8);
    for (auto& c : x) c = g(rng);
    REQUIRE(index.add(i * 3, x));
  }
  CHECK(index.size() == 100);
  CHECK(index.search(std::vector<float>(5, 1.0f), 3).empty());  // wrong dimension: no results
  CHECK(index.search(std::vector<float>(8, 1.0f), 3).size() == 3);
}

TEST_CASE("hnsw_index: add_batch builds the same kind of index with threads") {
  const std::uint32_t dims = 32;
  clustered_generator gen({.dims = dims, .latent = 8, .centres = 20, .seed = 5});
  auto rows = gen.draw(2000);
  std::vector<std::uint32_t> labels(2000);
  for (std::uint32_t i = 0; i < 2000; ++i) labels[i] = i + 10;
  hnsw_index index(dims, {.capacity = 10});
  std::size_t last = 0;
  REQUIRE(index.add_batch(labels, rows, 2, [&](std::size_t d) { last = d; }));
  CHECK(last == 2000);
  CHECK(index.size() == 2000);
  CHECK(index.search(row(rows, dims, 77), 1).at(0).label == 87);
  labels[5] = labels[6];
  CHECK(index.add_batch(labels, rows).err().code == errc::invalid_argument);
}

TEST_CASE("hnsw_index: save and load give the same results; damaged files are refused") {
  weft::test::temp_dir tmp("vecindex");
  const std::uint32_t dims = 32;
  clustered_generator gen({.dims = dims, .latent = 8, .centres = 20, .seed = 9});
  auto rows = gen.draw(1500);
  auto queries = gen.draw(20);
  auto index = build(rows, dims);
  index.remove(3);
  const std::string path = (tmp.path / "index.hnsw").string();
  REQUIRE(index.save(path));
  auto loaded = hnsw_index::load(path, dims);
  REQUIRE_MESSAGE(loaded, (loaded ? "" : loaded.err().to_string()));
  CHECK(loaded->size() == index.size());
  CHECK_FALSE(loaded->contains(3));
  loaded->set_ef(index.ef());
  for (std::size_t q = 0; q < 20; ++q) CHECK(loaded->search(row(queries, dims, q), 10) == index.search(row(queries, dims, q), 10));
  // The loaded index keeps working: it grows past its loaded capacity.
  REQUIRE(loaded->add(100000, row(queries, dims, 0)));
  CHECK(loaded->search(row(queries, dims, 0), 1).at(0).label == 100000);

  CHECK(hnsw_index::load((tmp.path / "missing").string(), dims).err().code == errc::not_found);
  CHECK(hnsw_index::load(path, dims + 1).err().code == errc::malformed);

  const auto size = std::filesystem::file_size(path);
  const std::string copy = (tmp.path / "copy.hnsw").string();
  for (std::uintmax_t cut : {std::uintmax_t{0}, std::uintmax_t{5}, std::uintmax_t{40}, size / 3, size / 2, size - 9, size - 1}) {
    std::filesystem::copy_file(path, copy, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::resize_file(copy, cut);
    auto r = hnsw_index::load(copy, dims);
    CAPTURE(cut);
    REQUIRE_FALSE(r);
    CHECK(r.err().code == errc::malformed);
    CHECK(r.err().message.find(copy) != std::string::npos);
  }
  for (std::uintmax_t at : {std::uintmax_t{0}, std::uintmax_t{20}, std::uintmax_t{60}, size / 2, size - 20, size - 3}) {
    std::filesystem::copy_file(path, copy, std::filesystem::copy_options::overwrite_existing);
    flip_byte(copy, at);
    auto r = hnsw_index::load(copy, dims);
    CAPTURE(at);
    REQUIRE_FALSE(r);
    CHECK(r.err().code == errc::malformed);
  }
}

TEST_CASE("tiered_index: entries move by age and use, cold ones are still found") {
  const std::uint32_t dims = 64;
  clustered_generator gen({.dims = dims, .latent = 16, .centres = 40, .seed = 11});
  const std::size_t n = 3000;
  auto rows = gen.draw(n);
  auto queries = gen.draw(100);
  // The memory service keeps full vectors in its segment files; here, in `rows`.
  std::size_t fetches = 0;
  fetch_fn fetch = [&](std::uint32_t label) -> std::optional<std::vector<float>> {
    ++fetches;
    if (label >= n) return std::nullopt;
    return row(rows, dims, label);
  };
  tiered_params params;
  params.policy = {.hot_days = 7, .warm_days = 30, .hot_min_hits = 3};
  tiered_index index(dims, params);
  for (std::uint32_t i = 0; i < n; ++i) REQUIRE(index.add(i, row(rows, dims, i), day(0)));
  CHECK(index.stats().hot == n);
  const std::size_t all_hot_bytes = index.stats().total_bytes();

  // Day 10: 0..99 were found three times (stay hot), 100..199 once (warm); the rest warm.
  for (std::uint32_t i = 0; i < 200; ++i)
    for (int t = 0; t < (i < 100 ? 3 : 1); ++t) index.touch(i, day(10));
  CHECK(index.times(5)->hits == 3);
  auto r1 = index.retier(day(10), fetch);
  CHECK(r1.to_warm == n - 100);
  CHECK(r1.to_cold == 0);
  CHECK(index.tier_of(5) == tier::hot);
  CHECK(index.tier_of(150) == tier::warm);
  CHECK(index.tier_of(2000) == tier::warm);
  auto s1 = index.stats();
  CHECK(s1.hot == 100);
  CHECK(s1.warm == n - 100);
  // Warm costs a byte per dimension plus its label; the graph shrank (compacted).
  CHECK(s1.warm_bytes <= (n - 100) * (dims + 4) + 2 * dims * sizeof(float) + 64);
  // hnswlib keeps a fixed 65,536-mutex table (2.6 MB) per graph; beyond that, every
  // demoted entry frees at least its float vector.
  CHECK(all_hot_bytes - s1.total_bytes() >= (n - 100) * (dims * sizeof(float) - dims - 4));

  // A warm entry is found through its SQ8 code, even without full vectors.
  {
    auto hits = index.search(row(rows, dims, 2000), 1);
    REQUIRE(hits.size() == 1);
    CHECK(hits[0].label == 2000);
    CHECK(hits[0].similarity == doctest::Approx(1.0).epsilon(0.01));
  }

  // Day 35: nothing used for 25+ days except 0..199 (last used day 10) → they are warm,
  // everything created on day 0 and never used is cold.
  auto r2 = index.retier(day(35), fetch);
  CHECK(r2.to_cold == n - 200);
  CHECK(r2.to_warm == 100);
  auto s2 = index.stats();
  CHECK(s2.hot == 0);
  CHECK(s2.warm == 200);
  CHECK(s2.cold == n - 200);
  CHECK(s2.cold_bytes <= (n - 200) * (dims / 8 + 4) + 64);
  CHECK(s2.total_bytes() < s1.total_bytes());

  // Cold entries are still found: exactly, after re-ranking with full vectors…
  {
    auto hits = index.search(row(rows, dims, 2500), 3, {}, fetch);
    REQUIRE(hits.size() == 3);
    CHECK(hits[0].label == 2500);
    CHECK(hits[0].similarity == doctest::Approx(1.0).epsilon(1e-5));
    // …and by their binary code alone.
    CHECK(index.search(row(rows, dims, 2500), 1).at(0).label == 2500);
  }
  // Recall across the compressed tiers with re-ranking (measured 0.9+ here; a broken
  // scan or re-rank falls far below).
  auto exact = exact_knn(rows, queries, dims, 10);
  std::vector<std::vector<std::uint32_t>> found;
  for (std::size_t q = 0; q < 100; ++q) found.push_back(labels_of(index.search(row(queries, dims, q), 10, {}, fetch)));
  const double recall = recall_at_k(exact, 10, found);
  MESSAGE("tiered recall@10 (all warm/cold, re-ranked) = " << recall);
  CHECK(recall >= 0.85);
  // Filters apply to the compressed tiers too.
  for (auto& h : index.search(row(queries, dims, 0), 10, [](std::uint32_t l) { return l % 2 == 0; }, fetch))
    CHECK(h.label % 2 == 0);

  // Day 36: a cold entry found three times comes back to hot (its vector is fetched).
  for (int t = 0; t < 3; ++t) index.touch(2500, day(36));
  auto r3 = index.retier(day(36), fetch);
  CHECK(r3.to_hot == 1);
  CHECK(index.tier_of(2500) == tier::hot);
  // Without fetch_full a cold entry cannot be promoted (binary codes are too coarse).
  for (int t = 0; t < 3; ++t) index.touch(2501, day(36));
  auto r4 = index.retier(day(36));
  CHECK(r4.unfetched == 1);
  CHECK(index.tier_of(2501) == tier::cold);

  // Old entries reloaded by the service go straight to their tier.
  entry_times old{.created = day(0), .last_access = day(1)};
  REQUIRE(index.add(9000, row(queries, dims, 5), old, day(36)));
  CHECK(index.tier_of(9000) == tier::cold);
  CHECK(index.remove(9000));
  CHECK_FALSE(index.contains(9000));
  CHECK(index.size() == n);

  SUBCASE("save and load keep tiers, times and results") {
    weft::test::temp_dir tmp("vecindex-tiers");
    const std::string dir = (tmp.path / "idx").string();
    REQUIRE(index.save(dir));
    auto loaded = tiered_index::load(dir, dims, params);
    REQUIRE_MESSAGE(loaded, (loaded ? "" : loaded.err().to_string()));
    CHECK(loaded->size() == index.size());
    CHECK(loaded->tier_of(2500) == tier::hot);
    CHECK(loaded->tier_of(150) == tier::warm);
    CHECK(loaded->times(2500) == index.times(2500));
    for (std::size_t q = 0; q < 10; ++q)
      CHECK(loaded->search(row(queries, dims, q), 10, {}, fetch) == index.search(row(queries, dims, q), 10, {}, fetch));
    const std::string tiers = dir + "/tiers.bin";
    flip_byte(tiers, std::filesystem::file_size(tiers) / 2);
    auto bad = tiered_index::load(dir, dims, params);
    REQUIRE_FALSE(bad);
    CHECK(bad.err().code == errc::malformed);
    std::filesystem::resize_file(tiers, 30);
    CHECK(tiered_index::load(dir, dims, params).err().code == errc::malformed);
  }
}

TEST_CASE("tiered_index: add_batch places each entry by its history") {
  const std::uint32_t dims = 32;
  clustered_generator gen({.dims = dims, .latent = 8, .centres = 10, .seed = 13});
  auto rows = gen.draw(1200);
  std::vector<std::uint32_t> labels(1200);
  std::vector<entry_times> times(1200);
  for (std::uint32_t i = 0; i < 1200; ++i) {
    labels[i] = i;
    times[i].created = day(i % 3 == 0 ? 99 : i % 3 == 1 ? 80 : 0);  // hot, warm, cold at day 100
  }
  tiered_index index(dims);
  REQUIRE(index.add_batch(labels, rows, times, day(100), 2));
  auto st = index.stats();
  CHECK(st.hot == 400);
  CHECK(st.warm == 400);
  CHECK(st.cold == 400);
  CHECK(index.times(4) == times[4]);
  for (std::uint32_t i : {0u, 1u, 2u, 601u, 1199u}) CHECK(index.search(row(rows, dims, i), 1).at(0).label == i);
}
