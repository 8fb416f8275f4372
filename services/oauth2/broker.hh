#pragma once
/// The OAuth2 broker (io.weft.Oauth.v1 at `oauth2`): logs accounts in (authorization code
/// with PKCE and a loopback redirect, or the device flow), keeps their refresh tokens in the
/// token store, and gives an agent's processes short-lived access tokens of the accounts
/// [oauth2.grants] gives that agent — refreshing them (rotation kept) when they are about
/// to expire. Everything runs on the runtime's loop: HTTP with libs/http's client, the
/// loopback redirect with its server.

#include <memory>
#include <optional>
#include <string>

#include <weft/http/client.hh>
#include <weft/http/server.hh>
#include <weft/service/config.hh>
#include <weft/service/runtime.hh>

#include "services/oauth2/providers.hh"
#include "services/oauth2/store.hh"

namespace weft::oauth2 {

class broker {
 public:
  /// `store` may be an error: the broker then runs and says why on every call.
  static result<std::unique_ptr<broker>> create(service::runtime& rt, service::config cfg, result<token_store> store);
  ~broker();

 private:
  struct login;
  struct live;  ///< an account's access token and refresh in flight
  broker(service::runtime& rt, service::config cfg, result<token_store> store, std::unique_ptr<http::client> http);
  void serve();

  service::runtime& _rt;
  service::config _cfg;
  std::map<std::string, provider> _providers;
  std::optional<token_store> _store;
  std::string _store_error;
  accounts _accounts;
  std::unique_ptr<http::client> _http;
  std::unique_ptr<http::server> _redirects;  ///< the loopback flow's listener, while a login waits
  std::map<std::string, std::unique_ptr<login>> _logins;  ///< by id
  std::map<std::string, std::unique_ptr<live>> _live;     ///< by account
  std::uint64_t _next_login = 1;

  friend struct broker_impl;
};

}  // namespace weft::oauth2
