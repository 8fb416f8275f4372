#pragma once
/// Where an account's mail lives: an IMAP server with SMTP for sending, Gmail's API or
/// Microsoft Graph (both with access tokens from the OAuth2 broker). The email tools speak
/// to any of them through this; messages cross it as RFC 5322 bytes (mime.hh).
#include <memory>
#include <string>
#include <vector>

#include <weft/base/result.hh>
#include <weft/http/fetch.hh>

namespace weft::tools::email {

struct folder {
  std::string id;    ///< how a call names it: an IMAP mailbox, a Gmail label id, a Graph folder id
  std::string name;  ///< for people
  std::string role;  ///< inbox, drafts, sent, trash, junk, archive or empty
};

/// What to look for; empty fields do not narrow.
struct query {
  std::string folder;  ///< empty: the inbox
  std::string from, to, subject, text;
  std::string since, before;  ///< YYYY-MM-DD
  bool unread = false;
  std::size_t limit = 20;  ///< the newest this many
};

struct summary {
  std::string id;      ///< the backend's message id, for email_read and the rest
  std::string thread;  ///< the backend's thread id, when it has one
  std::string from, subject, date;
  std::vector<std::string> labels;  ///< flags, keywords, labels, categories
  bool unread = false;
};

struct fetched {
  std::string raw;     ///< RFC 5322
  std::string thread;  ///< the backend's thread id, when it has one
};

/// One message leaving: the bytes, and the SMTP envelope (Bcc included).
struct outgoing_raw {
  std::string raw;       ///< without its Bcc header: what SMTP delivers
  std::string with_bcc;  ///< the same with it: drafts, the sent copy, APIs that take recipients from the headers
  std::string from;
  std::vector<std::string> recipients;
  std::string thread;  ///< the backend's thread id of the message it answers, when any
};

class backend {
 public:
  virtual ~backend() = default;
  virtual result<std::vector<folder>> folders() = 0;
  virtual result<std::vector<summary>> search(const query& q) = 0;
  virtual result<fetched> fetch(const std::string& id) = 0;
  /// Saves a draft; its id.
  virtual result<std::string> draft(const outgoing_raw& m) = 0;
  /// Sends (and keeps a copy where the account keeps sent mail); a note for the caller when
  /// the message went out but something after it did not (the copy could not be filed).
  virtual result<std::string> send(const outgoing_raw& m) = 0;
  virtual status move(const std::string& id, const std::string& folder) = 0;
  virtual status label(const std::string& id, const std::vector<std::string>& add, const std::vector<std::string>& remove) = 0;
};

/// How an IMAP/SMTP account signs in: a password, or XOAUTH2 with broker tokens.
struct imap_account {
  std::string imap_url;  ///< imaps://host[:port] (imap:// only to this machine)
  std::string smtp_url;  ///< smtps://host[:465] or smtp://host:587 (STARTTLS required unless on this machine)
  std::string username, password;
  http::bearer_tokens tokens;  ///< set: XOAUTH2 instead of the password
  bool save_sent = true;       ///< file a copy of what SMTP sent in the \\Sent folder (Gmail's and Outlook's servers do it themselves)
};
std::unique_ptr<backend> imap_backend(imap_account a);
/// Gmail API v1 at `api` (https://gmail.googleapis.com/gmail/v1/users/me).
std::unique_ptr<backend> gmail_backend(std::string api, http::bearer_tokens tokens);
/// Microsoft Graph mail at `api` (https://graph.microsoft.com/v1.0/me).
std::unique_ptr<backend> graph_backend(std::string api, http::bearer_tokens tokens);

}  // namespace weft::tools::email
