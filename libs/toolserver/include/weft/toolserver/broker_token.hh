#pragma once
/// An access token from the OAuth2 broker (services/oauth2, bus address `oauth2`) for the
/// shared tool processes that act on a person's accounts (tool/calendar, tool/email): asked
/// per call for the agent that called — the broker honours `agent` only from those
/// addresses —, naming the token an API just refused so the broker refreshes it.
#include <string>
#include <vector>

#include <weft/base/result.hh>
#include <weft/service/runtime.hh>

namespace weft::tools {

/// The token; Tool.v1 Denied when the broker denies this agent the account or scopes (no
/// grant), errc::unavailable naming the account for any other failure. Call from a worker.
result<std::string> broker_token(service::runtime& rt, const std::string& account, const std::vector<std::string>& scopes,
                                 const std::string& agent, const std::string& refused);

}  // namespace weft::tools
