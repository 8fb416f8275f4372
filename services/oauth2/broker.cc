#include "services/oauth2/broker.hh"

#include <sodium.h>

#include <algorithm>
#include <deque>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <weft/base/base64.hh>
#include <weft/base/log.hh>
#include <weft/http/request.hh>

#include "proto/oauth_v1.hh"

namespace weft::oauth2 {

namespace ov = proto::oauth_v1;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr auto login_lifetime = std::chrono::minutes(10);
constexpr std::uint64_t refresh_margin_ms = 60'000;  // a token with less left is refreshed first
constexpr std::size_t max_discovery_bytes = 1u << 20;  // an issuer's discovery document
constexpr std::size_t max_runtime_grants = 1024;       // grants given with weftctl, all agents
constexpr std::size_t max_grant_scopes = 64;           // scopes of one grant
constexpr std::size_t max_scope_chars = 512;           // one scope's name

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

std::string random_url_safe(std::size_t bytes) {
  std::vector<unsigned char> b(bytes);
  randombytes_buf(b.data(), b.size());
  return base64_encode({reinterpret_cast<const char*>(b.data()), b.size()}, base64_alphabet::url, false);
}

/// PKCE S256: base64url(sha256(verifier)).
std::string challenge_of(const std::string& verifier) {
  unsigned char h[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(h, reinterpret_cast<const unsigned char*>(verifier.data()), verifier.size());
  return base64_encode({reinterpret_cast<const char*>(h), sizeof h}, base64_alphabet::url, false);
}

std::string form(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (auto& [k, v] : fields) out += (out.empty() ? "" : "&") + http::url_encode(k) + "=" + http::url_encode(v);
  return out;
}

bool valid_account(std::string_view n) {
  return !n.empty() && n.size() <= 64 && std::all_of(n.begin(), n.end(), [](unsigned char c) {
    return std::islower(c) || std::isdigit(c) || c == '-' || c == '_' || c == '.' || c == '@';
  });
}

error oerr(ov::error_code c, std::string msg) { return ov::make(c, "{}", msg); }

/// The provider's error words from a token endpoint's answer: "invalid_grant: Token has
/// been expired or revoked."
std::string provider_words(const json& j, long status) {
  if (j.is_object() && j.contains("error")) {
    std::string e = j["error"].is_string() ? j["error"].get<std::string>() : j["error"].dump();
    if (j.contains("error_description") && j["error_description"].is_string())
      e += ": " + j["error_description"].get<std::string>();
    return e;
  }
  return fmt::format("HTTP {}", status);
}

std::string error_code_of(const json& j) {
  return j.is_object() && j.contains("error") && j["error"].is_string() ? j["error"].get<std::string>() : "";
}

}  // namespace

struct broker::live {
  std::string access_token, token_type = "Bearer";
  std::uint64_t expires_at_ms = 0;
  bool refreshing = false;
  std::vector<std::function<void(result<ov::access_token>)>> waiting;
};

struct broker::login {
  std::string id, provider, account, flow;
  std::vector<std::string> scopes;
  std::string verifier, state, redirect_uri;  // loopback
  std::string device_code;                   // device
  std::chrono::seconds interval{5};
  std::chrono::steady_clock::time_point deadline;
  event_loop::id timer = 0;
  std::optional<result<ov::account>> outcome;
  std::vector<std::pair<service::responder, event_loop::id>> waiters;
};

// ---- the broker ------------------------------------------------------------------------

struct broker_impl {
  broker& b;
  /// One refresh at a time per account (a provider that rotates refresh tokens would refuse
  /// the second of two sent at once): the others wait here for it.
  std::set<std::string> refreshing_accounts;
  std::map<std::string, std::deque<std::function<void()>>> queued_refreshes;

  /// The cache key of an account's tokens: the account, and the scopes a narrowed token has
  /// ("" for the token with all of the account's scopes).
  static std::string live_key(const std::string& account, const std::string& narrowed) { return account + "\n" + narrowed; }
  void erase_live(const std::string& account) {
    for (auto it = b._live.lower_bound(account + "\n"); it != b._live.end() && it->first.rfind(account + "\n", 0) == 0;)
      it = b._live.erase(it);
  }

  log::logger& lg() { return log::get("oauth2"); }

  status usable_store() {
    if (!b._store) return oerr(ov::error_code::store, b._store_error);
    return {};
  }

  ov::account public_of(const stored_account& a) {
    ov::account o;
    o.name = a.name;
    o.provider = a.provider;
    o.scopes = a.scopes;
    o.last_refresh_ms = a.last_refresh_ms;
    o.last_error = a.last_error;
    o.rotating = a.rotating;
    o.logged_in_ms = a.created_ms;
    if (auto it = b._live.find(live_key(a.name, "")); it != b._live.end()) o.expires_at_ms = it->second->expires_at_ms;
    return o;
  }

  status save() {
    if (auto s = b._store->save(b._accounts); !s) {
      lg().error("{}", s.err().message);
      return oerr(ov::error_code::store, s.err().message);
    }
    return {};
  }

  /// POSTs a form to a token endpoint; `done` gets the JSON answer and status.
  void post(const provider& p, const std::string& url, std::vector<std::pair<std::string, std::string>> fields,
            std::function<void(result<std::pair<long, json>>)> done) {
    if (!p.client_secret.empty()) fields.emplace_back("client_secret", p.client_secret);
    http::client_request r;
    r.method = "POST";
    r.url = url;
    r.headers = {"Content-Type: application/x-www-form-urlencoded", "Accept: application/json"};
    r.body = form(fields);
    r.timeout = 30s;
    http::client::handlers h;
    h.done = [done = std::move(done), url, name = p.name](http::client_response resp) {
      if (!resp.ok())
        return done(oerr(ov::error_code::provider, fmt::format("Failed to reach provider '{}' at {}: {}", name, url, resp.error)));
      auto j = json::parse(resp.body, nullptr, false);
      if (j.is_discarded() && resp.status / 100 == 2)
        return done(oerr(ov::error_code::provider, fmt::format("Provider '{}' answered {} with what is not JSON", name, url)));
      done(std::pair{resp.status, std::move(j)});
    };
    b._http->start(std::move(r), std::move(h));
  }

