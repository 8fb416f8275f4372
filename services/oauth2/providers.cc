#include "services/oauth2/providers.hh"

#include <algorithm>

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
