// [oauth2]: the OAuth2 broker's providers, token store and grants (docs/config.md).
#include "config_check.hh"

namespace weft::service::detail {

namespace {

constexpr std::array<std::string_view, 5> provider_kinds = {"google", "microsoft", "github", "slack", "oidc"};

bool valid_oauth2_name(std::string_view n) {
  return !n.empty() && n.size() <= 64 && std::all_of(n.begin(), n.end(), [](unsigned char c) {
    return std::islower(c) || std::isdigit(c) || c == '-' || c == '_' || c == '.' || c == '@';
  });
}

bool http_url(const std::string& u) { return u.rfind("https://", 0) == 0 || u.rfind("http://", 0) == 0; }

}  // namespace

void read_oauth2(checker& ck, const toml::table& t, config& c) {
  auto& o = c.oauth2;
  o.configured = true;
  o.where = ck.where(t.source());
  const std::string label = "[oauth2]";
  ck.check_keys(t, label, {"store", "key_file", "memory_ttl_s", "redirect_port", "providers", "grants"});
  constexpr std::array<std::pair<std::string_view, int>, 2> stores = {std::pair{"encrypted", 0}, std::pair{"memory", 1}};
  if (auto s = ck.read_enum(t, label, "store", stores)) o.store = std::string(stores[static_cast<std::size_t>(*s)].first);
  if (auto k = ck.read_string(t, label, "key_file")) {
    if (k->empty() || k->front() != '/')
      ck.error(t.get("key_file")->source(), fmt::format("{} key_file must be an absolute path, not '{}'", label, clean(*k)));
    else
      o.key_file = *k;
  }
  o.memory_ttl_s = ck.read_uint(t, label, "memory_ttl_s", std::uint32_t{60}, std::uint32_t{86400}).value_or(o.memory_ttl_s);
  o.redirect_port = ck.read_uint(t, label, "redirect_port", std::uint16_t{0}, std::uint16_t{65535}).value_or(0);

  if (auto* n = t.get("providers")) {
    // Client secrets reach the broker alone.
    ck.track_env(&c.secret_vars["oauth2"]);
    if (auto* pt = n->as_table()) {
      for (auto [k, v] : in_file_order(*pt)) {
        std::string name(k->str());
        auto plabel = fmt::format("[oauth2.providers.{}]", clean(name));
        auto* e = v->as_table();
        if (!valid_oauth2_name(name) || !e) {
          ck.error(k->source(), fmt::format("{} must be a table named with a-z, 0-9, '-', '_' and '.'", plabel));
          continue;
        }
        oauth2_provider_settings p;
        p.name = name;
        p.where = ck.where(e->source());
        ck.check_keys(*e, plabel,
                      {"kind", "client_id", "client_secret", "auth_url", "token_url", "device_url", "revoke_url", "issuer",
                       "tenant", "scopes"});
        // The kind defaults to the name when the name is one (google, microsoft, …).
        auto kind = ck.read_string(*e, plabel, "kind");
        p.kind = kind ? *kind : (std::find(provider_kinds.begin(), provider_kinds.end(), name) != provider_kinds.end() ? name : "");
        if (std::find(provider_kinds.begin(), provider_kinds.end(), p.kind) == provider_kinds.end())
          ck.error((kind ? e->get("kind") : static_cast<const toml::node*>(e))->source(),
                   fmt::format("{} kind must be one of google, microsoft, github, slack, oidc{}", plabel,
                               kind ? ", not '" + clean(*kind) + "'" : std::string()));
        if (auto id = ck.read_string(*e, plabel, "client_id")) p.client_id = *id;
        else ck.error(e->source(), fmt::format("{} needs client_id (from the app registered with the provider)", plabel));
        if (auto sec = ck.read_string(*e, plabel, "client_secret")) p.client_secret = *sec;
        for (auto [key, field] : {std::pair{"auth_url", &p.auth_url}, std::pair{"token_url", &p.token_url},
                                  std::pair{"device_url", &p.device_url}, std::pair{"revoke_url", &p.revoke_url},
                                  std::pair{"issuer", &p.issuer}}) {
          if (auto u = ck.read_string(*e, plabel, key)) {
            if (!http_url(*u)) ck.error(e->get(key)->source(), fmt::format("{} {} must be an http(s) URL, not '{}'", plabel, key, clean(*u)));
            else if (!secure_url(*u))
              ck.error(e->get(key)->source(), fmt::format("{} {} must be https:// (http:// only to this machine: it carries "
                                                          "the client secret and tokens), not '{}'", plabel, key, clean(*u)));
            else *field = *u;
          }
        }
        // Without an issuer there is no discovery document to read the endpoints from.
        if (p.kind == "oidc" && p.issuer.empty() && (p.auth_url.empty() || p.token_url.empty()))
          ck.error(e->source(), fmt::format("{} (oidc) needs issuer (its endpoints are read from "
                                            "<issuer>/.well-known/openid-configuration), or auth_url and token_url",
                                            plabel));
        if (auto tn = ck.read_string(*e, plabel, "tenant")) p.tenant = *tn;
        if (auto sc = ck.read_strings(*e, plabel, "scopes")) p.scopes = std::move(*sc);
        o.providers[name] = std::move(p);
      }
    } else {
      ck.error(n->source(), fmt::format("{} providers must be a table of providers ([oauth2.providers.<name>]), not {}",
                                        label, a_type(*n)));
    }
    ck.track_env(nullptr);
  }

  if (auto* n = t.get("grants")) {
    if (auto* gt = n->as_table()) {
      for (auto [k, v] : in_file_order(*gt)) {
        std::string agent(k->str());
        auto glabel = fmt::format("[oauth2.grants.{}]", clean(agent));
        if (!c.agents.count(agent)) {
          ck.error(k->source(), fmt::format("{} names no agent of [agents]", glabel));
          continue;
        }
        auto* at = v->as_table();
        if (!at) {
          ck.error(v->source(), fmt::format("{} must be a table of account = [scopes], not {}", glabel, a_type(*v)));
          continue;
        }
        auto& mine = o.grants[agent];
        for (auto [ak, av] : in_file_order(*at)) {
          std::string account(ak->str());
          if (!valid_oauth2_name(account)) {
            ck.error(ak->source(), fmt::format("{} account '{}' must be named with a-z, 0-9, '-', '_', '.' and '@'",
                                               glabel, clean(account)));
            continue;
          }
          if (auto sc = ck.read_strings(*at, glabel, account)) {
            if (sc->empty())
              ck.error(av->source(), fmt::format("{} {} grants no scope: list the ones its tools may use", glabel, account));
            mine[account] = std::move(*sc);
          }
        }
      }
    } else {
      ck.error(n->source(), fmt::format("{} grants must be a table ([oauth2.grants.<agent>]), not {}", label, a_type(*n)));
    }
  }
}

}  // namespace weft::service::detail