  /// Takes a token endpoint's success: the account (new or refreshed) and its live token.
  /// `login`: the answer to a login, which replaces whatever the account held before;
  /// otherwise a refresh of it.
  result<ov::account> take_tokens(const provider& p, const std::string& account, const std::vector<std::string>& asked,
                                  const json& j, bool login, const std::string& narrowed = "") {
    if (!j.is_object() || !j.contains("access_token") || !j["access_token"].is_string())
      return oerr(ov::error_code::provider, fmt::format("Provider '{}' answered without an access token", p.name));
    if (login) {
      b._accounts.erase(account);
      erase_live(account);
    }
    auto& a = b._accounts[account];
    bool fresh = a.name.empty();
    a.name = account;
    a.provider = p.name;
    if (fresh) a.created_ms = now_ms();
    if (j.contains("refresh_token") && j["refresh_token"].is_string()) {
      if (!fresh && !a.refresh_token.empty() && a.refresh_token != j["refresh_token"].get<std::string>()) a.rotating = true;
      a.refresh_token = j["refresh_token"];
    }
    if (a.refresh_token.empty())
      lg().warning("account '{}': provider '{}' gave no refresh token; it must log in again when the access token expires",
                   account, p.name);
    if (!narrowed.empty()) {
      // A narrowed token's scopes are not the account's.
    } else if (j.contains("scope") && j["scope"].is_string()) {
      a.scopes.clear();
      std::string s = j["scope"];
      for (std::size_t i = 0; i < s.size();) {
        auto sp = s.find_first_of(" ,", i);
        auto one = s.substr(i, sp == std::string::npos ? std::string::npos : sp - i);
        if (!one.empty()) a.scopes.push_back(one);
        if (sp == std::string::npos) break;
        i = sp + 1;
      }
    } else if (fresh || !asked.empty()) {
      a.scopes = asked;
    }
    a.last_refresh_ms = now_ms();
    a.last_error.clear();
    auto& l = b._live[live_key(account, narrowed)];
    if (!l) l = std::make_unique<broker::live>();
    l->access_token = j["access_token"];
    if (j.contains("token_type") && j["token_type"].is_string()) l->token_type = j["token_type"];
    std::uint64_t ttl = j.contains("expires_in") && j["expires_in"].is_number_unsigned() ? j["expires_in"].get<std::uint64_t>() : 3600;
    ttl = std::min<std::uint64_t>(ttl, 366ull * 86400);
    l->expires_at_ms = now_ms() + ttl * 1000;
    if (auto s = save(); !s) return s.take_error();
    return public_of(a);
  }

  // ---- OIDC discovery ------------------------------------------------------------------

  /// Providers whose discovery document is on its way: who waits for it.
  std::map<std::string, std::vector<std::function<void(status)>>> discovering;

  /// Calls `then` once provider `name` has the endpoints `need`: an oidc provider with an
  /// issuer reads its discovery document the first time one is missing (endpoints of the
  /// config stay; what was read is kept until the broker stops) — or with why it cannot.
  void with_endpoints(const std::string& name, std::vector<std::string provider::*> need, std::function<void(status)> then) {
    auto& p = b._providers.at(name);
    bool missing = std::any_of(need.begin(), need.end(), [&](auto m) { return (p.*m).empty(); });
    if (!missing || p.issuer.empty() || p.discovered) return then({});
    auto& waiting = discovering[name];
    waiting.push_back(std::move(then));
    if (waiting.size() > 1) return;  // one fetch at a time; the others wait for it
    http::client_request r;
    r.url = discovery_url(p.issuer);
    r.headers = {"Accept: application/json"};
    r.timeout = 30s;
    r.max_body = max_discovery_bytes;
    http::client::handlers h;
    h.done = [this, name, url = r.url](http::client_response resp) {
      auto& p = b._providers.at(name);
      auto failed = [&](const std::string& why) {
        return oerr(ov::error_code::provider, fmt::format("Failed to read the discovery document of issuer '{}' (provider "
                                                          "'{}'): {}", p.issuer, name, why));
      };
      status s;
      if (resp.too_large) s = failed(fmt::format("{} is larger than {} bytes", url, max_discovery_bytes));
      else if (!resp.ok()) s = failed(fmt::format("{} could not be reached: {}", url, resp.error));
      else if (resp.status != 200) s = failed(fmt::format("{} answered HTTP {}", url, resp.status));
      else if (auto d = read_discovery(resp.body, p.issuer); !d) s = failed(d.err().message);
      else take_discovered(p, *d);
      if (s) lg().info("provider '{}': endpoints read from the discovery document of issuer '{}'", name, p.issuer);
      else lg().warning("{}", s.err().message);
      auto waiting = std::move(discovering[name]);
      discovering.erase(name);
      for (auto& w : waiting) w(s);
    };
    b._http->start(std::move(r), std::move(h));
  }

  // ---- grants --------------------------------------------------------------------------

  /// The scopes `agent` is granted of `account`: those of [oauth2.grants] and those given
  /// with weftctl together; nullopt without either.
  std::optional<std::vector<std::string>> granted_scopes(const std::string& agent, const std::string& account) {
    std::optional<std::vector<std::string>> out;
    auto add = [&](const grant_map& g) {
      auto ga = g.find(agent);
      if (ga == g.end()) return;
      auto gs = ga->second.find(account);
      if (gs == ga->second.end()) return;
      if (!out) out.emplace();
      for (auto& sc : gs->second)
        if (std::find(out->begin(), out->end(), sc) == out->end()) out->push_back(sc);
    };
    add(b._cfg.oauth2.grants);
    if (b._store) add(b._store->grants());
    return out;
  }

