#include "services/oauth2/store.hh"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <weft/base/fd.hh>
#include <weft/base/io.hh>

namespace weft::oauth2 {

namespace {

using json = nlohmann::json;
constexpr std::string_view magic = "WEFTOA1\n";
constexpr std::size_t max_store_bytes = 16u << 20;

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

result<std::string> read_small(const std::string& path, std::size_t max, struct stat* st) {
  unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return fail(errno == ENOENT ? errc::not_found : errc::io, "{}", std::strerror(errno));
  if (st && ::fstat(fd.get(), st) != 0) return fail(errc::io, "{}", std::strerror(errno));
  return read_to_end(fd.get(), max);
}

/// 32 raw bytes, or 64 hex digits (and a newline).
std::optional<store_key> key_of(std::string_view text) {
  store_key k{};
  if (text.size() == k.size()) {
    std::memcpy(k.data(), text.data(), k.size());
    return k;
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.remove_suffix(1);
  std::size_t len = 0;
  if (text.size() == 64 && sodium_hex2bin(k.data(), k.size(), text.data(), text.size(), nullptr, &len, nullptr) == 0 &&
      len == k.size())
    return k;
  return std::nullopt;
}

json to_json(const store_contents& c) {
  json arr = json::array();
  for (auto& [n, x] : c.by_name)
    arr.push_back({{"name", x.name}, {"provider", x.provider}, {"scopes", x.scopes}, {"refresh_token", x.refresh_token},
                   {"rotating", x.rotating}, {"created_ms", x.created_ms}, {"last_refresh_ms", x.last_refresh_ms},
                   {"last_error", x.last_error}});
  json grants = json::array();
  for (auto& [agent, accs] : c.grants)
    for (auto& [account, scopes] : accs) grants.push_back({{"agent", agent}, {"account", account}, {"scopes", scopes}});
  return {{"version", 1}, {"accounts", std::move(arr)}, {"grants", std::move(grants)}};
}

result<store_contents> from_json(const json& j, std::string_view shown) {
  auto bad = [&](std::string_view what) {
    return fail(errc::malformed, "Failed to read the token store '{}': {}", shown, what);
  };
  if (!j.is_object() || !j.contains("accounts") || !j["accounts"].is_array()) return bad("no accounts list");
  store_contents out;
  for (auto& x : j["accounts"]) {
    if (!x.is_object() || !x.contains("name") || !x["name"].is_string() || !x.contains("provider") ||
        !x["provider"].is_string() || !x.contains("refresh_token") || !x["refresh_token"].is_string())
      return bad("an account without name, provider or refresh token");
    stored_account a;
    a.name = x["name"];
    a.provider = x["provider"];
    a.refresh_token = x["refresh_token"];
    if (x.contains("scopes") && x["scopes"].is_array())
      for (auto& s : x["scopes"])
        if (s.is_string()) a.scopes.push_back(s);
    a.rotating = x.value("rotating", false);
    a.created_ms = x.value("created_ms", std::uint64_t{0});
    a.last_refresh_ms = x.value("last_refresh_ms", std::uint64_t{0});
    if (x.contains("last_error") && x["last_error"].is_string()) a.last_error = x["last_error"];
    out.by_name[a.name] = std::move(a);
  }
  // Added later: a store without grants has none.
  if (j.contains("grants")) {
    if (!j["grants"].is_array()) return bad("the grants are not a list");
    for (auto& g : j["grants"]) {
      if (!g.is_object() || !g.contains("agent") || !g["agent"].is_string() || !g.contains("account") ||
          !g["account"].is_string() || !g.contains("scopes") || !g["scopes"].is_array())
        return bad("a grant without agent, account or scopes");
      auto& scopes = out.grants[g["agent"].get<std::string>()][g["account"].get<std::string>()];
      for (auto& sc : g["scopes"])
        if (sc.is_string()) scopes.push_back(sc);
    }
  }
  return out;
}

}  // namespace

result<store_key> load_key(const std::string& credentials_dir, const std::string& key_file, std::string* where,
                           const keyring_source& keyring) {
  if (sodium_init() < 0) return fail(errc::unavailable, "Failed to start libsodium");
  if (!credentials_dir.empty()) {
    auto path = credentials_dir + "/oauth2.key";
    auto text = read_small(path, 4096, nullptr);
    if (text) {
      auto k = key_of(*text);
      sodium_memzero(text->data(), text->size());
      if (!k) return fail(errc::config, "Failed to use the systemd credential '{}': it must be 32 bytes, or 64 hex digits", path);
      if (where) *where = "systemd credential " + path;
      return *k;
    }
    if (!text.err().is(errc::domain, errc::not_found))
      return fail(errc::io, "Failed to read the systemd credential '{}': {}", path, text.err().message);
  }
  if (keyring) {
    struct stat ks {};
    bool file_exists = !key_file.empty() && ::lstat(key_file.c_str(), &ks) == 0;
    auto k = keyring(file_exists, where);
    if (!k) return k.take_error();
    if (*k) return **k;
  }
  if (key_file.empty()) return fail(errc::config, "Failed to find a key for the token store: no systemd credential and no key file");
  struct stat st {};
  auto text = read_small(key_file, 4096, &st);
  if (!text && text.err().is(errc::domain, errc::not_found)) {
    // First start: a new random key, readable by this user alone.
    store_key k;
    randombytes_buf(k.data(), k.size());
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(key_file).parent_path(), ec);
    if (auto s = write_file_atomic(key_file, std::string_view(reinterpret_cast<const char*>(k.data()), k.size()), 0600); !s)
      return fail(errc::unavailable, "Failed to create the key file '{}': {}", key_file, s.err().message);
    if (where) *where = "key file " + key_file + " (created)";
    return k;
  }
  if (!text) return fail(errc::io, "Failed to read the key file '{}': {}", key_file, text.err().message);
  if (st.st_mode & 077) {
    sodium_memzero(text->data(), text->size());
    return fail(errc::config, "Failed to use the key file '{}': others may read it (mode {:04o}); chmod 600 it, or "
                              "remove it to have a new one made (the stored accounts must then log in again)",
                key_file, st.st_mode & 07777);
  }
  auto k = key_of(*text);
  sodium_memzero(text->data(), text->size());
  if (!k) return fail(errc::config, "Failed to use the key file '{}': it must be 32 bytes, or 64 hex digits", key_file);
  if (where) *where = "key file " + key_file;
  return *k;
}

std::string seal(const store_contents& c, const store_key& key) {
  auto plain = to_json(c).dump();
  std::string out(magic);
  unsigned char nonce[crypto_secretbox_NONCEBYTES];
  randombytes_buf(nonce, sizeof nonce);
  out.append(reinterpret_cast<const char*>(nonce), sizeof nonce);
  std::string box(plain.size() + crypto_secretbox_MACBYTES, '\0');
  crypto_secretbox_easy(reinterpret_cast<unsigned char*>(box.data()), reinterpret_cast<const unsigned char*>(plain.data()),
                        plain.size(), nonce, key.data());
  sodium_memzero(plain.data(), plain.size());
  return out + box;
}

result<store_contents> unseal(std::string_view file, const store_key& key, std::string_view shown) {
  constexpr auto head = magic.size() + crypto_secretbox_NONCEBYTES;
  if (file.size() < head + crypto_secretbox_MACBYTES || file.substr(0, magic.size()) != magic)
    return fail(errc::malformed, "Failed to open the token store '{}': it is not a weft token store (or it is cut short); "
                                 "nothing was read",
                shown);
  auto nonce = reinterpret_cast<const unsigned char*>(file.data() + magic.size());
  auto box = file.substr(head);
  std::string plain(box.size() - crypto_secretbox_MACBYTES, '\0');
  if (crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(plain.data()),
                                 reinterpret_cast<const unsigned char*>(box.data()), box.size(), nonce, key.data()) != 0)
    return fail(errc::malformed, "Failed to open the token store '{}': it is damaged or sealed with another key; nothing "
                                 "was read, and it is left as it is (restore its key, or move it away and log in again)",
                shown);
  auto j = json::parse(plain, nullptr, false);
  sodium_memzero(plain.data(), plain.size());
  return from_json(j, shown);
}

