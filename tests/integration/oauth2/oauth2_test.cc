// The OAuth2 broker in a running stack against tests/fakes/fake_idp.py speaking Google's and
// Microsoft's OAuth2 endpoints: the loopback flow with PKCE (a stolen code is useless without
// the verifier) and the device flow (authorization_pending, slow_down's five more seconds)
// complete; an agent's tool process gets a cached access token, a refreshed one after the
// API refused the old (rotation kept across a kill -9 of the broker); an agent without a
// grant, or a scope not granted, is Denied; a revoked refresh token asks for a new login;
// logout revokes. No refresh token or client secret outside the broker (environment,
// arguments, logs) and none in the sealed store file.
#include <doctest/doctest.h>

#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "proto/oauth_v1.hh"
#include "proto/tool_v1.hh"
#include "tests/integration/fake_peer.hh"
#include "tests/integration/harness.hh"
#include "tests/temp_dir.hh"

using namespace weft;
namespace ov = weft::proto::oauth_v1;
namespace tool = weft::proto::tool_v1;
using json = nlohmann::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

const std::string client_secret = "client-secret-5521";

std::string config_for(const test::fake_peer& idp) {
  auto u = idp.url();
  auto probe = [](const char* id) {
    return fmt::format("[services.probe-{0}]\nexec = \"{1}/tests/integration/oauth2/weft-test-oauth2-probe\"\n"
                       "address = \"tool/probe/{0}\"\n\n",
                       id, WEFT_BUILD_ROOT);
  };
  return fmt::format(
      "[agents.a]\n[agents.b]\n"
      "[services.agent-a]\nexec = \"/bin/true\"\naddress = \"agent/a\"\nenabled = false\n\n"
      "[services.agent-b]\nexec = \"/bin/true\"\naddress = \"agent/b\"\nenabled = false\n\n"
      "[services.llm]\nexec = \"/bin/true\"\nenabled = false\n\n"
      "[services.router]\nexec = \"/bin/true\"\nenabled = false\n\n"
      "[oauth2.providers.google]\nclient_id = \"weft-test-client\"\nclient_secret = \"${{WEFT_TEST_OAUTH_SECRET}}\"\n"
      "auth_url = \"{u}/google/o/oauth2/v2/auth\"\ntoken_url = \"{u}/google/token\"\n"
      "device_url = \"{u}/google/device/code\"\nrevoke_url = \"{u}/google/revoke\"\n\n"
      "[oauth2.providers.ms]\nkind = \"microsoft\"\nclient_id = \"weft-test-client\"\n"
      "client_secret = \"${{WEFT_TEST_OAUTH_SECRET}}\"\nauth_url = \"{u}/microsoft/common/oauth2/v2.0/authorize\"\n"
      "token_url = \"{u}/microsoft/common/oauth2/v2.0/token\"\ndevice_url = \"{u}/microsoft/common/oauth2/v2.0/devicecode\"\n\n"
      "[oauth2.grants.a]\nwork = [\"calendar\"]\nhome = [\"calendar\"]\nboth = [\"calendar\"]\n\n{pa}{pb}",
      fmt::arg("u", u), fmt::arg("pa", probe("a")), fmt::arg("pb", probe("b")));
}

template <class Reply, class Req>
result<Reply> ask(ipc::bus_client& b, const Req& q, std::chrono::milliseconds timeout = 10s) {
  auto r = b.call("oauth2", q, ipc::call_options{.timeout = timeout});
  if (!r) return r.take_error();
  return r->template as<Reply>();
}

/// The probe of `agent` asking for a token; the token or the broker's error text.
result<std::string> token(ipc::bus_client& b, const std::string& agent, const json& args) {
  auto r = b.call("tool/probe/" + agent + "/token", tool::call{"token", args.dump(), "c", 0},
                  ipc::call_options{.timeout = 30s});
  if (!r) return r.take_error();
  auto res = r->as<tool::result>();
  if (!res) return res.take_error();
  return res->content;
}

std::string slurp_file(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), {});
}

/// Follows the authorization URL as a browser would: the fake consents and redirects to the
/// broker's loopback listener. Returns the callback's status and the code it carried.
struct browsed {
  int status;
  std::string code;
  std::uint16_t port;
  std::string callback;  ///< the path the browser was sent back to
};

