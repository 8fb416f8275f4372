#include "file.hh"

#include <cerrno>
#include <sys/uio.h>
#include <unistd.h>

namespace weft::memstore::detail {

std::string sys_error(int e) { return std::strerror(e); }

status pread_exact(int fd, std::uint64_t off, char* out, std::size_t n) {
  while (n > 0) {
    auto r = ::pread(fd, out, n, static_cast<off_t>(off));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return fail(errc::io, "{}", sys_error(errno));
    if (r == 0) return fail(errc::corrupt, "file ends at byte {}", off);
    out += r, off += static_cast<std::uint64_t>(r), n -= static_cast<std::size_t>(r);
  }
  return {};
}

status pwrite_all(int fd, std::uint64_t off, std::string_view a, std::string_view b) {
  while (!a.empty() || !b.empty()) {
    iovec iov[2] = {{const_cast<char*>(a.data()), a.size()}, {const_cast<char*>(b.data()), b.size()}};
    auto r = ::pwritev(fd, iov, 2, static_cast<off_t>(off));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return fail(errc::io, "{}", sys_error(errno));
    auto n = static_cast<std::size_t>(r);
    off += n;
    auto from_a = std::min(n, a.size());
    a.remove_prefix(from_a);
    b.remove_prefix(n - from_a);
  }
  return {};
}

result<std::string_view> window::view(std::uint64_t off, std::size_t n) {
  if (off > _size || n > _size - off) return fail(errc::corrupt, "file ends at byte {}", _size);
  if (off >= _start && off + n <= _start + _buf.size())
    return std::string_view(_buf).substr(off - _start, n);
  auto want = std::min<std::uint64_t>(std::max(n, _chunk), _size - off);
  _buf.resize(want);
  _start = off;
  if (auto s = pread_exact(_fd, off, _buf.data(), want); !s) {
    _buf.clear();
    return s.take_error();
  }
  return std::string_view(_buf).substr(0, n);
}

}  // namespace weft::memstore::detail