  bool config_grants(const std::string& agent, const std::string& account) {
    auto ga = b._cfg.oauth2.grants.find(agent);
    return ga != b._cfg.oauth2.grants.end() && ga->second.count(account);
  }

  void add_grant(ov::add_grant req, service::responder r) {
    if (!from_ctl(r)) return r.fail(oerr(ov::error_code::denied, fmt::format("'{}' may not give grants: only weftctl does", r.from())));
    if (auto s = usable_store(); !s) return r.fail(s.err());
    auto what = fmt::format("Failed to grant account '{}' to agent '{}'", req.account, req.agent);
    if (!b._cfg.agents.count(req.agent))
      return r.fail(oerr(ov::error_code::bad_request, fmt::format("no agent '{}' in [agents]", req.agent)));
    if (!valid_account(req.account))
      return r.fail(oerr(ov::error_code::bad_request, fmt::format("account name '{}' must be 1-64 of a-z, 0-9, '-', '_', '.', '@'", req.account)));
    if (req.scopes.empty())
      return r.fail(oerr(ov::error_code::bad_request, "a grant needs at least one scope (--scopes a,b)"));
    if (req.scopes.size() > max_grant_scopes)
      return r.fail(oerr(ov::error_code::bad_request, fmt::format("a grant has at most {} scopes", max_grant_scopes)));
    std::vector<std::string> scopes;
    for (auto& sc : req.scopes) {
      if (sc.empty() || sc.size() > max_scope_chars ||
          std::any_of(sc.begin(), sc.end(), [](unsigned char c) { return c <= ' ' || c == 0x7f; }))
        return r.fail(oerr(ov::error_code::bad_request, fmt::format("scope '{}' is empty, longer than {} or has spaces", sc, max_scope_chars)));
      if (std::find(scopes.begin(), scopes.end(), sc) == scopes.end()) scopes.push_back(sc);
    }
    auto g = b._store->grants();
    std::size_t count = 0;
    for (auto& [agent, accs] : g) count += accs.size();
    if (count >= max_runtime_grants && !(g.count(req.agent) && g[req.agent].count(req.account)))
      return r.fail(oerr(ov::error_code::bad_request, fmt::format("there are {} grants given with weftctl already, the most "
                                                                  "there may be; take some back (weftctl auth revoke)",
                                                                  max_runtime_grants)));
    g[req.agent][req.account] = scopes;
    if (auto s = b._store->save_grants(g); !s) {
      lg().error("{}: {}", what, s.err().message);
      return r.fail(oerr(ov::error_code::store, s.err().message));
    }
    lg().info("agent '{}' granted account '{}' ({}) with weftctl", req.agent, req.account, fmt::join(scopes, " "));
    r.reply(ov::agent_grant{req.agent, req.account, scopes, "weftctl", ""});
  }

  void remove_grant(ov::remove_grant req, service::responder r) {
    if (!from_ctl(r)) return r.fail(oerr(ov::error_code::denied, fmt::format("'{}' may not take grants back: only weftctl does", r.from())));
    if (auto s = usable_store(); !s) return r.fail(s.err());
    auto what = fmt::format("Failed to take back account '{}' from agent '{}'", req.account, req.agent);
    bool in_config = config_grants(req.agent, req.account);
    auto g = b._store->grants();
    auto ga = g.find(req.agent);
    if (ga == g.end() || !ga->second.count(req.account)) {
      if (in_config)
        return r.fail(oerr(ov::error_code::bad_request, fmt::format(
            "it is granted in the config file '{}' ([oauth2.grants.{}] {} = [...]), not with weftctl: remove it there, then "
            "weftctl reload", b._cfg.source, req.agent, req.account)));
      return r.fail(oerr(ov::error_code::bad_request, fmt::format("agent '{}' has no grant of account '{}'", req.agent, req.account)));
    }
    auto scopes = std::move(ga->second[req.account]);
    ga->second.erase(req.account);
    if (ga->second.empty()) g.erase(ga);
    if (auto s = b._store->save_grants(g); !s) {
      lg().error("{}: {}", what, s.err().message);
      return r.fail(oerr(ov::error_code::store, s.err().message));
    }
    lg().info("agent '{}': grant of account '{}' taken back with weftctl", req.agent, req.account);
    ov::grant_removed out{req.agent, req.account, std::move(scopes), ""};
    if (in_config)
      out.note = fmt::format("the config file '{}' still grants it ([oauth2.grants.{}] {} = [{}]); remove it there, then weftctl reload",
                             b._cfg.source, req.agent, req.account, fmt::join(b._cfg.oauth2.grants.at(req.agent).at(req.account), ", "));
    r.reply(out);
  }

  // ---- GetToken ------------------------------------------------------------------------

  /// The agent a process acts for, from the address the bus authenticated: agent/<id>, or
  /// a per-agent tool process tool/<family>/<id> (any family: calendar and email are theirs);
  /// only agents of [agents].
  std::optional<std::string> agent_of(std::string_view from, const std::string& on_behalf) {
    // weft's own shared tool processes act for the agent that called them (the bus told them
    // who): they may name it. Nobody else can.
    if ((from == "tool/calendar" || from == "tool/email") && !on_behalf.empty())
      return b._cfg.agents.count(on_behalf) ? std::optional(on_behalf) : std::nullopt;
    std::string id;
    if (from.rfind("agent/", 0) == 0) {
      id = std::string(from.substr(6, from.find('/', 6) == std::string_view::npos ? std::string_view::npos : from.find('/', 6) - 6));
    } else if (from.rfind("tool/", 0) == 0) {
      auto fam_end = from.find('/', 5);
      if (fam_end == std::string_view::npos || from.find('/', fam_end + 1) != std::string_view::npos) return std::nullopt;
      id = std::string(from.substr(fam_end + 1));
    }
    if (id.empty() || !b._cfg.agents.count(id)) return std::nullopt;
    return id;
  }

