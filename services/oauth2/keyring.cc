#include "services/oauth2/keyring.hh"

#include <sodium.h>

#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#ifdef WEFT_HAVE_LIBSECRET
#include <libsecret/secret.h>
#endif

namespace weft::oauth2 {

#ifdef WEFT_HAVE_LIBSECRET

namespace {

constexpr const char* item_label = "weft oauth2 store key";

const SecretSchema* schema() {
  static const SecretSchema s = [] {
    SecretSchema x{};
    x.name = "io.weft.oauth2.StoreKey";
    x.flags = SECRET_SCHEMA_DONT_MATCH_NAME;
    x.attributes[0] = {"application", SECRET_SCHEMA_ATTRIBUTE_STRING};
    x.attributes[1] = {"home", SECRET_SCHEMA_ATTRIBUTE_STRING};
    x.attributes[2] = {nullptr, SECRET_SCHEMA_ATTRIBUTE_STRING};
    return x;
  }();
  return &s;
}

std::string take_message(GError* e) {
  std::string m = e && e->message ? e->message : "unknown error";
  if (e) g_error_free(e);
  return m;
}

}  // namespace

bool keyring_built() { return true; }

result<keyring_answer> keyring_key(const std::string& home, bool create) {
  keyring_answer out;
  const char* bus = std::getenv("DBUS_SESSION_BUS_ADDRESS");
  if (!bus || !*bus) {
    out.note = "DBUS_SESSION_BUS_ADDRESS is not set";
    return out;
  }
  if (sodium_init() < 0) return fail(errc::unavailable, "Failed to start libsodium");
  // Does a Secret Service answer? Opening a session asks it something.
  GError* err = nullptr;
  SecretService* svc = secret_service_get_sync(SECRET_SERVICE_OPEN_SESSION, nullptr, &err);
  if (!svc) {
    out.note = fmt::format("no Secret Service answers on the session bus: {}", take_message(err));
    return out;
  }
  g_object_unref(svc);
  gchar* found = secret_password_lookup_sync(schema(), nullptr, &err, "application", "weft", "home", home.c_str(), nullptr);
  if (err) {
    out.note = fmt::format("Failed to look the key up in the desktop keyring: {}", take_message(err));
    return out;
  }
  if (found) {
    store_key k{};
    std::size_t len = 0, n = std::strlen(found);
    while (n > 0 && (found[n - 1] == '\n' || found[n - 1] == '\r' || found[n - 1] == ' ')) --n;  // `echo … | secret-tool store`
    bool ok = n == 64 && sodium_hex2bin(k.data(), k.size(), found, 64, nullptr, &len, nullptr) == 0 && len == k.size();
    secret_password_free(found);  // wiped, then freed
    if (!ok)
      return fail(errc::config, "Failed to use the key in the desktop keyring (item '{}', home '{}'): it is not 64 hex "
                                "digits; restore it, or delete the item and the store and log in again",
                  item_label, home);
    out.key = k;
    return out;
  }
  if (!create) {
    out.note = "the desktop keyring holds no key for this home, and a key file exists: the key file stays in use";
    return out;
  }
  store_key k{};
  randombytes_buf(k.data(), k.size());
  char hex[65];
  sodium_bin2hex(hex, sizeof hex, k.data(), k.size());
  gboolean stored = secret_password_store_sync(schema(), SECRET_COLLECTION_DEFAULT, item_label, hex, nullptr, &err,
                                               "application", "weft", "home", home.c_str(), nullptr);
  sodium_memzero(hex, sizeof hex);
  if (!stored) {
    out.note = fmt::format("Failed to store a new key in the desktop keyring: {}", take_message(err));
    return out;
  }
  out.key = k;
  out.created = true;
  return out;
}

#else

bool keyring_built() { return false; }

result<keyring_answer> keyring_key(const std::string&, bool) {
  keyring_answer out;
  out.note = "this build has no libsecret";
  return out;
}

#endif

}  // namespace weft::oauth2
