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
#include "services/oauth2/open_store.hh"

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
  WEFT_HOME              state: $WEFT_HOME/oauth2/tokens.sealed, and store.key when the key is
                         neither a systemd credential nor in the desktop keyring
  CREDENTIALS_DIRECTORY  systemd's: the key 'oauth2.key' (32 bytes or 64 hex digits)
  DBUS_SESSION_BUS_ADDRESS  the desktop keyring (a Secret Service, via libsecret, when built
                         with it) keeps the key when there is no systemd credential
  client secrets         the ${VAR}s of [oauth2.providers], given to this process alone
  WEFT_BUS, WEFT_ADDRESS, WEFT_TOKEN_FD, WEFT_NOTIFY_FD, WEFT_EVENTS   set by weftd
)";

}  // namespace

int main(int argc, char** argv) {
  return service::run_main(argc, argv, {.program = "weft-oauth2", .log_name = "oauth2", .help = help},
                           [](service::main_context& m) {
                             auto store = oauth2::open_store(m.cfg.oauth2, service::home_dir(m.cfg.home));
                             auto b = oauth2::broker::create(*m.rt, std::move(m.cfg), std::move(store));
                             if (!b) return m.fail(b.err());
                             return m.rt->run();
                           });
}
