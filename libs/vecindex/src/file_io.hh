#pragma once
// Small buffered file reader/writer for index files: every byte goes through the
// checksum, writes land in a temporary file that is fsynced and renamed into place.

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <type_traits>

#include <weft/base/io.hh>
#include <weft/base/result.hh>

#include "checksum.hh"

namespace weft::vecindex::detail {

class file_writer {
 public:
  explicit file_writer(std::string path);
  ~file_writer();
  file_writer(const file_writer&) = delete;
  file_writer& operator=(const file_writer&) = delete;

  status open();
  void write(const void* data, std::size_t n);
  template <class T>
  void pod(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    write(&v, sizeof v);
  }
  /// Appends the checksum and makes the file durable under its name (weft::atomic_file).
  status commit();

 private:
  void flush();
  std::string _path;
  std::optional<atomic_file> _f;
  std::string _buf;  // small writes gathered into large ones
  checksum64 _sum;
  std::optional<error> _error;
};

class file_reader {
 public:
  explicit file_reader(std::string path);
  ~file_reader();
  file_reader(const file_reader&) = delete;
  file_reader& operator=(const file_reader&) = delete;

  status open();
  /// Bytes not yet read, the trailing checksum excluded.
  std::uint64_t remaining() const { return _pos >= _payload ? 0 : _payload - _pos; }
  /// False (and the reader is failed) if fewer than `n` payload bytes remain.
  bool read(void* data, std::size_t n);
  template <class T>
  bool pod(T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    return read(&v, sizeof v);
  }
  /// Checks that every payload byte was read and the checksum matches.
  status finish();
  const std::string& path() const { return _path; }

 private:
  std::string _path;
  std::FILE* _f = nullptr;
  std::uint64_t _payload = 0, _pos = 0;
  checksum64 _sum;
};

}  // namespace weft::vecindex::detail