browsed browse(const std::string& url) {
  auto after_scheme = url.substr(url.find("://") + 3);
  auto colon = after_scheme.find(':'), slash = after_scheme.find('/');
  auto port = static_cast<std::uint16_t>(std::stoi(after_scheme.substr(colon + 1, slash - colon - 1)));
  auto auth = test::http(port, "GET", after_scheme.substr(slash));
  REQUIRE_MESSAGE(auth.status == 302, auth.body);
  auto loc = auth.header("Location");
  auto rest = loc.substr(loc.find("://") + 3);
  auto cport = static_cast<std::uint16_t>(std::stoi(rest.substr(rest.find(':') + 1, rest.find('/') - rest.find(':') - 1)));
  auto code = loc.substr(loc.find("code=") + 5);
  code = code.substr(0, code.find('&'));
  auto cb = test::http(cport, "GET", rest.substr(rest.find('/')));
  return {cb.status, code, cport, rest.substr(rest.find('/'))};
}

}  // namespace

TEST_CASE("OAuth2: loopback and device logins, tokens for granted agents only, refresh with rotation, revocation") {
  test::fake_peer idp("fake_idp.py", {"--client-secret", client_secret, "--interval", "1", "--pending", "2"});
  ::setenv("WEFT_TEST_OAUTH_SECRET", client_secret.c_str(), 1);
  auto s = test::stack::start(config_for(idp));
  ::unsetenv("WEFT_TEST_OAUTH_SECRET");
  REQUIRE(s);
  auto b = s->bus_client();

  // --- the loopback flow with PKCE ---
  auto started = ask<ov::login_started>(*b, ov::start_login{"google", "work", {"calendar"}, "loopback"});
  REQUIRE_MESSAGE(started, (started ? "" : started.err().to_string()) << "\n" << s->log());
  CHECK(started->url.find("code_challenge_method=S256") != std::string::npos);
  CHECK(started->url.find("access_type=offline") != std::string::npos);
  // A code stolen on its way is useless without the verifier, which never left the broker.
  auto br = browse(started->url);
  auto code = br.code;
  CHECK(br.status == 200);
  // The same redirect again (a reload, a prefetch): the state is spent, nothing is exchanged twice.
  auto replay = test::http(br.port, "GET", br.callback);
  CHECK(replay.status == 400);
  auto done = ask<ov::account>(*b, ov::wait_login{started->login_id, 10000}, 15s);
  REQUIRE_MESSAGE(done, (done ? "" : done.err().to_string()) << "\n" << s->log());
  CHECK(done->name == "work");
  CHECK(done->scopes == std::vector<std::string>{"https://www.googleapis.com/auth/calendar"});
  auto theft = test::http(idp.port(), "POST", "/google/token",
                          "grant_type=authorization_code&client_id=weft-test-client&client_secret=" + client_secret +
                              "&code=" + code + "&code_verifier=guessed&redirect_uri=x",
                          "application/x-www-form-urlencoded");
  CHECK(theft.status == 400);

  // --- tokens: agent a, cached; b has no grant; a scope not granted ---
  auto t1 = token(*b, "a", {{"account", "work"}, {"scopes", {"calendar"}}});
  REQUIRE_MESSAGE(t1, (t1 ? "" : t1.err().to_string()) << "\n" << s->log());
  CHECK(t1->rfind("at-", 0) == 0);
  auto again = token(*b, "a", {{"account", "work"}, {"scopes", {"calendar"}}});
  REQUIRE(again);
  CHECK(*again == *t1);  // from the cache
  auto nob = token(*b, "b", {{"account", "work"}});
  REQUIRE_FALSE(nob);
  CHECK(nob.err().message.find("Denied") != std::string::npos);
  CHECK(nob.err().message.find("agent 'b' has no grant of account 'work'") != std::string::npos);
  auto mail = token(*b, "a", {{"account", "work"}, {"scopes", {"gmail.readonly"}}});
  REQUIRE_FALSE(mail);
  CHECK(mail.err().message.find("is not granted scope 'gmail.readonly'") != std::string::npos);
  // weftctl's own client is no agent's process.
  auto from_ctl = ask<ov::access_token>(*b, ov::get_token{"work", {}, ""});
  REQUIRE_FALSE(from_ctl);
  CHECK(ov::is(from_ctl.err(), ov::error_code::denied));

  // --- the API refused t1: refreshed once, with rotation ---
  auto t2 = token(*b, "a", {{"account", "work"}, {"refused", *t1}});
  REQUIRE(t2);
  CHECK(*t2 != *t1);
  auto listed = ask<ov::accounts>(*b, ov::list_accounts{});
  REQUIRE(listed);
  REQUIRE(listed->accounts.size() == 1);
  CHECK(listed->accounts[0].rotating);
  CHECK(listed->store.find("encrypted") == 0);
  int refreshes = 0;
  for (auto& q : json::parse(idp.get("/_requests").body))
    if (q["form"].value("grant_type", "") == "refresh_token") ++refreshes;
  CHECK(refreshes == 1);

  // --- kill -9 the broker: the rotated refresh token was kept ---
  auto pid = s->service_pid("oauth2");
  REQUIRE(pid > 0);
  REQUIRE(::kill(pid, SIGKILL) == 0);
  std::string t3;
  for (int i = 0; i < 100 && t3.empty(); ++i) {
    std::this_thread::sleep_for(100ms);
    if (auto t = token(*b, "a", {{"account", "work"}, {"refused", *t2}})) t3 = *t;
  }
  CHECK(t3.rfind("at-", 0) == 0);
  CHECK(s->service_pid("oauth2") != pid);

  // --- the device flow at Microsoft: pending, slow_down (five more seconds), approved ---
  auto dev = ask<ov::login_started>(*b, ov::start_login{"ms", "home", {"calendar"}, "device"});
  REQUIRE_MESSAGE(dev, (dev ? "" : dev.err().to_string()));
  CHECK(dev->user_code == "WXYZ-1234");
  CHECK(dev->verification_uri == idp.url() + "/device");
  result<ov::account> home = fail(errc::timeout, "not yet");
  for (int i = 0; i < 10; ++i) {
    home = ask<ov::account>(*b, ov::wait_login{dev->login_id, 5000}, 10s);
    if (home || !ov::is(home.err(), ov::error_code::pending)) break;
  }
  REQUIRE_MESSAGE(home, (home ? "" : home.err().to_string()));
  CHECK(home->provider == "ms");
  std::vector<double> polls;
  for (auto& q : json::parse(idp.get("/_requests").body))
    if (q["form"].value("grant_type", "").find("device_code") != std::string::npos) polls.push_back(q["t"]);
  REQUIRE(polls.size() == 3);  // pending, slow_down, the approval
  CHECK(polls[1] - polls[0] >= 0.9);  // the interval (1 s)
  CHECK(polls[2] - polls[1] >= 5.9);  // and five seconds more after slow_down (RFC 8628 §3.5)
  auto ms_token = token(*b, "a", {{"account", "home"}, {"scopes", {"calendar"}}});
  CHECK(ms_token);
  // Without scopes: refused, since the account holds offline_access, which no grant gives a.
  auto unnamed = token(*b, "a", {{"account", "home"}});
  REQUIRE_FALSE(unnamed);
  CHECK(unnamed.err().message.find("name the scopes you need") != std::string::npos);
  // An account name of one provider cannot be logged in at another.
  auto clash = ask<ov::login_started>(*b, ov::start_login{"google", "home", {}, "device"});
  REQUIRE_FALSE(clash);
  CHECK(clash.err().message.find("belongs to provider 'ms'") != std::string::npos);

  // --- secrets stay in the broker ---
  auto refresh_tokens = json::parse(idp.get("/_refresh_tokens").body).get<std::vector<std::string>>();
  REQUIRE_FALSE(refresh_tokens.empty());
  auto sealed = slurp_file(s->dir() + "/home/oauth2/tokens.sealed");
  CHECK_FALSE(sealed.empty());
  auto broker = s->service_pid("oauth2");
  for (auto& e : fs::directory_iterator("/proc")) {
    auto name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    auto p = std::stoi(name);
    if (p == idp.pid()) continue;
    std::ifstream env(e.path() / "environ"), cmd(e.path() / "cmdline");
    std::string text((std::istreambuf_iterator<char>(env)), {});
    text += std::string((std::istreambuf_iterator<char>(cmd)), {});
    for (auto& rt : refresh_tokens) CHECK_MESSAGE(text.find(rt) == std::string::npos, "pid " << p);
    if (p != broker && p != s->pid()) CHECK_MESSAGE(text.find(client_secret) == std::string::npos, "pid " << p);
  }
  auto log = s->log();
  for (auto& rt : refresh_tokens) {
    CHECK(log.find(rt) == std::string::npos);
    CHECK(sealed.find(rt) == std::string::npos);
  }
  CHECK(log.find(client_secret) == std::string::npos);

  // --- revoked at the provider: a clear "log in again" ---
  REQUIRE(idp.post("/_revoke_all", "{}").status == 200);
  auto current = token(*b, "a", {{"account", "work"}});
  REQUIRE(current);
  auto revoked = token(*b, "a", {{"account", "work"}, {"refused", *current}});
  REQUIRE_FALSE(revoked);
  CHECK(revoked.err().message.find("LoginRequired") != std::string::npos);
  CHECK(revoked.err().message.find("account 'work' must log in again (weftctl auth login google --account work)") !=
        std::string::npos);

  // --- logout revokes at the provider and forgets ---
  auto out = ask<ov::logged_out>(*b, ov::logout{"home", true});
  REQUIRE(out);
  CHECK(out->note.find("has no revocation endpoint") != std::string::npos);  // Microsoft has none
  auto after = ask<ov::accounts>(*b, ov::list_accounts{});
  REQUIRE(after);
  CHECK(after->accounts.size() == 1);
  auto gone = token(*b, "a", {{"account", "home"}});
  REQUIRE_FALSE(gone);
  CHECK(gone.err().message.find("is not logged in") != std::string::npos);
}