  /// Memory mode: accounts past their TTL are forgotten (the store's load() leaves them out).
  void forget_expired() {
    if (!b._store || b._store->persistent()) return;
    auto keep = b._store->load();
    for (auto it = b._accounts.begin(); it != b._accounts.end();)
      if (!keep.count(it->first)) {
        erase_live(it->first);
        it = b._accounts.erase(it);
      } else {
        ++it;
      }
  }

  void get_token(ov::get_token req, service::responder r) {
    forget_expired();
    auto agent = agent_of(r.from(), req.agent);
    if (!agent) return r.fail(oerr(ov::error_code::denied, fmt::format("'{}' is not a process of an agent: only an agent's tools get tokens", r.from())));
    if (auto s = usable_store(); !s) return r.fail(s.err());
    auto granted = granted_scopes(*agent, req.account);
    if (!granted)
      return r.fail(oerr(ov::error_code::denied, fmt::format("agent '{}' has no grant of account '{}' ([oauth2.grants.{}] {} = [scopes], "
                                                             "or weftctl auth grant {} {} --scopes …)",
                                                             *agent, req.account, *agent, req.account, *agent, req.account)));
    auto acc = b._accounts.find(req.account);
    if (acc == b._accounts.end())
      return r.fail(oerr(ov::error_code::no_such_account,
                         fmt::format("account '{}' is not logged in (weftctl auth login <provider> --account {})", req.account, req.account)));
    auto pit = b._providers.find(acc->second.provider);
    if (pit == b._providers.end())
      return r.fail(oerr(ov::error_code::bad_request, fmt::format("account '{}' belongs to provider '{}', which is no longer configured",
                                                                  req.account, acc->second.provider)));
    auto& p = pit->second;
    // The token carries every scope the account holds: asking for none is allowed only when
    // the grant covers them all.
    if (req.scopes.empty())
      for (auto& held : acc->second.scopes)
        if (std::none_of(granted->begin(), granted->end(), [&](auto& g) { return scope_of(p, g) == held; }))
          return r.fail(oerr(ov::error_code::denied, fmt::format("name the scopes you need: account '{}' holds '{}', which "
                                                                 "agent '{}' is not granted", req.account, held, *agent)));
    for (auto& s : req.scopes) {
      bool in_grant = std::any_of(granted->begin(), granted->end(),
                                  [&](auto& g) { return scope_of(p, g) == scope_of(p, s); });
      if (!in_grant)
        return r.fail(oerr(ov::error_code::denied, fmt::format("agent '{}' is not granted scope '{}' of account '{}' ([oauth2.grants.{}], "
                                                               "weftctl auth grant)", *agent, s, req.account, *agent)));
      auto& held = acc->second.scopes;
      if (std::find(held.begin(), held.end(), scope_of(p, s)) == held.end())
        return r.fail(oerr(ov::error_code::denied, fmt::format("account '{}' was not given scope '{}' at login; log in again with "
                                                               "--scopes including it",
                                                               req.account, s)));
    }
    // Named scopes fewer than the account holds: a token with those alone (a refresh with
    // `scope`), so a grant narrower than the account is narrow in the token too.
    std::set<std::string> want;
    for (auto& sc : req.scopes) want.insert(scope_of(p, sc));
    std::set<std::string> held(acc->second.scopes.begin(), acc->second.scopes.end());
    std::string narrowed;
    if (!want.empty() && want != held)
      for (auto& sc : want) narrowed += (narrowed.empty() ? "" : " ") + sc;
    auto key = live_key(req.account, narrowed);
    // A token the API refused is not handed out again: the next one is refreshed.
    if (!req.refused.empty())
      if (auto l = b._live.find(key); l != b._live.end() && l->second->access_token == req.refused) l->second->expires_at_ms = 0;
    token_for(req.account, narrowed, [r = std::make_shared<service::responder>(std::move(r))](result<ov::access_token> t) {
      r->answer(t);
    });
  }

  /// The account's access token: the cached one while it has a minute left, else refreshed
  /// (one refresh at a time per account; callers meanwhile wait for it).
  void token_for(const std::string& account, const std::string& narrowed, std::function<void(result<ov::access_token>)> done) {
    auto key = live_key(account, narrowed);
    auto& l = b._live[key];
    if (!l) l = std::make_unique<broker::live>();
    auto& a = b._accounts.at(account);
    if (!l->access_token.empty() && l->expires_at_ms > now_ms() + refresh_margin_ms && !l->refreshing)
      return done(ov::access_token{l->access_token, l->token_type, l->expires_at_ms, account, a.provider});
    l->waiting.push_back(std::move(done));
    if (l->refreshing) return;
    l->refreshing = true;
    auto start = [this, account, narrowed] { refresh(account, narrowed); };
    if (refreshing_accounts.count(account)) return queued_refreshes[account].push_back(std::move(start));
    start();
  }

