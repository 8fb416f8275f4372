#pragma once
/// Identity providers as data: each kind's endpoints, default scopes, scope aliases and the
/// quirks of its authorization request, merged with [oauth2.providers.<name>].

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <weft/base/result.hh>
#include <weft/service/config.hh>

namespace weft::oauth2 {

struct provider {
  std::string name, kind, client_id, client_secret;
  std::string auth_url, token_url, device_url, revoke_url;
  std::string issuer;  ///< oidc: endpoints come from its discovery document when not given
  bool discovered = false;  ///< the discovery document was read (its endpoints filled the empty ones)
  std::vector<std::string> default_scopes;
  std::vector<std::string> always_scopes;  ///< added to every request (microsoft: offline_access)
  std::map<std::string, std::string> aliases;  ///< short name → the provider's scope
  std::vector<std::pair<std::string, std::string>> auth_params;  ///< extra (google: access_type=offline)
};

/// The provider of `s`: its kind's table, overridden by what `s` sets.
provider resolve(const service::oauth2_provider_settings& s);

/// Where an issuer's discovery document is (OpenID Connect Discovery 1.0 §4): the issuer
/// without a trailing '/', then /.well-known/openid-configuration.
std::string discovery_url(const std::string& issuer);

/// The endpoints an issuer's discovery document names.
struct discovered_endpoints {
  std::string auth_url, token_url, device_url, revoke_url;
};

/// Reads a discovery document (outside input): a JSON object whose `issuer` is exactly
/// `issuer` (§4.3: else it may be an impostor's), with authorization_endpoint and
/// token_endpoint, and device_authorization_endpoint and revocation_endpoint where it has
/// them; every endpoint https (http only to this machine). errc::malformed with the reason.
result<discovered_endpoints> read_discovery(std::string_view body, const std::string& issuer);

/// Fills the endpoints `p` does not have (those given in the config win) from `d`.
void take_discovered(provider& p, const discovered_endpoints& d);

/// An endpoint that may carry secrets: https, or http to this machine only (127.0.0.0/8, ::1,
/// localhost).
bool secure_endpoint(std::string_view url);

/// A scope as the provider names it: an alias expanded, anything else as given.
std::string scope_of(const provider& p, const std::string& scope);

/// The scopes of a request: `asked` (or the defaults when empty), expanded, with the
/// always-scopes, without repeats, in order.
std::vector<std::string> request_scopes(const provider& p, const std::vector<std::string>& asked);

}  // namespace weft::oauth2