TEST_CASE("OAuth2: a damaged store is refused whole and left as it is") {
  test::fake_peer idp("fake_idp.py", {});
  weft::test::temp_dir d{"weft-oauth2-damaged"};
  auto cfg = config_for(idp);
  // One broker run to make the key and a store, then a flipped byte in the store.
  ::setenv("WEFT_TEST_OAUTH_SECRET", "x", 1);
  auto s = test::stack::start(cfg);
  ::unsetenv("WEFT_TEST_OAUTH_SECRET");
  REQUIRE(s);
  auto b = s->bus_client();
  auto started = ask<ov::login_started>(*b, ov::start_login{"google", "work", {}, "loopback"});
  REQUIRE(started);
  browse(started->url);
  REQUIRE(ask<ov::account>(*b, ov::wait_login{started->login_id, 10000}, 15s));
  auto path = s->dir() + "/home/oauth2/tokens.sealed";
  auto bytes = slurp_file(path);
  REQUIRE(bytes.size() > 40);
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x20);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  auto pid = s->service_pid("oauth2");
  REQUIRE(::kill(pid, SIGKILL) == 0);
  result<ov::accounts> listed = fail(errc::timeout, "");
  for (int i = 0; i < 100; ++i) {
    std::this_thread::sleep_for(100ms);
    listed = ask<ov::accounts>(*b, ov::list_accounts{});
    if (listed && s->service_pid("oauth2") != pid) break;
  }
  REQUIRE(listed);
  CHECK(listed->accounts.empty());
  CHECK(listed->store_error.find("damaged or sealed with another key") != std::string::npos);
  auto login = ask<ov::login_started>(*b, ov::start_login{"google", "other", {}, "loopback"});
  REQUIRE_FALSE(login);
  CHECK(ov::is(login.err(), ov::error_code::store));
  CHECK(slurp_file(path) == bytes);  // not overwritten
}

