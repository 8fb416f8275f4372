#pragma once
/// The token store [oauth2] asks for, its key taken from the first source that has one:
/// the systemd credential `oauth2.key`, the desktop keyring (when DBUS_SESSION_BUS_ADDRESS
/// is set and a Secret Service answers), the 0600 key file — and, when none can be had
/// (the key file cannot even be made), memory only. The log says which, once.

#include <string>

#include <weft/base/result.hh>
#include <weft/service/config.hh>

#include "services/oauth2/store.hh"

namespace weft::oauth2 {

/// An error when the store is unusable (a damaged file, a key others may read, a bad key
/// in the keyring): the broker then runs and says why on every call.
result<token_store> open_store(const service::oauth2_settings& o, const std::string& home);

}  // namespace weft::oauth2
