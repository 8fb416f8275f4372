#pragma once
// For tests of tools that take their tokens from the OAuth2 broker: an account logged in by
// the device flow against tests/fakes/fake_idp.py (started with --pending 0, so the first
// poll is approved), as weftctl auth login --device would.
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <weft/ipc/bus_client.hh>

#include "proto/oauth_v1.hh"

namespace weft::test {

inline void device_login(ipc::bus_client& b, const std::string& provider, const std::string& account,
                         const std::vector<std::string>& scopes) {
  auto started = b.call("oauth2", proto::oauth_v1::start_login{provider, account, scopes, "device"},
                        ipc::call_options{.timeout = std::chrono::seconds(10)});
  REQUIRE_MESSAGE(started, (started ? "" : started.err().message));
  auto login = started->as<proto::oauth_v1::login_started>();
  REQUIRE(login);
  bool in = false;
  for (int i = 0; i < 10 && !in; ++i)
    in = static_cast<bool>(b.call("oauth2", proto::oauth_v1::wait_login{login->login_id, 5000},
                                  ipc::call_options{.timeout = std::chrono::seconds(10)}));
  REQUIRE_MESSAGE(in, "account '" << account << "' did not log in at '" << provider << "'");
}

}  // namespace weft::test