result<token_store> token_store::open_file(std::string path, const store_key& key, std::string key_where) {
  token_store s;
  s._path = std::move(path);
  s._key = key;
  s._key_where = std::move(key_where);
  auto text = read_small(s._path, max_store_bytes, nullptr);
  if (!text && !text.err().is(errc::domain, errc::not_found))
    return fail(errc::io, "Failed to read the token store '{}': {}", s._path, text.err().message);
  if (text) {
    auto c = unseal(*text, key, s._path);
    if (!c) return c.take_error();
    s._memory = std::move(c->by_name);
    s._grants = std::move(c->grants);
  }
  return s;
}

token_store token_store::memory(std::chrono::seconds ttl) {
  token_store s;
  s._ttl = ttl;
  return s;
}

accounts token_store::load() const {
  if (persistent()) return _memory;
  accounts out;
  auto limit = now_ms() - static_cast<std::uint64_t>(_ttl.count()) * 1000;
  for (auto& [n, a] : _memory)
    if (a.created_ms >= limit) out[n] = a;
  return out;
}

status token_store::write(const accounts& a, const grant_map& g) {
  if (persistent()) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(_path).parent_path(), ec);
    if (auto s = write_file_atomic(_path, seal({a, g}, _key), 0600); !s)
      return fail(errc::io, "Failed to write the token store '{}': {}", _path, s.err().message);
  }
  _memory = a;
  _grants = g;
  return {};
}

status token_store::save(const accounts& a) { return write(a, _grants); }

status token_store::save_grants(const grant_map& g) { return write(_memory, g); }

std::string token_store::describe() const {
  if (persistent()) return fmt::format("encrypted: {} (key: {})", _path, _key_where);
  return fmt::format("memory only: tokens are forgotten after {} s and at every restart ([oauth2] store = \"memory\")",
                     _ttl.count());
}

}  // namespace weft::oauth2
