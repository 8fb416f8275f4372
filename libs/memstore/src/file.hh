#pragma once
// File helpers shared by segments and snapshots: whole reads and writes that retry EINTR
// and short transfers, little-endian integers, and a read window that serves sequential
// scans in large chunks so no file is read whole into memory.

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include <weft/memstore/types.hh>

namespace weft::memstore::detail {

/// The system's text for errno `e` ("No space left on device").
std::string sys_error(int e);

/// Reads exactly `n` bytes at `off` into `out`; short reads (end of file) are an error
/// with code Corrupt ("ends at byte N").
status pread_exact(int fd, std::uint64_t off, char* out, std::size_t n);
/// Writes all of `a` then `b` at `off`.
status pwrite_all(int fd, std::uint64_t off, std::string_view a, std::string_view b = {});

inline void put_u16(std::string& s, std::uint16_t v) {
  for (int i = 0; i < 2; ++i) s.push_back(static_cast<char>(v >> (8 * i)));
}
inline void put_u32(std::string& s, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>(v >> (8 * i)));
}
inline void put_u64(std::string& s, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>(v >> (8 * i)));
}
inline std::uint64_t get_le(const char* p, int n) {
  std::uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
inline std::uint16_t get_u16(const char* p) { return static_cast<std::uint16_t>(get_le(p, 2)); }
inline std::uint32_t get_u32(const char* p) { return static_cast<std::uint32_t>(get_le(p, 4)); }
inline std::uint64_t get_u64(const char* p) { return get_le(p, 8); }

/// A sliding read buffer over [0, size) of a file.
class window {
 public:
  window(int fd, std::uint64_t size, std::size_t chunk = 1u << 20) : _fd(fd), _size(size), _chunk(chunk) {}
  /// [off, off + n), or Corrupt when that passes the end of the file.
  result<std::string_view> view(std::uint64_t off, std::size_t n);
  std::uint64_t size() const { return _size; }

 private:
  int _fd;
  std::uint64_t _size, _start = 0;
  std::size_t _chunk;
  std::string _buf;
};

}  // namespace weft::memstore::detail