  /// Refreshes one token of the account (the one narrowed to `narrowed`, or the full one)
  /// with the refresh token it has now.
  void refresh(const std::string& account, const std::string& narrowed) {
    auto key = live_key(account, narrowed);
    auto acc = b._accounts.find(account);
    if (acc == b._accounts.end())
      return finish_refresh(account, narrowed, oerr(ov::error_code::no_such_account, fmt::format("account '{}' was logged out", account)));
    auto& a = acc->second;
    if (a.refresh_token.empty()) return finish_refresh(account, narrowed, oerr(ov::error_code::login_required, fmt::format(
        "account '{}' has no refresh token: log in again (weftctl auth login {} --account {})", account, a.provider, account)));
    refreshing_accounts.insert(account);
    with_endpoints(a.provider, {&provider::token_url}, [this, account, narrowed](status s) {
      if (s) return send_refresh(account, narrowed);
      if (auto acc = b._accounts.find(account); acc != b._accounts.end()) acc->second.last_error = s.err().message;
      finish_refresh(account, narrowed, s.take_error());
    });
  }

  void send_refresh(const std::string& account, const std::string& narrowed) {
    auto acc = b._accounts.find(account);
    if (acc == b._accounts.end())
      return finish_refresh(account, narrowed, oerr(ov::error_code::no_such_account, fmt::format("account '{}' was logged out", account)));
    auto& a = acc->second;
    auto& p = b._providers.at(a.provider);
    std::vector<std::pair<std::string, std::string>> fields = {
        {"grant_type", "refresh_token"}, {"refresh_token", a.refresh_token}, {"client_id", p.client_id}};
    if (!narrowed.empty()) fields.emplace_back("scope", narrowed);
    post(p, p.token_url, std::move(fields),
         [this, account, narrowed, sent = a.refresh_token](result<std::pair<long, json>> res) {
           // Logged out, or logged in again, while this refresh was on its way: its answer is
           // for a login that no longer exists.
           auto cur = b._accounts.find(account);
           if (cur == b._accounts.end() || cur->second.refresh_token != sent)
             return finish_refresh(account, narrowed, oerr(ov::error_code::login_required, fmt::format(
                 "account '{}' was logged out or in again meanwhile; ask again", account)));
           auto& a = cur->second;
           auto& p = b._providers.at(a.provider);
           if (!res) {
             a.last_error = res.err().message;
             return finish_refresh(account, narrowed, res.take_error());
           }
           auto& [status, j] = *res;
           if (status / 100 != 2) {
             auto words = provider_words(j, status);
             a.last_error = "refresh refused: " + words;
             (void)save();
             // invalid_grant: the refresh token was revoked or expired; nothing but a new login helps.
             if (error_code_of(j) == "invalid_grant" || status == 401)
               return finish_refresh(account, narrowed, oerr(ov::error_code::login_required, fmt::format(
                   "account '{}' must log in again (weftctl auth login {} --account {}): provider '{}' refused its "
                   "refresh token ({})", account, a.provider, account, p.name, words)));
             return finish_refresh(account, narrowed, oerr(ov::error_code::provider, fmt::format(
                 "Failed to refresh account '{}' at provider '{}': {}", account, p.name, words)));
           }
           auto taken = take_tokens(p, account, {}, j, false, narrowed);
           if (!taken) return finish_refresh(account, narrowed, taken.take_error());
           lg().info("account '{}': access token refreshed{}", account, a.rotating ? " (refresh token rotated)" : "");
           auto& l = *b._live.at(live_key(account, narrowed));
           finish_refresh(account, narrowed, ov::access_token{l.access_token, l.token_type, l.expires_at_ms, account, a.provider});
         });
  }

  void finish_refresh(const std::string& account, const std::string& narrowed, result<ov::access_token> r) {
    // The account's next waiting refresh goes (with the refresh token this one left); the
    // account stays busy until it has, so none starts beside it meanwhile.
    if (auto q = queued_refreshes.find(account); q != queued_refreshes.end()) {
      auto next = std::move(q->second.front());
      q->second.pop_front();
      if (q->second.empty()) queued_refreshes.erase(q);
      b._rt.loop().defer(std::move(next));
    } else {
      refreshing_accounts.erase(account);
    }
    auto it = b._live.find(live_key(account, narrowed));
    if (it == b._live.end()) return;
    auto waiting = std::move(it->second->waiting);
    it->second->waiting.clear();
    it->second->refreshing = false;
    for (auto& w : waiting) w(r);
  }

  // ---- logins --------------------------------------------------------------------------

  bool from_ctl(const service::responder& r) { return r.from().rfind("ctl/", 0) == 0; }

  void start_login(ov::start_login req, service::responder r) {
    if (!from_ctl(r)) return r.fail(oerr(ov::error_code::denied, "only weftctl logs accounts in"));
    if (auto s = usable_store(); !s) return r.fail(s.err());
    auto pit = b._providers.find(req.provider);
    if (pit == b._providers.end())
      return r.fail(oerr(ov::error_code::bad_request, fmt::format("no provider '{}' in [oauth2.providers]", req.provider)));
    if (auto old = b._accounts.find(req.account); old != b._accounts.end() && old->second.provider != req.provider)
      return r.fail(oerr(ov::error_code::bad_request, fmt::format("account '{}' belongs to provider '{}': log it out first, "
                                                                  "or choose another name", req.account, old->second.provider)));
    if (!valid_account(req.account))
      return r.fail(oerr(ov::error_code::bad_request, fmt::format("account name '{}' must be 1-64 of a-z, 0-9, '-', '_', '.', '@'", req.account)));
    if (req.flow != "loopback" && req.flow != "device")
      return r.fail(oerr(ov::error_code::bad_request, fmt::format("flow '{}' is not loopback or device", req.flow)));
    std::vector<std::string provider::*> need = {&provider::auth_url, &provider::token_url};
    if (req.flow == "device") need.push_back(&provider::device_url);
    auto name = req.provider;
    with_endpoints(name, std::move(need), [this, req = std::move(req), r = std::make_shared<service::responder>(std::move(r))](status s) mutable {
      if (!s) return r->fail(s.err());
      begin_login(std::move(req), std::move(*r));
    });
  }

