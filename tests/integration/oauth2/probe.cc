// weft-test-oauth2-probe — a stand-in for the tools that use the OAuth2 broker (calendar and
// email, not built yet): a tool process of one agent (tool/probe/<agent>) whose tool
// `token {account, scopes?, refused?}` asks `oauth2` for an access token as that process and
// returns what it got — the token, or the broker's error as Tool.v1 Failed with its code;
// `grant {agent, account, scopes}`, the same for AddGrant (which only weftctl may send);
// and `noop`, the same round trip without the broker (the benchmark's baseline).
#include <weft/toolserver/tool_main.hh>

#include "proto/oauth_v1.hh"

using namespace weft;

int main(int argc, char** argv) {
  tools::tool_main_options o{.program = "weft-test-oauth2-probe",
                             .log_name = "probe",
                             .help = "usage: weft-test-oauth2-probe (a test service: tool/probe/<agent>, tool 'token')\n",
                             .per_agent = false,
                             .server = {.family = "probe", .workers = 2, .max_queued = 8}};
  return tools::tool_main(argc, argv, o, [](const tools::tool_setup& s) {
    auto& rt = s.rt;
    std::vector<tools::tool_def> defs;
    defs.push_back({{"token", "An access token from the broker", R"({"type":"object"})", ""},
                    [&rt](const tools::json& a, const tools::call_context&) -> result<proto::tool_v1::result> {
                      proto::oauth_v1::get_token q;
                      q.account = a.value("account", "");
                      q.scopes = a.value("scopes", std::vector<std::string>{});
                      q.refused = a.value("refused", "");
                      auto r = rt.call_and_wait("oauth2", q, {.timeout = std::chrono::seconds(20), .retry = true});
                      if (!r) return proto::tool_v1::make(proto::tool_v1::error_code::failed, "{}: {}", r.err().code, r.err().message);
                      auto t = r->as<proto::oauth_v1::access_token>();
                      if (!t) return t.take_error();
                      proto::tool_v1::result out;
                      out.content = t->access_token;
                      out.structured = tools::json{{"access_token", t->access_token}, {"expires_at_ms", t->expires_at_ms},
                                                   {"provider", t->provider}}.dump();
                      return out;
                    }});
    // An agent's tool trying to give itself a grant (only weftctl may): the broker's answer.
    defs.push_back({{"grant", "Asks the broker for a grant", R"({"type":"object"})", ""},
                    [&rt](const tools::json& a, const tools::call_context&) -> result<proto::tool_v1::result> {
                      proto::oauth_v1::add_grant q;
                      q.agent = a.value("agent", "");
                      q.account = a.value("account", "");
                      q.scopes = a.value("scopes", std::vector<std::string>{});
                      auto r = rt.call_and_wait("oauth2", q, {.timeout = std::chrono::seconds(20), .retry = true});
                      if (!r) return proto::tool_v1::make(proto::tool_v1::error_code::failed, "{}: {}", r.err().code, r.err().message);
                      proto::tool_v1::result out;
                      out.content = "granted";
                      return out;
                    }});
    // The same round trip without the broker: the benchmark's baseline (tools/bench/oauth2).
    defs.push_back({{"noop", "Nothing", R"({"type":"object"})", ""},
                    [](const tools::json&, const tools::call_context&) -> result<proto::tool_v1::result> {
                      proto::tool_v1::result out;
                      out.content = "ok";
                      return out;
                    }});
    return defs;
  });
}