TEST_CASE("weftctl auth: a device login, the list, a logout that revokes") {
  test::fake_peer idp("fake_idp.py", {"--client-secret", client_secret, "--interval", "1", "--pending", "1"});
  ::setenv("WEFT_TEST_OAUTH_SECRET", client_secret.c_str(), 1);
  auto s = test::stack::start(config_for(idp));
  ::unsetenv("WEFT_TEST_OAUTH_SECRET");
  REQUIRE(s);
  auto login = s->weftctl({"auth", "login", "google", "--account", "work", "--scopes", "calendar", "--device"});
  INFO(login.out << login.err);
  REQUIRE(login.exit_code == 0);
  CHECK(login.out.find("enter the code WXYZ-1234") != std::string::npos);
  CHECK(login.out.find("'work' is logged in at 'google' with https://www.googleapis.com/auth/calendar") != std::string::npos);
  auto list = s->weftctl({"--json", "auth", "list"});
  REQUIRE(list.exit_code == 0);
  auto j = json::parse(list.out);
  REQUIRE(j["accounts"].size() == 1);
  CHECK(j["accounts"][0]["provider"] == "google");
  CHECK(j["store"].get<std::string>().find("encrypted:") == 0);
  auto human = s->weftctl({"auth", "list"});
  CHECK(human.out.find("work  (google)") != std::string::npos);
  auto bad = s->weftctl({"auth", "login", "nowhere", "--account", "x"});
  CHECK(bad.exit_code != 0);
  CHECK(bad.err.find("no provider 'nowhere' in [oauth2.providers]") != std::string::npos);
  // An account holding more than a's grant: the token a gets is narrowed to what it named.
  auto both = s->weftctl({"auth", "login", "google", "--account", "both", "--scopes", "calendar,gmail.readonly", "--device"});
  INFO(both.out << both.err);
  REQUIRE(both.exit_code == 0);
  auto narrowed = s->bus_client()->call("tool/probe/a/token",
                                        proto::tool_v1::call{"token", json{{"account", "both"}, {"scopes", {"calendar"}}}.dump(), "c", 0},
                                        ipc::call_options{.timeout = std::chrono::seconds(30)});
  REQUIRE(narrowed);
  REQUIRE_FALSE(narrowed->as<proto::tool_v1::result>()->content.empty());
  std::string refresh_scope;
  for (auto& q : json::parse(idp.get("/_requests").body))
    if (q["form"].value("grant_type", "") == "refresh_token") refresh_scope = q["form"].value("scope", "");
  CHECK(refresh_scope == "https://www.googleapis.com/auth/calendar");
  auto still = json::parse(s->weftctl({"--json", "auth", "list"}).out);
  for (auto& a : still["accounts"])
    if (a["name"] == "both") CHECK(a["scopes"].size() == 2);  // the account keeps what it holds
  auto out = s->weftctl({"auth", "logout", "work"});
  INFO(out.out << out.err);
  REQUIRE(out.exit_code == 0);
  CHECK(out.out.find("revoked at the provider") != std::string::npos);
  bool revoked = false;
  for (auto& q : json::parse(idp.get("/_requests").body)) revoked = revoked || q["path"] == "/google/revoke";
  CHECK(revoked);
  REQUIRE(s->weftctl({"auth", "logout", "both"}).exit_code == 0);
  CHECK(json::parse(idp.get("/_tokens").body)["refresh"] == 0);
  CHECK(s->weftctl({"auth", "list"}).out.find("no accounts") != std::string::npos);
}

