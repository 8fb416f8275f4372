// weft-oauth2 — the OAuth2 broker, the only weft process that holds client secrets and
// refresh tokens (docs/guides/oauth2.md).
//
// Serves io.weft.Oauth.v1 at bus address `oauth2`:
//   GetToken → AccessToken     for an agent's processes, as [oauth2.grants] allows
//   StartLogin → LoginStarted  weftctl: the loopback (PKCE) or device flow
//   WaitLogin → Account        weftctl: the login's end
//   ListAccounts → Accounts    weftctl: accounts, expiry, last refresh and error, the store
//   Logout → LoggedOut         weftctl: revoke at the provider and forget
#include <cstdlib>

#include <weft/service/main.hh>
#include <weft/service/paths.hh>

#include "services/oauth2/broker.hh"

using namespace weft;

namespace {

constexpr std::string_view help = R"(usage: weft-oauth2 [--help] [--version]
The OAuth2 broker of weft, started by weftd when the config has [oauth2]: logs accounts in
at the providers of [oauth2.providers] (authorization code with PKCE and a loopback redirect,
or the device flow), keeps their refresh tokens encrypted, and gives the tools of the agents
[oauth2.grants] names short-lived access tokens (io.weft.Oauth.v1 at bus address 'oauth2').

Options:
  --help      show this help
  --version   show the version

Environment:
  WEFT_CONFIG            config file ([oauth2], [agents])
  WEFT_HOME              state: $WEFT_HOME/oauth2/tokens.sealed, and store.key when there is no
                         systemd credential
  CREDENTIALS_DIRECTORY  systemd's: the key 'oauth2.key' (32 bytes or 64 hex digits)
  client secrets         the ${VAR}s of [oauth2.providers], given to this process alone
  WEFT_BUS, WEFT_ADDRESS, WEFT_TOKEN_FD, WEFT_NOTIFY_FD, WEFT_EVENTS   set by weftd
)";

}  // namespace

int main(int argc, char** argv) {
  return service::run_main(argc, argv, {.program = "weft-oauth2", .log_name = "oauth2", .help = help},
                           [](service::main_context& m) {
                             auto& o = m.cfg.oauth2;
                             auto home = service::home_dir(m.cfg.home);
                             auto& lg = log::get("oauth2");
                             result<oauth2::token_store> store = fail(errc::config, "no store");
                             if (o.store == "memory") {
                               store = oauth2::token_store::memory(std::chrono::seconds(o.memory_ttl_s));
                               lg.warning("tokens are kept in memory only ([oauth2] store = \"memory\"): every account "
                                          "must log in again after {} s and after every restart",
                                          o.memory_ttl_s);
                             } else {
                               const char* creds = std::getenv("CREDENTIALS_DIRECTORY");
                               std::string where;
                               auto key = oauth2::load_key(creds ? creds : "",
                                                           o.key_file.empty() ? home + "/oauth2/store.key" : o.key_file, &where);
                               if (!key) store = key.take_error();
                               else store = oauth2::token_store::open_file(home + "/oauth2/tokens.sealed", *key, where);
                               if (store) lg.info("token store: {}", store->describe());
                               else lg.error("{}; logins and tokens are refused until it is fixed", store.err().message);
                             }
                             auto b = oauth2::broker::create(*m.rt, std::move(m.cfg), std::move(store));
                             if (!b) return m.fail(b.err());
                             return m.rt->run();
                           });
}
