#pragma once
/// The desktop keyring as a place for the token store's key: a Secret Service
/// (gnome-keyring, KeePassXC, KWallet's) on the session bus, through libsecret, so a desktop
/// user's key is locked with their login rather than lying in a file. The item is labelled
/// "weft oauth2 store key" with the attributes application=weft and home=<WEFT_HOME>; its
/// secret is the key as 64 hex digits. Built without libsecret, nothing is ever found here.

#include <optional>
#include <string>

#include <weft/base/result.hh>

#include "services/oauth2/store.hh"

namespace weft::oauth2 {

/// What the keyring gave.
struct keyring_answer {
  std::optional<store_key> key;  ///< absent: the keyring is not used (`note` says why)
  bool created = false;          ///< a new key was stored there now
  std::string note;              ///< for the log: why it was not used
};

/// True when this build has libsecret.
bool keyring_built();

/// The key of the store of `home` from the Secret Service of the session bus
/// (DBUS_SESSION_BUS_ADDRESS must be set, and the service answer). With `create` and no key
/// there, a new random one is stored and returned. A keyring that cannot be reached, or
/// refuses to store, is no error (the key file is used: `note` says why); a key there that
/// is not 64 hex digits is one, since the store it sealed cannot be opened without it.
result<keyring_answer> keyring_key(const std::string& home, bool create);

}  // namespace weft::oauth2
