// weft-tool-email — mail for agents (docs/guides/email.md).
//
// Serves io.weft.Tool.v1 at tool/email, one process for every agent that lists the "email"
// family: the accounts of [tools.email.accounts] — IMAP/SMTP servers (their passwords are
// given to this process alone), Gmail and Microsoft Graph (access tokens from the OAuth2
// broker per call, for the agent that called) —, each usable by the agents it lists. Each
// message sent is published as io.weft.Memory.v1.MailSent for the witness chain.
#include <curl/curl.h>

#include <fmt/ranges.h>

#include <weft/service/config.hh>
#include <weft/service/startup.hh>
#include <weft/toolserver/broker_token.hh>
#include <weft/toolserver/tool_main.hh>

#include "proto/memory_v1.hh"
#include "services/tool-email/email_tools.hh"
#include "services/tool-email/mime.hh"

using namespace weft;

namespace {
constexpr const char* help = R"(usage: weft-tool-email [--help] [--version]
Mail for agents, served on the weft bus (io.weft.Tool.v1) at tool/email:
  email_folders {account?}                      the accounts this agent may use, their folders
  email_search {account, folder?, from?, to?, subject?, text?, since?, before?, unread?, limit?}
  email_read {account, id}                      headers, text, and the list of other parts
  email_attachment {account, id, part}          one part: text, or base64url
  email_draft {account, to, cc?, bcc?, subject?, body, reply_to?}
  email_send {…the same}                        sent when the account's senders list the agent,
                                                else saved as a draft (the answer says why)
  email_reply {account, id, body, all?, send?}  in the thread of message id
  email_move {account, id, folder}, email_label {account, id, add?, remove?}
Accounts: [tools.email.accounts.<name>] kind imap (imap_url, smtp_url, username, password or
oauth2_account for XOAUTH2), gmail or graph (oauth2_account). An agent sends at most
[tools.email] send_per_hour messages an hour; each is recorded in the witness chain.

Environment:
  WEFT_CONFIG   the config file ([tools.email]); its password variables are given by weftd
  WEFT_BUS, WEFT_ADDRESS, WEFT_TOKEN_FD, WEFT_NOTIFY_FD, WEFT_LOG   set by weftd
)";
}  // namespace

int main(int argc, char** argv) {
  curl_global_init(CURL_GLOBAL_DEFAULT);  // before the workers: its first use is not thread-safe
  tools::email::mime_init();              // likewise GMime's
  tools::tool_main_options o{.program = "weft-tool-email",
                             .log_name = "tool-email",
                             .help = help,
                             .per_agent = false,
                             .server = {.family = "email", .workers = 4, .max_queued = 64}};
  return tools::tool_main(argc, argv, o, [](const tools::tool_setup& s) {
    tools::email::email_settings es;
    auto cfg = service::load_service_config();
    if (!cfg) {
      s.log.error("Failed to read [tools.email]: {}; no mail account is usable", cfg.err().message);
      return tools::email::email_tools(std::move(es));
    }
    es.send_per_hour = cfg->tools.email.send_per_hour;
    for (auto& [name, a] : cfg->tools.email.accounts) {
      tools::email::account acc;
      acc.name = name;
      acc.kind = a.kind;
      acc.imap = {a.imap_url, a.smtp_url, a.username, a.password, {}, a.save_sent};
      acc.api = a.url;
      acc.oauth2_account = a.oauth2_account;
      acc.scopes = a.scopes;
      acc.address = a.address;
      acc.agents = a.agents;
      acc.senders = a.senders;
      s.log.info("mail account '{}': {} {}{} for {} (sending: {})", name, a.kind, a.kind == "imap" ? a.imap_url : a.url,
                 a.oauth2_account.empty() ? "" : " with the broker's account '" + a.oauth2_account + "'", fmt::join(a.agents, ", "),
                 a.senders.empty() ? std::string("none; drafts only") : fmt::format("{}", fmt::join(a.senders, ", ")));
      es.accounts[name] = std::move(acc);
    }
    auto& rt = s.rt;
    es.broker = [&rt](const std::string& account, const std::vector<std::string>& scopes, const std::string& agent,
                      const std::string& refused) { return tools::broker_token(rt, account, scopes, agent, refused); };
    auto& lg = s.log;
    es.on_sent = [&rt, &lg](const tools::email::sent_record& m) {
      proto::memory_v1::mail_sent e;
      e.agent = m.agent;
      e.account = m.account;
      e.message_id = m.message_id;
      e.recipients = m.recipients;
      e.subject_sha256 = m.subject_sha256;
      // Sent from a tool worker: the bus client belongs to the loop thread.
      rt.loop().post([&rt, &lg, e = std::move(e)] {
        if (auto p = rt.bus().publish(e); !p) lg.error("Failed to publish MailSent for <{}>: {}", e.message_id, p.err().message);
      });
      lg.info("agent '{}' sent <{}> from '{}' to {} recipient{}", m.agent, m.message_id, m.account, m.recipients.size(),
              m.recipients.size() == 1 ? "" : "s");
    };
    return tools::email::email_tools(std::move(es));
  });
}