  void begin_login(ov::start_login req, service::responder r) {
    auto& p = b._providers.at(req.provider);
    if (req.flow == "device" && p.device_url.empty())
      return r.fail(oerr(ov::error_code::bad_request, fmt::format("provider '{}' ({}) has no device flow; use the loopback flow", p.name, p.kind)));
    if (p.auth_url.empty() || p.token_url.empty())
      return r.fail(oerr(ov::error_code::bad_request, fmt::format("provider '{}' has no endpoints (set auth_url and token_url, or "
                                                                  "an oidc provider's issuer)", p.name)));
    auto l = std::make_unique<broker::login>();
    l->id = fmt::format("login-{}-{}", b._next_login++, random_url_safe(6));
    l->provider = p.name;
    l->account = req.account;
    l->flow = req.flow;
    l->scopes = request_scopes(p, req.scopes);
    l->deadline = std::chrono::steady_clock::now() + login_lifetime;
    auto* lp = l.get();
    b._logins[l->id] = std::move(l);
    // A login nobody finishes ends.
    lp->timer = b._rt.loop().after(login_lifetime, [this, id = lp->id] {
      if (auto it = b._logins.find(id); it != b._logins.end()) {
        it->second->timer = 0;
        finish_login(*it->second, oerr(ov::error_code::bad_request, "the login was not finished in time"));
      }
    });
    if (req.flow == "loopback") return start_loopback(*lp, p, std::move(r));
    start_device(*lp, p, std::move(r));
  }

  status ensure_listener() {
    if (b._redirects) return {};
    auto srv = http::server::listen(b._rt.loop(), {"127.0.0.1", b._cfg.oauth2.redirect_port}, {}, "oauth2");
    if (!srv) return srv.take_error();
    b._redirects = std::move(*srv);
    b._redirects->on_request = [this](http::server::conn_id c, const http::request& q) { on_redirect(c, q); };
    return {};
  }

  void start_loopback(broker::login& l, const provider& p, service::responder r) {
    if (auto s = ensure_listener(); !s) {
      auto e = s.err().message;
      finish_login(l, oerr(ov::error_code::bad_request, e));
      return r.fail(oerr(ov::error_code::bad_request, fmt::format("Failed to take the redirect on 127.0.0.1: {}", e)));
    }
    l.verifier = random_url_safe(48);
    l.state = random_url_safe(24);
    l.redirect_uri = fmt::format("http://127.0.0.1:{}/callback", b._redirects->port());
    std::vector<std::pair<std::string, std::string>> q = {
        {"response_type", "code"},      {"client_id", p.client_id},     {"redirect_uri", l.redirect_uri},
        {"scope", fmt::format("{}", fmt::join(l.scopes, " "))},         {"state", l.state},
        {"code_challenge", challenge_of(l.verifier)},                   {"code_challenge_method", "S256"}};
    q.insert(q.end(), p.auth_params.begin(), p.auth_params.end());
    ov::login_started out;
    out.login_id = l.id;
    out.flow = "loopback";
    out.url = p.auth_url + (p.auth_url.find('?') == std::string::npos ? "?" : "&") + form(q);
    out.expires_in_s = static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::seconds>(login_lifetime).count());
    lg().info("login '{}': account '{}' at '{}', waiting for the redirect on {}", l.id, l.account, p.name, l.redirect_uri);
    r.reply(out);
  }

  void on_redirect(http::server::conn_id c, const http::request& q) {
    auto page = [&](int status, const std::string& text) {
      std::string safe;
      for (char ch : text) {
        switch (ch) {
          case '<': safe += "&lt;"; break;
          case '>': safe += "&gt;"; break;
          case '&': safe += "&amp;"; break;
          case '"': safe += "&quot;"; break;
          case '\'': safe += "&#39;"; break;
          default: safe += ch;
        }
      }
      b._redirects->respond(c, status, "text/html; charset=utf-8",
                            "<!doctype html><meta charset=utf-8><title>weft</title><p>" + safe + "</p>");
    };
    if (q.path != "/callback") return page(404, "Not a weft login page.");
    auto state = q.query.count("state") ? q.query.at("state") : "";
    broker::login* l = nullptr;
    for (auto& [id, x] : b._logins)
      if (x->flow == "loopback" && !x->outcome && !state.empty() && http::equal_secret(x->state, state)) l = x.get();
    if (!l) return page(400, "This login is unknown or over: start it again with weftctl auth login.");
    l->state.clear();  // spent: a reload or prefetch of this page exchanges nothing twice
    if (q.query.count("error")) {
      auto e = q.query.at("error") + (q.query.count("error_description") ? ": " + q.query.at("error_description") : "");
      page(200, "The provider said no (" + e + "). You may close this page.");
      return finish_login(*l, oerr(ov::error_code::provider, fmt::format("provider '{}' refused the login: {}", l->provider, e)));
    }
    if (!q.query.count("code")) return page(400, "The provider sent no code.");
    page(200, "weft has the login of '" + l->account + "'. You may close this page.");
    auto& p = b._providers.at(l->provider);
    post(p, p.token_url,
         {{"grant_type", "authorization_code"}, {"code", q.query.at("code")}, {"redirect_uri", l->redirect_uri},
          {"client_id", p.client_id}, {"code_verifier", l->verifier}},
         [this, id = l->id](result<std::pair<long, json>> res) { exchanged(id, std::move(res)); });
  }

  void exchanged(const std::string& id, result<std::pair<long, json>> res) {
    auto it = b._logins.find(id);
    if (it == b._logins.end()) return;
    auto& l = *it->second;
    auto& p = b._providers.at(l.provider);
    if (!res) return finish_login(l, res.take_error());
    auto& [status, j] = *res;
    if (status / 100 != 2)
      return finish_login(l, oerr(ov::error_code::provider, fmt::format("provider '{}' refused the code: {}", p.name, provider_words(j, status))));
    finish_login(l, take_tokens(p, l.account, l.scopes, j, true));
  }

