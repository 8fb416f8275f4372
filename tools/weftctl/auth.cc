// weftctl auth …: accounts of the OAuth2 broker (io.weft.Oauth.v1 at `oauth2`): list them,
// log one in (the loopback flow: open the printed URL; or --device: enter the printed code
// elsewhere), log one out (revoked at the provider where it has an endpoint for it).
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <weft/base/time.hh>

#include "commands.hh"
#include "proto/bus_v1.hh"
#include "proto/oauth_v1.hh"

namespace weft::ctl {

namespace ov = weft::proto::oauth_v1;
using json = nlohmann::json;

namespace {

std::string when(std::uint64_t ms) {
  if (!ms) return "-";
  return to_rfc3339(std::chrono::system_clock::time_point(std::chrono::milliseconds(ms)));
}

/// A call to oauth2; its reply or a message a person can act on.
template <class Reply, class Req>
result<Reply> ask(ipc::bus_client& b, const Req& q, std::chrono::milliseconds timeout, std::string_view what) {
  auto r = b.call("oauth2", q, ipc::call_options{.timeout = timeout, .retry = false});
  if (!r) {
    if (proto::bus_v1::is(r.err(), proto::bus_v1::error_code::no_such_address))
      return fail(errc::unavailable, "Failed to {}: the OAuth2 broker is not running (weftd runs it when the config has an "
                                     "[oauth2] section; docs/guides/oauth2.md)", what);
    return fail(errc::unavailable, "Failed to {}: {}", what, r.err().message);
  }
  auto v = r->template as<Reply>();
  if (!v) return fail(errc::io, "Failed to {}: {}", what, v.err().message);
  return *v;
}

json account_json(const ov::account& a) {
  return {{"name", a.name}, {"provider", a.provider}, {"scopes", a.scopes}, {"expires_at", when(a.expires_at_ms)},
          {"last_refresh", when(a.last_refresh_ms)}, {"last_error", a.last_error}, {"rotating", a.rotating}};
}

}  // namespace

int cmd_auth_list(const options& o) {
  zmq::context_t ctx(1);
  auto b = join_bus(ctx, o);
  if (!b) return failure(fmt::format("Failed to join the bus: {}", b.err().message));
  auto l = ask<ov::accounts>(**b, ov::list_accounts{}, std::chrono::milliseconds(o.timeout_ms), "list the accounts");
  if (!l) return failure(l.err().message);
  if (o.json) {
    json arr = json::array();
    for (auto& a : l->accounts) arr.push_back(account_json(a));
    fmt::print("{}\n", json{{"accounts", arr}, {"store", l->store}, {"store_error", l->store_error}}.dump(2));
    return l->store_error.empty() ? 0 : 1;
  }
  if (l->accounts.empty()) fmt::print("no accounts (weftctl auth login PROVIDER --account NAME)\n");
  for (auto& a : l->accounts) {
    fmt::print("{}  ({})\n", a.name, a.provider);
    fmt::print("  scopes:        {}\n", a.scopes.empty() ? "-" : fmt::format("{}", fmt::join(a.scopes, " ")));
    fmt::print("  token expires: {}\n", when(a.expires_at_ms));
    fmt::print("  last refresh:  {}{}\n", when(a.last_refresh_ms), a.rotating ? " (the provider rotates refresh tokens)" : "");
    if (!a.last_error.empty()) fmt::print("  last error:    {}\n", a.last_error);
  }
  fmt::print("store: {}\n", l->store);
  if (!l->store_error.empty()) {
    fmt::print(stderr, "error: {}\n", l->store_error);
    return 1;
  }
  return 0;
}

int cmd_auth_login(const options& o, const auth_args& a) {
  zmq::context_t ctx(1);
  auto b = join_bus(ctx, o);
  if (!b) return failure(fmt::format("Failed to join the bus: {}", b.err().message));
  auto what = fmt::format("log '{}' in at '{}'", a.account, a.provider);
  auto started = ask<ov::login_started>(**b, ov::start_login{a.provider, a.account, a.scopes, a.device ? "device" : "loopback"},
                                        std::chrono::milliseconds(o.timeout_ms), what);
  if (!started) return failure(started.err().message);
  if (started->flow == "device")
    fmt::print("On any device, open {}\nand enter the code {}\n(within {} minutes). Waiting…\n", started->verification_uri,
               started->user_code, started->expires_in_s / 60);
  else
    fmt::print("Open this URL in a browser on this machine (the provider sends it back to 127.0.0.1):\n\n  {}\n\n"
               "Waiting for the login (up to {} minutes; on a machine without a browser use --device)…\n",
               started->url, started->expires_in_s / 60);
  std::fflush(stdout);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(started->expires_in_s + 5);
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = (*b)->call("oauth2", ov::wait_login{started->login_id, 20000}, ipc::call_options{.timeout = std::chrono::seconds(30), .retry = true});
    if (!r) {
      if (ov::is(r.err(), ov::error_code::pending) || proto::bus_v1::is(r.err(), proto::bus_v1::error_code::timeout)) continue;
      return failure(fmt::format("Failed to {}: {}", what, r.err().message));
    }
    auto acc = r->as<ov::account>();
    if (!acc) return failure(fmt::format("Failed to {}: {}", what, acc.err().message));
    if (o.json) fmt::print("{}\n", account_json(*acc).dump(2));
    else fmt::print("'{}' is logged in at '{}' with {}\n", acc->name, acc->provider, fmt::join(acc->scopes, " "));
    return 0;
  }
  return failure(fmt::format("Failed to {}: it was not finished in time", what));
}

int cmd_auth_logout(const options& o, const auth_args& a) {
  zmq::context_t ctx(1);
  auto b = join_bus(ctx, o);
  if (!b) return failure(fmt::format("Failed to join the bus: {}", b.err().message));
  auto r = ask<ov::logged_out>(**b, ov::logout{a.account, !a.keep}, std::chrono::milliseconds(o.timeout_ms),
                               fmt::format("log '{}' out", a.account));
  if (!r) return failure(r.err().message);
  if (o.json) {
    fmt::print("{}\n", json{{"account", r->account}, {"revoked", r->revoked}, {"note", r->note}}.dump(2));
    return 0;
  }
  fmt::print("'{}' is logged out{}\n", r->account, r->revoked ? " and its refresh token revoked at the provider" : "");
  if (!r->note.empty()) fmt::print("note: {}\n", r->note);
  return 0;
}

}  // namespace weft::ctl
