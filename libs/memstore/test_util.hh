#pragma once
// Helpers shared by the memstore tests: a visitor that records what it is given, and
// file surgery (truncate, flip a byte).

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <cstring>
#include <iterator>
#include <string>
#include <vector>

#include <weft/memstore/types.hh>

namespace weft::memstore::test {

struct collector : visitor {
  std::vector<entry> entries;
  std::vector<location> entry_locs;
  struct vec {
    std::string id, model;
    std::vector<float> v;
    location loc;
  };
  std::vector<vec> vectors;
  std::vector<std::string> tombstones;
  int wipes = 0;
  std::vector<std::string> corrupt;
  std::vector<std::string> events;  ///< "e:<id>", "v:<id>", "t:<id>", "w" in delivery order
  void on_entry(const entry& e, location l) override {
    entries.push_back(e), entry_locs.push_back(l), events.push_back("e:" + e.id);
  }
  void on_vector(std::string_view id, std::span<const float> v, std::string_view model, location l) override {
    vectors.push_back({std::string(id), std::string(model), {v.begin(), v.end()}, l});
    events.push_back("v:" + std::string(id));
  }
  void on_tombstone(std::string_view id) override { tombstones.emplace_back(id), events.push_back("t:" + std::string(id)); }
  void on_wipe() override { ++wipes, events.push_back("w"); }
  void on_corrupt(const error& e) override { corrupt.push_back(e.message); }
};

inline entry make_entry(int i, std::size_t text_bytes = 40) {
  entry e;
  e.id = "m-" + std::to_string(i);
  e.kind = static_cast<std::uint8_t>(1 + i % 3);
  e.text = "entry " + std::to_string(i) + " " + std::string(text_bytes, static_cast<char>('a' + i % 26));
  e.session = "telegram:" + std::to_string(i % 5);
  e.role = i % 2 ? "user" : "assistant";
  e.tags = {"t" + std::to_string(i % 3), "all"};
  e.created = utc_time(std::chrono::nanoseconds(1'700'000'000'123'000'000LL + i * 1'000'000LL));
  e.key = "turn-" + std::to_string(i) + "#0";
  return e;
}

inline std::vector<float> make_vector(int i, std::size_t dims = 8) {
  std::vector<float> v(dims);
  for (std::size_t d = 0; d < dims; ++d) v[d] = static_cast<float>(i) * 0.1f + static_cast<float>(d) / 3.0f;
  if (dims > 2) v[1] = -0.0f, v[2] = 1e-40f;  // signed zero and a subnormal: bit-exactness
  return v;
}

inline bool bit_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}
inline void spit(const std::filesystem::path& p, const std::string& data) {
  // A new file rather than a truncated one: ext4 flushes a file truncated and rewritten.
  std::filesystem::remove(p);
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << data;
}
inline void flip(const std::filesystem::path& p, std::uint64_t at) {
  auto d = slurp(p);
  REQUIRE(at < d.size());
  d[at] = static_cast<char>(d[at] ^ 0x20);
  spit(p, d);
}

}  // namespace weft::memstore::test