  void start_device(broker::login& l, const provider& p, service::responder r) {
    post(p, p.device_url, {{"client_id", p.client_id}, {"scope", fmt::format("{}", fmt::join(l.scopes, " "))}},
         [this, id = l.id, r = std::make_shared<service::responder>(std::move(r))](result<std::pair<long, json>> res) {
           auto it = b._logins.find(id);
           if (it == b._logins.end()) return r->fail(oerr(ov::error_code::bad_request, "the login ended"));
           auto& l = *it->second;
           auto& p = b._providers.at(l.provider);
           if (!res) {
             r->fail(res.err());
             return finish_login(l, res.take_error());
           }
           auto& [status, j] = *res;
           if (status / 100 != 2 || !j.is_object() || !j.contains("device_code") || !j["device_code"].is_string() ||
               !j.contains("user_code") || !j["user_code"].is_string()) {
             auto e = oerr(ov::error_code::provider, fmt::format("provider '{}' did not start the device flow: {}", p.name, provider_words(j, status)));
             r->fail(e);
             return finish_login(l, e);
           }
           l.device_code = j["device_code"];
           if (j.contains("interval") && j["interval"].is_number_unsigned()) l.interval = std::chrono::seconds(std::max<std::uint64_t>(1, j["interval"].get<std::uint64_t>()));
           ov::login_started out;
           out.login_id = l.id;
           out.flow = "device";
           out.user_code = j["user_code"];
           // Google says verification_url; the RFC says verification_uri.
           for (auto k : {"verification_uri_complete", "verification_uri", "verification_url"})
             if (j.contains(k) && j[k].is_string()) {
               out.verification_uri = j[k];
               if (std::string_view(k) != "verification_uri_complete") break;
             }
           out.expires_in_s = j.contains("expires_in") && j["expires_in"].is_number_unsigned() ? j["expires_in"].get<std::uint32_t>() : 900;
           lg().info("login '{}': account '{}' at '{}', device code issued; polling every {} s", l.id, l.account, p.name, l.interval.count());
           r->reply(out);
           poll_later(l);
         });
  }

  void poll_later(broker::login& l) {
    l.timer = b._rt.loop().after(l.interval, [this, id = l.id] {
      auto it = b._logins.find(id);
      if (it == b._logins.end() || it->second->outcome) return;
      it->second->timer = 0;
      auto& l = *it->second;
      auto& p = b._providers.at(l.provider);
      post(p, p.token_url,
           {{"grant_type", "urn:ietf:params:oauth:grant-type:device_code"}, {"device_code", l.device_code}, {"client_id", p.client_id}},
           [this, id](result<std::pair<long, json>> res) {
             auto it = b._logins.find(id);
             if (it == b._logins.end() || it->second->outcome) return;
             auto& l = *it->second;
             auto& p = b._providers.at(l.provider);
             if (!res) return poll_later(l);  // the network: try again at the next interval
             auto& [status, j] = *res;
             // GitHub answers a pending poll with 200 and an error: the error decides.
             auto code = error_code_of(j);
             if (status / 100 == 2 && code.empty()) return finish_login(l, take_tokens(p, l.account, l.scopes, j, true));
             if (code == "authorization_pending") return poll_later(l);
             if (code == "slow_down") {  // RFC 8628 §3.5: five seconds more from now on
               l.interval += std::chrono::seconds(5);
               return poll_later(l);
             }
             finish_login(l, oerr(code == "access_denied" ? ov::error_code::denied : ov::error_code::provider,
                                  fmt::format("provider '{}' ended the device login: {}", p.name, provider_words(j, status))));
           });
    });
  }

  void finish_login(broker::login& l, result<ov::account> outcome) {
    if (l.outcome) return;
    if (outcome) lg().info("login '{}': account '{}' logged in at '{}'", l.id, l.account, l.provider);
    else lg().warning("login '{}': {}", l.id, outcome.err().message);
    l.outcome = std::move(outcome);
    if (l.timer) b._rt.loop().cancel(std::exchange(l.timer, 0));
    for (auto& [r, t] : l.waiters) {
      if (t) b._rt.loop().cancel(t);
      r.answer(*l.outcome);
    }
    l.waiters.clear();
    // Kept a while for a WaitLogin that comes late, then forgotten.
    b._rt.loop().after(std::chrono::minutes(2), [this, id = l.id] {
      b._logins.erase(id);
      bool waiting = std::any_of(b._logins.begin(), b._logins.end(),
                                 [](auto& x) { return x.second->flow == "loopback" && !x.second->outcome; });
      if (!waiting) b._redirects.reset();
    });
  }

  void wait_login(ov::wait_login req, service::responder r) {
    if (!from_ctl(r)) return r.fail(oerr(ov::error_code::denied, "only weftctl waits for logins"));
    auto it = b._logins.find(req.login_id);
    if (it == b._logins.end()) return r.fail(oerr(ov::error_code::bad_request, fmt::format("no login '{}' (over, or never started)", req.login_id)));
    auto& l = *it->second;
    if (l.outcome) return r.answer(*l.outcome);
    auto wait = std::chrono::milliseconds(std::min<std::uint32_t>(req.wait_ms, 60000));
    l.waiters.emplace_back(std::move(r), 0);
    auto index = l.waiters.size() - 1;
    l.waiters[index].second = b._rt.loop().after(wait, [this, id = l.id, index] {
      auto it = b._logins.find(id);
      if (it == b._logins.end() || index >= it->second->waiters.size()) return;
      auto& w = it->second->waiters[index];
      w.second = 0;
      if (w.first.owed()) w.first.fail(oerr(ov::error_code::pending, "the login is not finished yet"));
    });
  }

