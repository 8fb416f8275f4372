#include "services/oauth2/providers.hh"

#include <algorithm>
#include <tuple>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <weft/http/server.hh>

namespace weft::oauth2 {

namespace {

provider table(const std::string& kind, const std::string& tenant) {
  provider p;
  p.kind = kind;
  if (kind == "google") {
    p.auth_url = "https://accounts.google.com/o/oauth2/v2/auth";
    p.token_url = "https://oauth2.googleapis.com/token";
    p.device_url = "https://oauth2.googleapis.com/device/code";
    p.revoke_url = "https://oauth2.googleapis.com/revoke";
    p.default_scopes = {"openid", "email"};
    const std::string g = "https://www.googleapis.com/auth/";
    p.aliases = {{"calendar", g + "calendar"},          {"calendar.readonly", g + "calendar.readonly"},
                 {"gmail.readonly", g + "gmail.readonly"}, {"gmail.send", g + "gmail.send"},
                 {"gmail.modify", g + "gmail.modify"},     {"gmail.compose", g + "gmail.compose"},
                 {"mail", "https://mail.google.com/"}};
    // A refresh token comes only with offline access, and again only when consent is asked.
    p.auth_params = {{"access_type", "offline"}, {"prompt", "consent"}};
  } else if (kind == "microsoft") {
    auto base = "https://login.microsoftonline.com/" + (tenant.empty() ? std::string("common") : tenant) + "/oauth2/v2.0/";
    p.auth_url = base + "authorize";
    p.token_url = base + "token";
    p.device_url = base + "devicecode";
    p.default_scopes = {"openid", "email", "User.Read"};
    p.always_scopes = {"offline_access"};
    const std::string g = "https://graph.microsoft.com/";
    p.aliases = {{"calendar", g + "Calendars.ReadWrite"}, {"calendar.readonly", g + "Calendars.Read"},
                 {"mail.readonly", g + "Mail.Read"},       {"mail.send", g + "Mail.Send"},
                 {"mail", g + "Mail.ReadWrite"}};
  } else if (kind == "github") {
    p.auth_url = "https://github.com/login/oauth/authorize";
    p.token_url = "https://github.com/login/oauth/access_token";
    p.device_url = "https://github.com/login/device/code";
    p.default_scopes = {"repo"};
  } else if (kind == "slack") {
    p.auth_url = "https://slack.com/oauth/v2/authorize";
    p.token_url = "https://slack.com/api/oauth.v2.access";
    p.revoke_url = "https://slack.com/api/auth.revoke";
    p.default_scopes = {"chat:write"};
  } else {  // oidc
    p.default_scopes = {"openid", "email", "offline_access"};
  }
  return p;
}

}  // namespace

provider resolve(const service::oauth2_provider_settings& s) {
  provider p = table(s.kind, s.tenant);
  p.name = s.name;
  p.client_id = s.client_id;
  p.client_secret = s.client_secret;
  p.issuer = s.issuer;
  for (auto [from, to] : {std::pair{&s.auth_url, &p.auth_url}, std::pair{&s.token_url, &p.token_url},
                          std::pair{&s.device_url, &p.device_url}, std::pair{&s.revoke_url, &p.revoke_url}})
    if (!from->empty()) *to = *from;
  if (!s.scopes.empty()) p.default_scopes = s.scopes;
  return p;
}

std::string discovery_url(const std::string& issuer) {
  auto base = issuer;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/.well-known/openid-configuration";
}

bool secure_endpoint(std::string_view u) {
  if (u.rfind("https://", 0) == 0) return u.size() > 8;
  if (u.rfind("http://", 0) != 0) return false;
  auto end = u.find_first_of("/?#", 7);
  auto host = u.substr(7, end == std::string_view::npos ? std::string_view::npos : end - 7);
  // userinfo@ is not the host
  if (auto at = host.rfind('@'); at != std::string_view::npos) host = host.substr(at + 1);
  if (host.rfind("[::1]", 0) == 0) return host.size() == 5 || host[5] == ':';
  return http::is_loopback(host.substr(0, host.find(':')));
}

result<discovered_endpoints> read_discovery(std::string_view body, const std::string& issuer) {
  using json = nlohmann::json;
  auto j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail(errc::malformed, "the discovery document is not a JSON object");
  if (!j.contains("issuer") || !j["issuer"].is_string())
    return fail(errc::malformed, "the discovery document names no issuer");
  if (j["issuer"].get<std::string>() != issuer)
    return fail(errc::malformed, "the discovery document is of issuer '{}', not '{}' (they must be equal exactly: "
                                 "OpenID Connect Discovery 1.0 §4.3)",
                j["issuer"].get<std::string>(), issuer);
  discovered_endpoints d;
  for (auto [key, field, required] : {std::tuple{"authorization_endpoint", &d.auth_url, true},
                                      std::tuple{"token_endpoint", &d.token_url, true},
                                      std::tuple{"device_authorization_endpoint", &d.device_url, false},
                                      std::tuple{"revocation_endpoint", &d.revoke_url, false}}) {
    if (!j.contains(key) || j[key].is_null()) {
      if (required) return fail(errc::malformed, "the discovery document has no {}", key);
      continue;
    }
    if (!j[key].is_string()) return fail(errc::malformed, "the discovery document's {} is not a string", key);
    auto u = j[key].get<std::string>();
    if (!secure_endpoint(u))
      return fail(errc::malformed, "the discovery document's {} '{}' is not https (http only to this machine: it "
                                   "carries the client secret and tokens)",
                  key, u);
    *field = std::move(u);
  }
  return d;
}

void take_discovered(provider& p, const discovered_endpoints& d) {
  for (auto [from, to] : {std::pair{&d.auth_url, &p.auth_url}, std::pair{&d.token_url, &p.token_url},
                          std::pair{&d.device_url, &p.device_url}, std::pair{&d.revoke_url, &p.revoke_url}})
    if (to->empty()) *to = *from;
  p.discovered = true;
}

std::string scope_of(const provider& p, const std::string& scope) {
  auto it = p.aliases.find(scope);
  return it == p.aliases.end() ? scope : it->second;
}

std::vector<std::string> request_scopes(const provider& p, const std::vector<std::string>& asked) {
  std::vector<std::string> out;
  auto add = [&](const std::string& s) {
    auto full = scope_of(p, s);
    if (std::find(out.begin(), out.end(), full) == out.end()) out.push_back(full);
  };
  for (auto& s : asked.empty() ? p.default_scopes : asked) add(s);
  for (auto& s : p.always_scopes) add(s);
  return out;
}

}  // namespace weft::oauth2
