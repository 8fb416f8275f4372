#include <weft/ipc/token.hh>

#include <cerrno>
#include <cstring>
#include <unistd.h>

#include <sodium.h>

namespace weft::ipc {

namespace {
void init_sodium() {
  static const bool ok = sodium_init() >= 0;
  (void)ok;
}
}  // namespace

secret make_secret() {
  init_sodium();
  secret s;
  randombytes_buf(s.data(), s.size());
  return s;
}

std::string make_token(const secret& key, std::string_view address) {
  init_sodium();
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256(mac, reinterpret_cast<const unsigned char*>(address.data()), address.size(), key.data());
  char hex[crypto_auth_hmacsha256_BYTES * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
  return hex;
}

bool verify_token(const secret& key, std::string_view address, std::string_view token) {
  init_sodium();
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  size_t len = 0;
  if (token.size() != sizeof mac * 2) return false;
  if (sodium_hex2bin(mac, sizeof mac, token.data(), token.size(), nullptr, &len, nullptr) != 0 || len != sizeof mac)
    return false;
  return crypto_auth_hmacsha256_verify(mac, reinterpret_cast<const unsigned char*>(address.data()), address.size(),
                                       key.data()) == 0;
}

std::string secret_to_hex(const secret& s) {
  char hex[sizeof(secret) * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, s.data(), s.size());
  return hex;
}

result<secret> secret_from_hex(std::string_view hex) {
  secret s;
  size_t len = 0;
  if (hex.size() != s.size() * 2 ||
      sodium_hex2bin(s.data(), s.size(), hex.data(), hex.size(), nullptr, &len, nullptr) != 0 || len != s.size())
    return fail(errc::invalid_argument, "bus secret is not {} hex digits", s.size() * 2);
  return s;
}

result<std::string> read_credential_fd(int fd) {
  std::string out;
  char buf[512];
  for (;;) {
    auto n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      return fail(errc::io, "Failed to read credential from fd {}: {}", fd, std::strerror(e));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > 4096) {
      ::close(fd);
      return fail(errc::invalid_argument, "credential on fd {} is longer than 4096 bytes", fd);
    }
  }
  ::close(fd);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

}  // namespace weft::ipc
