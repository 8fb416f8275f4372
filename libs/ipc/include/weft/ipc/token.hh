#pragma once
/// Bus credentials: weftd holds a per-boot secret and hands each child the token for its
/// address; the bus verifies a token without a table by recomputing it.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include <weft/base/result.hh>

namespace weft::ipc {

/// 32 random bytes, created once per weftd boot.
using secret = std::array<std::uint8_t, 32>;

secret make_secret();

/// Hex HMAC-SHA256 of `address` under `key`.
std::string make_token(const secret& key, std::string_view address);

/// Constant-time check that `token` is the token of `address`.
bool verify_token(const secret& key, std::string_view address, std::string_view token);

/// Secrets travel as hex over inherited pipes, never in argv or the environment.
std::string secret_to_hex(const secret& s);
result<secret> secret_from_hex(std::string_view hex);

/// Reads a whole small credential (up to 4 KiB) from an inherited fd and closes it.
result<std::string> read_credential_fd(int fd);

}  // namespace weft::ipc
