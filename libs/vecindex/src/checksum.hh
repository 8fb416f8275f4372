#pragma once
// A fast streaming 64-bit checksum for index files: detects truncation, torn writes and
// flipped bits (not an adversary — the files live outside the agents' reach).

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace weft::vecindex::detail {

class checksum64 {
 public:
  void update(const void* data, std::size_t n) {
    auto p = static_cast<const unsigned char*>(data);
    _length += n;
    if (_pending) {
      std::size_t take = n < 8 - _pending ? n : 8 - _pending;
      std::memcpy(_buf + _pending, p, take);
      _pending += take;
      p += take;
      n -= take;
      if (_pending < 8) return;
      word(_buf);
      _pending = 0;
    }
    for (; n >= 8; n -= 8, p += 8) word(p);
    std::memcpy(_buf, p, n);
    _pending = n;
  }

  std::uint64_t value() const {
    std::uint64_t h = _h;
    if (_pending) {
      unsigned char tail[8] = {};
      std::memcpy(tail, _buf, _pending);
      h = mix(h, load(tail));
    }
    h ^= _length;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
  }

 private:
  static std::uint64_t load(const unsigned char* p) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    return w;
  }
  static std::uint64_t mix(std::uint64_t h, std::uint64_t w) {
    h ^= w * 0x87c37b91114253d5ULL;
    h = (h << 31) | (h >> 33);
    return h * 0x9E3779B97F4A7C15ULL;
  }
  void word(const unsigned char* p) { _h = mix(_h, load(p)); }

  std::uint64_t _h = 0x5745465456454331ULL;  // "WEFTVEC1"
  std::uint64_t _length = 0;
  unsigned char _buf[8] = {};
  std::size_t _pending = 0;
};

}  // namespace weft::vecindex::detail
