#include <weft/toolserver/broker_token.hh>

#include <weft/toolserver/tool.hh>

#include "proto/oauth_v1.hh"

namespace weft::tools {

result<std::string> broker_token(service::runtime& rt, const std::string& account, const std::vector<std::string>& scopes,
                                 const std::string& agent, const std::string& refused) {
  proto::oauth_v1::get_token q;
  q.account = account;
  q.scopes = scopes;
  q.refused = refused;
  q.agent = agent;
  auto r = rt.call_and_wait("oauth2", q, {.timeout = std::chrono::seconds(20), .retry = true});
  // No grant of the account to this agent: the call is Denied, as the broker said.
  if (!r && proto::oauth_v1::is(r.err(), proto::oauth_v1::error_code::denied))
    return tool::make(tool::error_code::denied, "no token of account '{}' for this agent: {}", account, r.err().message);
  if (!r) return fail(errc::unavailable, "the OAuth2 broker gave no token for '{}': {}", account, r.err().message);
  auto t = r->as<proto::oauth_v1::access_token>();
  if (!t) return t.take_error();
  return t->access_token;
}

}  // namespace weft::tools
