#pragma once
/// The writer's Ed25519 signing key: loaded, or generated on first use.

#include <array>
#include <filesystem>

#include <weft/base/result.hh>

#include "format.hh"

namespace weft::witness::detail {

/// Secret key bytes (libsodium's seed ‖ public key), wiped on destruction.
struct secret_key {
  std::array<std::uint8_t, 64> bytes{};
  public_key pk{};
  secret_key() = default;
  secret_key(const secret_key&) = delete;
  secret_key& operator=(const secret_key&) = delete;
  ~secret_key();
};

/// Loads `key_file` (64 bytes, mode 0600 or stricter), or creates it (directory 0700) when
/// absent; then makes sure `public_file` holds its public half (writing it when absent).
/// `generated` is set when a new key was made.
status load_or_create_key(const std::filesystem::path& key_file, const std::filesystem::path& public_file,
                          secret_key& out, bool& generated);

// Files are written with weft::write_file_atomic (weft/base/io.hh).

}  // namespace weft::witness::detail