namespace {

/// How often the fake was asked for the discovery document at `path`.
int discovery_fetches(test::fake_peer& idp, const std::string& path) {
  int n = 0;
  for (auto& q : json::parse(idp.get("/_requests").body)) n += q["path"] == path;
  return n;
}

/// Kills the broker with SIGKILL and waits until weftd has restarted it and it is ready
/// (watching from before the kill, so the restart cannot pass unseen).
bool kill_broker(test::stack& s) {
  auto c = s.control();
  auto pid = s.service_pid("oauth2");
  if (!c || !c->request(proto::supervisor_v1::watch{}) || pid <= 0 || ::kill(pid, SIGKILL) != 0) return false;
  return s.wait_state(*c, "oauth2", proto::supervisor_v1::state::ready, 1, 30s);
}

}  // namespace

TEST_CASE("OAuth2: an OpenID Connect provider found through its discovery document; an impostor's refused") {
  test::fake_peer idp("fake_idp.py", {"--client-secret", client_secret});
  auto u = idp.url();
  auto cfg = config_for(idp);
  // corp: the issuer alone; mixed: an authorization endpoint of its own, which wins over the
  // document's; fake: a document that names another issuer.
  cfg += fmt::format(
      "[oauth2.providers.corp]\nkind = \"oidc\"\nclient_id = \"weft-test-client\"\n"
      "client_secret = \"${{WEFT_TEST_OAUTH_SECRET}}\"\nissuer = \"{u}/oidc\"\n\n"
      "[oauth2.providers.mixed]\nkind = \"oidc\"\nclient_id = \"weft-test-client\"\n"
      "client_secret = \"${{WEFT_TEST_OAUTH_SECRET}}\"\nissuer = \"{u}/oidc\"\nauth_url = \"{u}/google/o/oauth2/v2/auth\"\n\n"
      "[oauth2.providers.fake]\nkind = \"oidc\"\nclient_id = \"weft-test-client\"\nissuer = \"{u}/impostor\"\n",
      fmt::arg("u", u));
  auto grants = std::string("[oauth2.grants.a]\n");
  cfg.replace(cfg.find(grants), grants.size(), grants + "sso = [\"email\"]\n");
  ::setenv("WEFT_TEST_OAUTH_SECRET", client_secret.c_str(), 1);
  auto s = test::stack::start(cfg);
  ::unsetenv("WEFT_TEST_OAUTH_SECRET");
  REQUIRE(s);
  auto b = s->bus_client();
  const std::string doc = "/oidc/.well-known/openid-configuration";
  CHECK(discovery_fetches(idp, doc) == 0);  // read when first needed, not at start

  // --- a login and tokens through the discovered endpoints ---
  auto started = ask<ov::login_started>(*b, ov::start_login{"corp", "sso", {"email"}, "loopback"});
  REQUIRE_MESSAGE(started, (started ? "" : started.err().to_string()) << "\n" << s->log());
  CHECK(started->url.rfind(u + "/oidc/authorize?", 0) == 0);
  CHECK(browse(started->url).status == 200);
  auto done = ask<ov::account>(*b, ov::wait_login{started->login_id, 10000}, 15s);
  REQUIRE_MESSAGE(done, (done ? "" : done.err().to_string()) << "\n" << s->log());
  CHECK(done->provider == "corp");
  auto t1 = token(*b, "a", {{"account", "sso"}, {"scopes", {"email"}}});
  REQUIRE_MESSAGE(t1, (t1 ? "" : t1.err().to_string()) << "\n" << s->log());
  CHECK(t1->rfind("at-", 0) == 0);
  auto t2 = token(*b, "a", {{"account", "sso"}, {"scopes", {"email"}}, {"refused", *t1}});
  REQUIRE(t2);
  CHECK(*t2 != *t1);
  bool refreshed_at_oidc = false;
  for (auto& q : json::parse(idp.get("/_requests").body))
    refreshed_at_oidc = refreshed_at_oidc || (q["path"] == "/oidc/token" && q["form"].value("grant_type", "") == "refresh_token");
  CHECK(refreshed_at_oidc);
  CHECK(discovery_fetches(idp, doc) == 1);  // cached

  // --- an endpoint in the config wins over the document's ---
  auto mixed = ask<ov::login_started>(*b, ov::start_login{"mixed", "m", {"email"}, "loopback"});
  REQUIRE_MESSAGE(mixed, (mixed ? "" : mixed.err().to_string()));
  CHECK(mixed->url.rfind(u + "/google/o/oauth2/v2/auth?", 0) == 0);
  CHECK(browse(mixed->url).status == 200);
  auto m = ask<ov::account>(*b, ov::wait_login{mixed->login_id, 10000}, 15s);
  REQUIRE_MESSAGE(m, (m ? "" : m.err().to_string()));
  CHECK(discovery_fetches(idp, doc) == 2);

  // --- a document of another issuer: refused, clearly, and the broker stays up ---
  auto pid = s->service_pid("oauth2");
  auto impostor = ask<ov::login_started>(*b, ov::start_login{"fake", "x", {}, "loopback"});
  REQUIRE_FALSE(impostor);
  CHECK(ov::is(impostor.err(), ov::error_code::provider));
  auto shown = s->weftctl({"auth", "login", "fake", "--account", "x"});
  CHECK(shown.exit_code == 1);
  INFO(shown.err);
  CHECK(shown.err.find("Failed to read the discovery document of issuer '" + u + "/impostor' (provider 'fake'): the "
                       "discovery document is of issuer 'https://login.example.com', not '" + u + "/impostor'") !=
        std::string::npos);
  CHECK(s->service_pid("oauth2") == pid);

  // --- after a restart the endpoints are read again when a refresh needs them ---
  REQUIRE(kill_broker(*s));
  auto t3 = token(*b, "a", {{"account", "sso"}, {"scopes", {"email"}}});
  REQUIRE_MESSAGE(t3, (t3 ? "" : t3.err().to_string()) << "\n" << s->log());
  CHECK(discovery_fetches(idp, doc) == 3);

  // --- logout revokes at the discovered revocation endpoint ---
  auto out = ask<ov::logged_out>(*b, ov::logout{"sso", true});
  REQUIRE(out);
  CHECK(out->revoked);
  bool revoked = false;
  for (auto& q : json::parse(idp.get("/_requests").body)) revoked = revoked || q["path"] == "/oidc/revoke";
  CHECK(revoked);
}

