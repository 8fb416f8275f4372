// weftctl auth …: accounts of the OAuth2 broker (io.weft.Oauth.v1 at `oauth2`): list them
// and their grants, log one in (the loopback flow: open the printed URL; or --device: enter
// the printed code elsewhere), log one out (revoked at the provider where it has an endpoint
// for it), grant an agent an account besides the config's [oauth2.grants], take that back.
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
  return {{"name", a.name}, {"provider", a.provider}, {"scopes", a.scopes}, {"logged_in", when(a.logged_in_ms)},
          {"expires_at", when(a.expires_at_ms)}, {"last_refresh", when(a.last_refresh_ms)}, {"last_error", a.last_error},
          {"rotating", a.rotating}};
}

json grant_json(const ov::agent_grant& g) {
  return {{"agent", g.agent}, {"account", g.account}, {"scopes", g.scopes}, {"source", g.source}, {"where", g.where}};
}

std::string source_of(const ov::agent_grant& g) {
  return g.source == "config" && !g.where.empty() ? "config " + g.where : g.source;
}

void print_account(const ov::account& a, const std::vector<ov::agent_grant>& grants) {
  fmt::print("{}  ({})\n", a.name, a.provider);
  fmt::print("  scopes:        {}\n", a.scopes.empty() ? "-" : fmt::format("{}", fmt::join(a.scopes, " ")));
  fmt::print("  logged in:     {}\n", when(a.logged_in_ms));
  fmt::print("  token expires: {}\n", a.expires_at_ms ? when(a.expires_at_ms) : "- (none held now: the next call refreshes)");
  fmt::print("  last refresh:  {}{}\n", when(a.last_refresh_ms), a.rotating ? " (the provider rotates refresh tokens)" : "");
  fmt::print("  last error:    {}\n", a.last_error.empty() ? "-" : a.last_error);
  bool any = false;
  for (auto& g : grants) {
    if (g.account != a.name) continue;
    fmt::print("  {}{} ({}: {})\n", any ? "               " : "granted to:    ", g.agent, source_of(g), fmt::join(g.scopes, " "));
    any = true;
  }
  if (!any) fmt::print("  granted to:    - (weftctl auth grant AGENT {} --scopes …)\n", a.name);
}

void print_grants(const std::vector<ov::agent_grant>& grants) {
  if (grants.empty()) {
    fmt::print("grants: none ([oauth2.grants.<agent>] in the config, or weftctl auth grant)\n");
    return;
  }
  std::size_t wa = 5, wc = 7, ws = 6;
  for (auto& g : grants) {
    wa = std::max(wa, g.agent.size());
    wc = std::max(wc, g.account.size());
    ws = std::max(ws, fmt::format("{}", fmt::join(g.scopes, ",")).size());
  }
  fmt::print("grants:\n  {:<{}}  {:<{}}  {:<{}}  {}\n", "AGENT", wa, "ACCOUNT", wc, "SCOPES", ws, "FROM");
  for (auto& g : grants)
    fmt::print("  {:<{}}  {:<{}}  {:<{}}  {}\n", g.agent, wa, g.account, wc, fmt::format("{}", fmt::join(g.scopes, ",")), ws,
               source_of(g));
}

/// auth list, and auth status [NAME] (`only`: one account).
int show(const options& o, const std::string& only) {
  zmq::context_t ctx(1);
  auto b = join_bus(ctx, o);
  if (!b) return failure(fmt::format("Failed to join the bus: {}", b.err().message));
  auto l = ask<ov::accounts>(**b, ov::list_accounts{}, std::chrono::milliseconds(o.timeout_ms), "list the accounts");
  if (!l) return failure(l.err().message);
  std::vector<ov::account> shown;
  for (auto& a : l->accounts)
    if (only.empty() || a.name == only) shown.push_back(a);
  std::vector<ov::agent_grant> grants;
  for (auto& g : l->grants)
    if (only.empty() || g.account == only) grants.push_back(g);
  int code = l->store_error.empty() ? 0 : 1;
  if (!only.empty() && shown.empty()) code = 1;
  if (o.json) {
    json arr = json::array(), garr = json::array();
    for (auto& a : shown) arr.push_back(account_json(a));
    for (auto& g : grants) garr.push_back(grant_json(g));
    fmt::print("{}\n", json{{"accounts", arr}, {"grants", garr}, {"store", l->store}, {"store_error", l->store_error}}.dump(2));
    return code;
  }
  if (!only.empty() && shown.empty())
    fmt::print(stderr, "error: account '{}' is not logged in (weftctl auth login PROVIDER --account {})\n", only, only);
  else if (shown.empty())
    fmt::print("no accounts (weftctl auth login PROVIDER --account NAME)\n");
  for (auto& a : shown) print_account(a, grants);
  print_grants(grants);
  fmt::print("store: {}\n", l->store);
  if (!l->store_error.empty()) fmt::print(stderr, "error: {}\n", l->store_error);
  return code;
}

}  // namespace

int cmd_auth_list(const options& o) { return show(o, ""); }

int cmd_auth_status(const options& o, const auth_args& a) { return show(o, a.account); }

int cmd_auth_grant(const options& o, const auth_args& a) {
  zmq::context_t ctx(1);
  auto b = join_bus(ctx, o);
  if (!b) return failure(fmt::format("Failed to join the bus: {}", b.err().message));
  auto r = ask<ov::agent_grant>(**b, ov::add_grant{a.agent, a.account, a.scopes}, std::chrono::milliseconds(o.timeout_ms),
                                fmt::format("grant account '{}' to agent '{}'", a.account, a.agent));
  if (!r) return failure(r.err().message);
  if (o.json) fmt::print("{}\n", grant_json(*r).dump(2));
  else fmt::print("agent '{}' may now have tokens of account '{}' for {}\n", r->agent, r->account, fmt::join(r->scopes, " "));
  return 0;
}

int cmd_auth_revoke(const options& o, const auth_args& a) {
  zmq::context_t ctx(1);
  auto b = join_bus(ctx, o);
  if (!b) return failure(fmt::format("Failed to join the bus: {}", b.err().message));
  auto r = ask<ov::grant_removed>(**b, ov::remove_grant{a.agent, a.account}, std::chrono::milliseconds(o.timeout_ms),
                                  fmt::format("take back account '{}' from agent '{}'", a.account, a.agent));
  if (!r) return failure(r.err().message);
  if (o.json) {
    fmt::print("{}\n", json{{"agent", r->agent}, {"account", r->account}, {"scopes", r->scopes}, {"note", r->note}}.dump(2));
    return 0;
  }
  fmt::print("agent '{}' no longer has the grant of account '{}' given with weftctl\n", r->agent, r->account);
  if (!r->note.empty()) fmt::print("note: {}\n", r->note);
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
