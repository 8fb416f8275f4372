#include <weft/http/token.hh>

#include <fcntl.h>
#include <sys/random.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <weft/base/fd.hh>
#include <weft/base/io.hh>

namespace weft::http {

std::string random_hex(std::size_t bytes) {
  std::string raw(bytes, '\0');
  std::size_t got = 0;
  while (got < bytes) {
    auto n = ::getrandom(raw.data() + got, bytes - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return {};
    got += static_cast<std::size_t>(n);
  }
  return to_hex(raw);
}

result<std::string> ensure_token(const std::string& file) {
  if (unique_fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC)); fd) {
    if (auto t = read_to_end(fd.get(), 4096); t) {
      auto s = *t;
      while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
      if (!s.empty()) return s;
    }
  }
  std::error_code ec;
  auto dir = std::filesystem::path(file).parent_path();
  std::filesystem::create_directories(dir, ec);
  if (ec) return fail(errc::io, "Failed to create '{}' for the token: {}", dir.string(), ec.message());
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
  auto token = random_hex(32);
  if (token.size() != 64) return fail(errc::io, "Failed to generate a token for '{}': the kernel gave no random bytes", file);
  // Made again at the next start if a crash takes it back: no fsync on the way to READY.
  if (auto s = write_file_volatile(file, token + "\n", 0600); !s) return s.take_error();
  return token;
}

}  // namespace weft::http