TEST_CASE("weftctl auth grant and revoke: at once, kept across a restart, only from weftctl; a config grant stays") {
  test::fake_peer idp("fake_idp.py", {"--client-secret", client_secret});
  ::setenv("WEFT_TEST_OAUTH_SECRET", client_secret.c_str(), 1);
  auto s = test::stack::start(config_for(idp));
  ::unsetenv("WEFT_TEST_OAUTH_SECRET");
  REQUIRE(s);
  auto b = s->bus_client();
  auto started = ask<ov::login_started>(*b, ov::start_login{"google", "work", {"calendar"}, "loopback"});
  REQUIRE(started);
  browse(started->url);
  REQUIRE(ask<ov::account>(*b, ov::wait_login{started->login_id, 10000}, 15s));
  const json want = {{"account", "work"}, {"scopes", {"calendar"}}};

  // --- b has no grant: Denied, and its tool may not give itself one ---
  auto before = token(*b, "b", want);
  REQUIRE_FALSE(before);
  CHECK(before.err().message.find("agent 'b' has no grant of account 'work'") != std::string::npos);
  auto self = b->call("tool/probe/b/grant", tool::call{"grant", json{{"agent", "b"}, {"account", "work"}, {"scopes", {"calendar"}}}.dump(), "c", 0},
                      ipc::call_options{.timeout = 30s});
  REQUIRE_FALSE(self);
  CHECK(self.err().message.find("Denied") != std::string::npos);
  CHECK(self.err().message.find("'tool/probe/b' may not give grants: only weftctl does") != std::string::npos);

  // --- weftctl grants: in effect at once ---
  auto g = s->weftctl({"auth", "grant", "b", "work", "--scopes", "calendar"});
  INFO(g.out << g.err);
  REQUIRE(g.exit_code == 0);
  CHECK(g.out.find("agent 'b' may now have tokens of account 'work' for calendar") != std::string::npos);
  auto after = token(*b, "b", want);
  REQUIRE_MESSAGE(after, (after ? "" : after.err().to_string()));
  CHECK(after->rfind("at-", 0) == 0);
  auto unknown = s->weftctl({"auth", "grant", "nobody", "work", "--scopes", "calendar"});
  CHECK(unknown.exit_code == 1);
  CHECK(unknown.err.find("Failed to grant account 'work' to agent 'nobody'") != std::string::npos);
  CHECK(unknown.err.find("no agent 'nobody' in [agents]") != std::string::npos);

  // --- list and status say where each grant comes from ---
  auto listed = json::parse(s->weftctl({"--json", "auth", "list"}).out);
  std::map<std::string, std::string> from;  // agent → source of its grant of work
  for (auto& x : listed["grants"])
    if (x["account"] == "work") from[x["agent"].get<std::string>()] = x["source"].get<std::string>() + " " + x["where"].get<std::string>();
  CHECK(from["a"] == "config " + s->config_path());
  CHECK(from["b"] == "weftctl ");
  auto st = s->weftctl({"auth", "status", "work"});
  INFO(st.out << st.err);
  CHECK(st.exit_code == 0);
  for (auto line : {"work  (google)", "  scopes:        https://www.googleapis.com/auth/calendar", "  token expires: ",
                    "  last refresh:  ", "  last error:    -", "  logged in:     "})
    CHECK_MESSAGE(st.out.find(line) != std::string::npos, line);
  CHECK(st.out.find("granted to:    a (config " + s->config_path() + ": calendar)") != std::string::npos);
  CHECK(st.out.find("b (weftctl: calendar)") != std::string::npos);
  auto sj = json::parse(s->weftctl({"--json", "auth", "status", "work"}).out);
  CHECK(sj["accounts"].size() == 1);
  CHECK(sj["grants"].size() == 2);  // a's config grant of 'home' is not this account's
  for (auto& x : sj["grants"]) CHECK(x["account"] == "work");
  auto none = s->weftctl({"auth", "status", "nosuch"});
  CHECK(none.exit_code == 1);
  CHECK(none.err.find("account 'nosuch' is not logged in") != std::string::npos);

  // --- the grant is kept in the sealed store: a restarted broker still has it ---
  auto sealed = slurp_file(s->dir() + "/home/oauth2/tokens.sealed");
  CHECK(sealed.find("calendar") == std::string::npos);
  REQUIRE(kill_broker(*s));
  auto kept = token(*b, "b", want);
  REQUIRE_MESSAGE(kept, (kept ? "" : kept.err().to_string()) << "\n" << s->log());

  // --- a config grant is not taken back here ---
  auto cfg_revoke = s->weftctl({"auth", "revoke", "a", "work"});
  CHECK(cfg_revoke.exit_code == 1);
  CHECK(cfg_revoke.err.find("it is granted in the config file '" + s->config_path() + "' ([oauth2.grants.a] work = [...])") !=
        std::string::npos);
  CHECK(token(*b, "a", want));

  // --- weftctl takes its grant back: Denied at once ---
  auto r = s->weftctl({"auth", "revoke", "b", "work"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  auto denied = token(*b, "b", want);
  REQUIRE_FALSE(denied);
  CHECK(denied.err().message.find("Denied") != std::string::npos);
  CHECK(s->weftctl({"auth", "revoke", "b", "work"}).exit_code == 1);  // nothing left to take back

  // --- every auth subcommand has its help ---
  for (std::string sub : {"list", "status", "login", "logout", "grant", "revoke"}) {
    auto h = s->weftctl({"auth", sub, "--help"});
    CHECK_MESSAGE(h.exit_code == 0, sub);
    CHECK_MESSAGE(h.out.rfind("usage: weftctl auth " + sub, 0) == 0, sub);
  }
}

// Run by `meson test oauth2-keyring`: keyring_session.sh gives it a private session bus with
// gnome-keyring's Secret Service; skipped in the plain run.
TEST_CASE("OAuth2: the store's key in the desktop keyring (a real Secret Service)" * doctest::skip()) {
  REQUIRE_MESSAGE(std::getenv("WEFT_TEST_KEYRING"), "run under keyring_session.sh (meson test oauth2-keyring)");
  REQUIRE(std::getenv("DBUS_SESSION_BUS_ADDRESS"));
  test::fake_peer idp("fake_idp.py", {});
  ::setenv("WEFT_TEST_OAUTH_SECRET", "x", 1);
  auto s = test::stack::start(config_for(idp));
  ::unsetenv("WEFT_TEST_OAUTH_SECRET");
  REQUIRE(s);
  auto b = s->bus_client();
  auto home = s->dir() + "/home";
  const std::string in_keyring = "key: desktop keyring (Secret Service item 'weft oauth2 store key', home=" + home + ")";
  auto listed = ask<ov::accounts>(*b, ov::list_accounts{});
  REQUIRE(listed);
  INFO(listed->store << "\n" << s->log());
  CHECK(listed->store.find(in_keyring + " (created)") != std::string::npos);
  CHECK_FALSE(fs::exists(home + "/oauth2/store.key"));  // no key file beside it
  // The item is in the keyring under the attributes the guide names, and nowhere in the log.
  auto found = test::run({"/usr/bin/secret-tool", "lookup", "application", "weft", "home", home});
  REQUIRE(found.exit_code == 0);
  CHECK(found.out.size() == 64);
  CHECK(s->log().find(found.out) == std::string::npos);
  auto search = test::run({"/usr/bin/secret-tool", "search", "--all", "application", "weft"});
  CHECK((search.out + search.err).find("weft oauth2 store key") != std::string::npos);

  // An account sealed under that key, read back by a restarted broker with the key it finds.
  auto started = ask<ov::login_started>(*b, ov::start_login{"google", "work", {"calendar"}, "loopback"});
  REQUIRE(started);
  browse(started->url);
  REQUIRE(ask<ov::account>(*b, ov::wait_login{started->login_id, 10000}, 15s));
  REQUIRE(kill_broker(*s));
  auto again = ask<ov::accounts>(*b, ov::list_accounts{});
  REQUIRE(again);
  CHECK(again->store.find(in_keyring) != std::string::npos);
  CHECK(again->store.find("(created)") == std::string::npos);
  CHECK(again->store_error.empty());
  REQUIRE(again->accounts.size() == 1);
  CHECK(again->accounts[0].name == "work");
  CHECK_FALSE(fs::exists(home + "/oauth2/store.key"));
}
