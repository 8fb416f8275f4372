#pragma once
/// Identity providers as data: each kind's endpoints, default scopes, scope aliases and the
/// quirks of its authorization request, merged with [oauth2.providers.<name>].

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <weft/service/config.hh>

namespace weft::oauth2 {

struct provider {
  std::string name, kind, client_id, client_secret;
  std::string auth_url, token_url, device_url, revoke_url;
  std::string issuer;  ///< oidc: endpoints come from its discovery document when not given
  std::vector<std::string> default_scopes;
  std::vector<std::string> always_scopes;  ///< added to every request (microsoft: offline_access)
  std::map<std::string, std::string> aliases;  ///< short name → the provider's scope
  std::vector<std::pair<std::string, std::string>> auth_params;  ///< extra (google: access_type=offline)
};

/// The provider of `s`: its kind's table, overridden by what `s` sets.
provider resolve(const service::oauth2_provider_settings& s);

/// A scope as the provider names it: an alias expanded, anything else as given.
std::string scope_of(const provider& p, const std::string& scope);

/// The scopes of a request: `asked` (or the defaults when empty), expanded, with the
/// always-scopes, without repeats, in order.
std::vector<std::string> request_scopes(const provider& p, const std::vector<std::string>& asked);

}  // namespace weft::oauth2
