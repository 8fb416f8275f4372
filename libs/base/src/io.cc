#include <weft/base/io.hh>

#include <cerrno>
#include <cstring>
#include <unistd.h>

namespace weft {

result<std::string> read_to_end(int fd, std::size_t max_bytes) {
  std::string out;
  char buf[64 * 1024];
  for (;;) {
    auto n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(errc::io, "{}", std::strerror(errno));
    if (n == 0) return out;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > max_bytes) return fail(errc::invalid_argument, "larger than {} bytes", max_bytes);
  }
}

}  // namespace weft
