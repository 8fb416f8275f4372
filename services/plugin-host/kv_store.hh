#pragma once
/// A plugin's own small key-value store (the kv_get / kv_put host functions): a map kept in
/// one file, `<workspace>/.plugin-data/<plugin>/kv`, rewritten whole through a temporary
/// file and a rename on every change, so a crash leaves the old or the new store. Bounded by
/// the ABI's limits (plugin::abi::host_limits): keys 1–256 bytes, values up to 64 KiB, 1024
/// keys and 1 MiB a store. Not thread-safe: the host serves one call per plugin at a time.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <weft/base/result.hh>

namespace weft::plugin_host {

class kv_store {
 public:
  /// What a put may answer besides success.
  enum class put_error : std::uint8_t { invalid_key = 1, value_too_large = 2, store_full = 3, io = 4 };

  /// Opens the store at `path` (its directory is created); a missing file is an empty store,
  /// an unreadable or damaged one an error (errc::io) naming the file.
  static result<kv_store> open(std::string path);

  std::optional<std::string_view> get(std::string_view key) const;
  /// Sets `key` (an empty value removes it) and writes the store.
  std::optional<put_error> put(std::string_view key, std::string_view value);

  std::size_t keys() const { return _map.size(); }
  std::size_t bytes() const { return _bytes; }
  const std::string& path() const { return _path; }

 private:
  explicit kv_store(std::string path) : _path(std::move(path)) {}
  status save() const;

  std::string _path;
  std::map<std::string, std::string, std::less<>> _map;
  std::size_t _bytes = 0;  // keys and values together
};

}  // namespace weft::plugin_host