  void list(service::responder r) {
    if (!from_ctl(r)) return r.fail(oerr(ov::error_code::denied, "only weftctl lists the accounts"));
    ov::accounts out;
    out.store = b._store ? b._store->describe() : "unusable";
    out.store_error = b._store_error;
    forget_expired();
    for (auto& [n, a] : b._accounts) out.accounts.push_back(public_of(a));
    for (auto& [agent, accs] : b._cfg.oauth2.grants)
      for (auto& [account, scopes] : accs) out.grants.push_back({agent, account, scopes, "config", b._cfg.source});
    if (b._store)
      for (auto& [agent, accs] : b._store->grants())
        for (auto& [account, scopes] : accs) out.grants.push_back({agent, account, scopes, "weftctl", ""});
    std::stable_sort(out.grants.begin(), out.grants.end(),
                     [](auto& x, auto& y) { return std::tie(x.agent, x.account) < std::tie(y.agent, y.account); });
    r.reply(out);
  }

  void logout(ov::logout req, service::responder r) {
    if (!from_ctl(r)) return r.fail(oerr(ov::error_code::denied, "only weftctl logs accounts out"));
    if (auto s = usable_store(); !s) return r.fail(s.err());
    auto it = b._accounts.find(req.account);
    if (it == b._accounts.end()) return r.fail(oerr(ov::error_code::no_such_account, fmt::format("account '{}' is not logged in", req.account)));
    auto forget = [this](const std::string& account, bool revoked, std::string note, service::responder& r) {
      b._accounts.erase(account);
      // Callers waiting for a refresh of it hear why.
      std::vector<std::function<void(result<ov::access_token>)>> waiting;
      for (auto it = b._live.lower_bound(account + "\n"); it != b._live.end() && it->first.rfind(account + "\n", 0) == 0; ++it)
        for (auto& w : it->second->waiting) waiting.push_back(std::move(w));
      erase_live(account);
      for (auto& w : waiting) w(oerr(ov::error_code::no_such_account, fmt::format("account '{}' was logged out", account)));
      if (auto s = save(); !s) return r.fail(s.err());
      lg().info("account '{}' logged out{}", account, revoked ? " and revoked" : "");
      r.reply(ov::logged_out{account, revoked, std::move(note)});
    };
    auto pit = b._providers.find(it->second.provider);
    if (pit == b._providers.end())
      return forget(req.account, false, fmt::format("its provider '{}' is no longer configured: not revoked", it->second.provider), r);
    if (!req.revoke || it->second.refresh_token.empty()) return forget(req.account, false, "not revoked (asked not to)", r);
    auto rp = std::make_shared<service::responder>(std::move(r));
    with_endpoints(pit->first, {&provider::revoke_url}, [this, forget, account = req.account, rp](status s) mutable {
      auto it = b._accounts.find(account);
      if (it == b._accounts.end())
        return rp->fail(oerr(ov::error_code::no_such_account, fmt::format("account '{}' is not logged in", account)));
      auto& p = b._providers.at(it->second.provider);
      if (!s) return forget(account, false, fmt::format("not revoked: {}; forgotten here anyway", s.err().message), *rp);
      if (p.revoke_url.empty())
        return forget(account, false, fmt::format("provider '{}' ({}) has no revocation endpoint: revoke weft's access in "
                                                  "the account's security settings", p.name, p.kind), *rp);
      post(p, p.revoke_url, {{"token", it->second.refresh_token}, {"client_id", p.client_id}},
           [forget, account, rp](result<std::pair<long, json>> res) mutable {
             if (res && res->first / 100 == 2) return forget(account, true, "", *rp);
             forget(account, false, fmt::format("the provider did not confirm the revocation ({}); forgotten here anyway",
                                                res ? provider_words(res->second, res->first) : res.err().message), *rp);
           });
    });
  }
};

result<std::unique_ptr<broker>> broker::create(service::runtime& rt, service::config cfg, result<token_store> store) {
  auto http = http::client::create(rt.loop());
  if (!http) return http.take_error();
  std::unique_ptr<broker> b(new broker(rt, std::move(cfg), std::move(store), std::move(*http)));
  b->serve();
  return b;
}

broker::broker(service::runtime& rt, service::config cfg, result<token_store> store, std::unique_ptr<http::client> http)
    : _rt(rt), _cfg(std::move(cfg)), _http(std::move(http)) {
  for (auto& [n, p] : _cfg.oauth2.providers) _providers[n] = resolve(p);
  if (store) {
    _store.emplace(std::move(*store));
    _accounts = _store->load();
  } else {
    _store_error = store.err().message;
  }
}

broker::~broker() {
  for (auto& [id, l] : _logins)
    if (l->timer) _rt.loop().cancel(l->timer);
}

void broker::serve() {
  auto impl = std::make_shared<broker_impl>(broker_impl{*this});
  _rt.on<ov::get_token>([impl](ov::get_token q, service::responder r) { impl->get_token(std::move(q), std::move(r)); });
  _rt.on<ov::start_login>([impl](ov::start_login q, service::responder r) { impl->start_login(std::move(q), std::move(r)); });
  _rt.on<ov::wait_login>([impl](ov::wait_login q, service::responder r) { impl->wait_login(std::move(q), std::move(r)); });
  _rt.on<ov::list_accounts>([impl](ov::list_accounts, service::responder r) { impl->list(std::move(r)); });
  _rt.on<ov::logout>([impl](ov::logout q, service::responder r) { impl->logout(std::move(q), std::move(r)); });
  _rt.on<ov::add_grant>([impl](ov::add_grant q, service::responder r) { impl->add_grant(std::move(q), std::move(r)); });
  _rt.on<ov::remove_grant>([impl](ov::remove_grant q, service::responder r) { impl->remove_grant(std::move(q), std::move(r)); });
}

}  // namespace weft::oauth2
