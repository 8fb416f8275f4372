#pragma once
/// Where the OAuth2 broker keeps its accounts' refresh tokens: one file sealed with
/// libsodium's secretbox (XSalsa20-Poly1305) under a 32-byte key from the systemd credential
/// `oauth2.key` ($CREDENTIALS_DIRECTORY), else a 0600 key file — or, configured so, memory
/// only, every token forgotten after a TTL. The file is replaced whole (written, synced,
/// renamed); one that does not open with the key (damaged, another key) is refused whole,
/// never half-read, and is not overwritten.

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <map>
#include <string>
#include <vector>

#include <weft/base/result.hh>

namespace weft::oauth2 {

/// What is kept of an account. Access tokens are not: they live in the broker's memory.
struct stored_account {
  std::string name, provider;
  std::vector<std::string> scopes;
  std::string refresh_token;
  bool rotating = false;            ///< the provider has rotated its refresh token before
  std::uint64_t created_ms = 0, last_refresh_ms = 0;
  std::string last_error;
  bool operator==(const stored_account&) const = default;
};

using accounts = std::map<std::string, stored_account>;

/// Grants given with `weftctl auth grant` (besides the config's [oauth2.grants]): agent →
/// account → scopes. Kept in the sealed file, so nobody changes them without the key.
using grant_map = std::map<std::string, std::map<std::string, std::vector<std::string>>>;

/// What the store file holds.
struct store_contents {
  accounts by_name;
  grant_map grants;
};

using store_key = std::array<unsigned char, 32>;

/// The keyring step of load_key (the desktop keyring: keyring.hh), told whether the key
/// file exists: a key, none (go on to the key file), or an error that stops load_key. Sets
/// `where` when it gives a key.
using keyring_source = std::function<result<std::optional<store_key>>(bool key_file_exists, std::string* where)>;

/// The key: the systemd credential `oauth2.key` in `credentials_dir` (32 raw bytes, or 64
/// hex digits), else what `keyring` gives, else `key_file`, created (32 random bytes, mode
/// 0600) when missing. A key file that others may read, or of another size, is refused;
/// one that cannot be created is errc::unavailable (the caller may keep tokens in memory
/// instead). `where` says which it was.
result<store_key> load_key(const std::string& credentials_dir, const std::string& key_file, std::string* where,
                           const keyring_source& keyring = {});

/// Seals and opens the file format: "WEFTOA1\n", a 24-byte nonce, the secretbox of the
/// accounts and grants as JSON.
std::string seal(const store_contents& c, const store_key& key);
result<store_contents> unseal(std::string_view file, const store_key& key, std::string_view shown);

class token_store {
 public:
  /// The encrypted file at `path` (missing: no accounts yet).
  static result<token_store> open_file(std::string path, const store_key& key, std::string key_where);
  /// Memory only: accounts are forgotten `ttl` after they were logged in.
  static token_store memory(std::chrono::seconds ttl);

  /// The accounts (memory mode: those younger than the TTL).
  accounts load() const;
  /// Replaces the stored accounts whole (the grants kept). The file mode writes atomically.
  status save(const accounts& a);
  /// The grants given with weftctl (memory mode: until the broker stops).
  const grant_map& grants() const { return _grants; }
  /// Replaces the stored grants whole (the accounts kept).
  status save_grants(const grant_map& g);

  bool persistent() const { return !_path.empty(); }
  std::string describe() const;

 private:
  token_store() = default;
  std::string _path, _key_where;
  store_key _key{};
  std::chrono::seconds _ttl{0};
  accounts _memory;
  grant_map _grants;
  status write(const accounts& a, const grant_map& g);
};

}  // namespace weft::oauth2
