#include "file_io.hh"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include <weft/base/io.hh>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace weft::vecindex::detail {

file_writer::file_writer(std::string path) : _path(std::move(path)) {}

file_writer::~file_writer() = default;  // uncommitted: atomic_file leaves nothing

status file_writer::open() {
  auto f = atomic_file::create(_path, 0644);
  if (!f) return fail(errc::io, "Failed to create index file '{}': {}", _path, f.err().message);
  _f.emplace(std::move(*f));
  return {};
}

void file_writer::flush() {
  if (_error || _buf.empty()) return;
  if (auto w = _f->write(_buf); !w) _error = w.take_error();
  _buf.clear();
}

void file_writer::write(const void* data, std::size_t n) {
  if (_error || n == 0) return;
  _sum.update(data, n);
  _buf.append(static_cast<const char*>(data), n);
  if (_buf.size() >= (1u << 20)) flush();
}

status file_writer::commit() {
  std::uint64_t sum = _sum.value();
  _buf.append(reinterpret_cast<const char*>(&sum), sizeof sum);
  flush();
  if (!_error)
    if (auto c = _f->commit(); !c) _error = c.take_error();
  // A checkpoint must never name index files a crash could take back: commit() made the
  // rename durable too.
  if (_error) return fail(errc::io, "Failed to write index file '{}': {}", _path, _error->message);
  return {};
}

file_reader::file_reader(std::string path) : _path(std::move(path)) {}

file_reader::~file_reader() {
  if (_f) std::fclose(_f);
}

status file_reader::open() {
  _f = std::fopen(_path.c_str(), "rb");
  if (!_f) {
    int e = errno;
    return fail(e == ENOENT ? errc::not_found : errc::io, "Failed to open index file '{}': {}", _path,
                std::strerror(e));
  }
  struct stat st {};
  if (::fstat(::fileno(_f), &st) != 0)
    return fail(errc::io, "Failed to stat index file '{}': {}", _path, std::strerror(errno));
  if (st.st_size < static_cast<off_t>(sizeof(std::uint64_t)))
    return fail(errc::malformed, "Failed to load index file '{}': {} bytes is too short", _path,
                static_cast<long long>(st.st_size));
  _payload = static_cast<std::uint64_t>(st.st_size) - sizeof(std::uint64_t);
  return {};
}

bool file_reader::read(void* data, std::size_t n) {
  if (n > remaining()) {
    _pos = _payload + 1;  // sticky failure
    return false;
  }
  if (n == 0) return true;
  if (std::fread(data, 1, n, _f) != n) {
    _pos = _payload + 1;
    return false;
  }
  _sum.update(data, n);
  _pos += n;
  return true;
}

status file_reader::finish() {
  if (_pos > _payload)
    return fail(errc::malformed, "Failed to load index file '{}': the file is truncated", _path);
  if (_pos != _payload)
    return fail(errc::malformed, "Failed to load index file '{}': {} unexpected bytes after the data", _path,
                _payload - _pos);
  std::uint64_t stored = 0;
  if (std::fread(&stored, 1, sizeof stored, _f) != sizeof stored)
    return fail(errc::malformed, "Failed to load index file '{}': the checksum is missing", _path);
  if (stored != _sum.value())
    return fail(errc::malformed, "Failed to load index file '{}': checksum mismatch (the file is corrupted)",
                _path);
  return {};
}

}  // namespace weft::vecindex::detail
