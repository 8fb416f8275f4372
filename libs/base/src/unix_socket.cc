#include <weft/base/unix_socket.hh>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace weft {

result<unique_fd> listen_unix(const std::string& path, mode_t mode) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.size() >= sizeof sa.sun_path)
    return fail(errc::invalid_argument, "Failed to listen on '{}': the path is longer than {} bytes", path,
                sizeof sa.sun_path - 1);
  std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  if (ec) return fail(errc::io, "Failed to listen on '{}': {}", path, ec.message());
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(path.c_str());  // left by an earlier run
  unique_fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::chmod(path.c_str(), mode) != 0 ||
      ::listen(fd.get(), 128) != 0)
    return fail(errc::io, "Failed to listen on '{}': {}", path, std::strerror(errno));
  return fd;
}

}  // namespace weft
