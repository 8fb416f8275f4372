#pragma once
/// The email tools (tool/email, one shared process): the accounts of [tools.email.accounts]
/// that list the calling agent (the caller as the bus authenticated it) — IMAP/SMTP with a
/// password or XOAUTH2, Gmail, Microsoft Graph —: folders, search, reading a message and
/// its parts, drafts, sending (only for the agents an account lets send; the others get a
/// draft), replies in the thread, moving and labelling. Outgoing mail is limited per agent
/// and hour and reported for the witness chain.
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <weft/toolserver/tool.hh>

#include "services/tool-email/backend.hh"

namespace weft::tools::email {

struct account {
  std::string name;
  std::string kind = "imap";         ///< imap | gmail | graph
  imap_account imap;                 ///< imap (tokens set per call when oauth2_account is)
  std::string api;                   ///< gmail, graph: the API's base URL
  std::string oauth2_account;        ///< the broker's account whose tokens it uses (gmail, graph, imap XOAUTH2)
  std::vector<std::string> scopes;   ///< asked of the broker
  std::string address;               ///< From: of what it writes
  std::vector<std::string> agents;   ///< who may use it
  std::vector<std::string> senders;  ///< who may send through it (the rest save drafts)
};

/// One message sent, for the witness chain.
struct sent_record {
  std::string agent, account, message_id;
  std::string subject_sha256;  ///< hex: the record names the message, not its words
  std::vector<std::string> recipients;
};

/// Messages sent per agent in the last hour.
class send_limiter {
 public:
  explicit send_limiter(unsigned per_hour) : _per_hour(per_hour) {}
  /// Takes one send for `agent` at `now`; false (and how long until one is free) when the
  /// hour's are spent.
  bool take(const std::string& agent, std::chrono::steady_clock::time_point now, std::chrono::seconds* wait);
  unsigned per_hour() const { return _per_hour; }

 private:
  unsigned _per_hour;
  std::mutex _m;
  std::map<std::string, std::vector<std::chrono::steady_clock::time_point>> _sent;
};

struct email_settings {
  std::map<std::string, account> accounts;
  unsigned send_per_hour = 20;
  /// An access token of a broker account for an agent; `refused`: the token just refused.
  /// weft-tool-email asks `oauth2` over the bus.
  std::function<result<std::string>(const std::string& oauth2_account, const std::vector<std::string>& scopes,
                                    const std::string& agent, const std::string& refused)>
      broker;
  /// Told of each message sent (weft-tool-email publishes MailSent).
  std::function<void(const sent_record&)> on_sent;
  /// The clock the limiter reads (tests move it).
  std::function<std::chrono::steady_clock::time_point()> now = [] { return std::chrono::steady_clock::now(); };
};

std::vector<tool_def> email_tools(email_settings s);

}  // namespace weft::tools::email
