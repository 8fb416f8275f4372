#include <weft/ipc/token.hh>

#include <weft/base/io.hh>

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
  auto text = read_to_end(fd, 4096);
  if (!text) {
    ::close(fd);
    return make_error(text.err().domain, text.err().code, "Failed to read credential from fd {}: {}", fd,
                      text.err().message);
  }
  auto out = std::move(*text);
  ::close(fd);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

}  // namespace weft::ipc
