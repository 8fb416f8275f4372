#include "services/oauth2/open_store.hh"

#include <cstdlib>

#include <weft/base/log.hh>

#include "services/oauth2/keyring.hh"

namespace weft::oauth2 {

result<token_store> open_store(const service::oauth2_settings& o, const std::string& home) {
  auto& lg = log::get("oauth2");
  auto memory = [&](std::string_view why) {
    lg.warning("tokens are kept in memory only ({}): every account must log in again after {} s and after every restart",
               why, o.memory_ttl_s);
    return token_store::memory(std::chrono::seconds(o.memory_ttl_s));
  };
  if (o.store == "memory") return memory("[oauth2] store = \"memory\"");
  const char* creds = std::getenv("CREDENTIALS_DIRECTORY");
  keyring_source keyring = [&](bool key_file_exists, std::string* where) -> result<std::optional<store_key>> {
    auto a = keyring_key(home, /*create=*/!key_file_exists);
    if (!a) return a.take_error();
    if (!a->key) {
      lg.info("desktop keyring not used: {}", a->note);
      return std::optional<store_key>();
    }
    if (where)
      *where = std::string("desktop keyring (Secret Service item 'weft oauth2 store key', home=") + home + ")" +
               (a->created ? " (created)" : "");
    return a->key;
  };
  std::string where;
  auto key = load_key(creds ? creds : "", o.key_file.empty() ? home + "/oauth2/store.key" : o.key_file, &where, keyring);
  if (!key && key.err().is(errc::domain, errc::unavailable)) {
    lg.warning("{}", key.err().message);
    return memory("no key could be had: no systemd credential, no desktop keyring, and no key file could be made");
  }
  if (!key) {
    lg.error("{}; logins and tokens are refused until it is fixed", key.err().message);
    return key.take_error();
  }
  auto store = token_store::open_file(home + "/oauth2/tokens.sealed", *key, where);
  if (store) lg.info("token store: {}", store->describe());
  else lg.error("{}; logins and tokens are refused until it is fixed", store.err().message);
  return store;
}

}  // namespace weft::oauth2
