// IMAP for reading and filing, SMTP for sending, both through libcurl's easy interface (one
// connection per tool call, reused by its requests). libcurl gives the untagged answers of
// custom commands (LIST, SEARCH, FETCH without literals, STORE, MOVE) to the write callback;
// whole messages and headers come from its URL form (mailbox;UID=n;SECTION=…).
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <memory>

#include <fmt/format.h>

#include "services/tool-email/backend.hh"
#include "services/tool-email/imap_reply.hh"
#include "services/tool-email/mime.hh"

namespace weft::tools::email {

namespace {

constexpr std::size_t max_answer = 40u << 20;

bool on_this_machine(const std::string& url) {
  auto host_at = url.find("://");
  if (host_at == std::string::npos) return false;
  auto host = url.substr(host_at + 3);
  host = host.substr(0, host.find_first_of("/?#"));
  if (auto at = host.rfind('@'); at != std::string::npos) host = host.substr(at + 1);
  if (host.rfind("[::1]", 0) == 0) return true;
  host = host.substr(0, host.find(':'));
  if (host == "localhost") return true;
  // A literal 127.x.y.z, not a name that starts like one (127.mail.example.org).
  in_addr a{};
  return ::inet_pton(AF_INET, host.c_str(), &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

/// An IMAP quoted string; refuses what cannot be one.
result<std::string> quoted(const std::string& s, const char* what) {
  if (s.find_first_of("\r\n") != std::string::npos || s.find('\0') != std::string::npos)
    return fail(errc::invalid_argument, "{} '{}' has a line break", what, s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

/// "INBOX:42" → mailbox and UID.
result<std::pair<std::string, std::string>> split_id(const std::string& id) {
  auto colon = id.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == id.size() ||
      !std::all_of(id.begin() + static_cast<long>(colon) + 1, id.end(), [](unsigned char c) { return std::isdigit(c); }))
    return fail(errc::invalid_argument, "'{}' is not a message id of this account (mailbox:uid, from email_search)", id);
  return std::pair{id.substr(0, colon), id.substr(colon + 1)};
}

/// IMAP's date ("7-Dec-2026") from YYYY-MM-DD.
result<std::string> imap_date(const std::string& d) {
  static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  int y = 0, m = 0, day = 0;
  char tail = 0;
  if (d.size() != 10 || std::sscanf(d.c_str(), "%4d-%2d-%2d%c", &y, &m, &day, &tail) != 3 || m < 1 || m > 12 || day < 1 ||
      day > 31)
    return fail(errc::invalid_argument, "'{}' is not a date (YYYY-MM-DD)", d);
  return fmt::format("{}-{}-{}", day, months[m - 1], y);
}

/// A keyword or system flag a call may set.
result<std::string> flag_of(const std::string& l) {
  static constexpr std::string_view system[] = {"\\Seen", "\\Flagged", "\\Answered", "\\Draft"};
  for (auto s : system)
    if (l.size() == s.size() && std::equal(l.begin(), l.end(), s.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        }))
      return std::string(s);
  if (l.empty() || l.size() > 64 || !std::all_of(l.begin(), l.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '_' || c == '-' || c == '.' || c == '$';
      }))
    return fail(errc::invalid_argument,
                "'{}' is not a label this IMAP account can keep (letters, digits, _ - . $; or \\Seen, \\Flagged, \\Answered)", l);
  return l;
}

/// One IMAP or SMTP conversation of a tool call.
class session {
 public:
  explicit session(const imap_account& a) : _a(a), _c(curl_easy_init()) {}
  ~session() {
    if (_c) curl_easy_cleanup(_c);
  }
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  struct request {
    std::string url;
    std::string command;      ///< a custom IMAP command, or empty
    const std::string* upload = nullptr;  ///< APPEND (IMAP) or DATA (SMTP)
    std::string mail_from;    ///< SMTP
    const std::vector<std::string>* rcpt = nullptr;
  };

  /// The answer's bytes; a refused XOAUTH2 token is refreshed once.
  result<std::string> run(const request& q, const std::string& doing) {
    if (!_c) return fail(errc::io, "Failed to {}: libcurl has no handle", doing);
    for (int attempt = 0;; ++attempt) {
      if (_a.tokens && _token.empty()) {
        auto t = _a.tokens(_refused);
        if (!t) return t.take_error();
        _token = *t;
      }
      std::string out;
      auto r = once(q, &out);
      if (r == CURLE_OK) return out;
      // libcurl answers a refused SELECT with "login denied" too: a missing folder, not a
      // refused token (refreshing for it would rotate the account's refresh token for nothing).
      if (r == CURLE_LOGIN_DENIED && std::string_view(_err).find("Select failed") != std::string_view::npos)
        return fail(errc::not_found, "Failed to {}: the server has no such folder", doing);
      if (r == CURLE_REMOTE_FILE_NOT_FOUND) return fail(errc::not_found, "Failed to {}: the server has no such message", doing);
      if (r == CURLE_LOGIN_DENIED && _a.tokens && attempt == 0) {
        _refused = _token;  // expired or revoked early: the broker refreshes
        _token.clear();
        curl_easy_reset(_c);
        continue;
      }
      std::string why = _err[0] ? _err : curl_easy_strerror(r);
      if (r == CURLE_LOGIN_DENIED)
        return fail(errc::unavailable, "Failed to {}: the server refused the account's {} ({})", doing,
                    _a.tokens ? "access token" : "password", why);
      if (r == CURLE_QUOTE_ERROR || r == CURLE_UPLOAD_FAILED ||
          r == CURLE_SEND_ERROR || r == CURLE_RECV_ERROR)
        return fail(errc::unavailable, "Failed to {}: the server said no ({})", doing, why);
      return fail(errc::unavailable, "Failed to {}: {}", doing, why);
    }
  }

 private:
  static std::size_t on_write(char* p, std::size_t size, std::size_t n, void* out) {
    auto* s = static_cast<std::string*>(out);
    if (s->size() + size * n > max_answer) return 0;
    s->append(p, size * n);
    return size * n;
  }
  struct reader {
    const std::string* s;
    std::size_t at = 0;
  };
  static std::size_t on_read(char* p, std::size_t size, std::size_t n, void* rp) {
    auto* r = static_cast<reader*>(rp);
    std::size_t k = std::min(size * n, r->s->size() - r->at);
    std::copy_n(r->s->data() + r->at, k, p);
    r->at += k;
    return k;
  }

  CURLcode once(const request& q, std::string* out) {
    curl_easy_reset(_c);
    _err[0] = 0;
    curl_easy_setopt(_c, CURLOPT_ERRORBUFFER, _err);
    curl_easy_setopt(_c, CURLOPT_URL, q.url.c_str());
    curl_easy_setopt(_c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(_c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(_c, CURLOPT_TIMEOUT_MS, 120000L);
    curl_easy_setopt(_c, CURLOPT_PROTOCOLS_STR, "imap,imaps,smtp,smtps");
    // Plain imap:// and smtp:// only to this machine (the config says so); elsewhere STARTTLS.
    curl_easy_setopt(_c, CURLOPT_USE_SSL, on_this_machine(q.url) ? static_cast<long>(CURLUSESSL_TRY) : static_cast<long>(CURLUSESSL_ALL));
    curl_easy_setopt(_c, CURLOPT_USERNAME, _a.username.c_str());
    if (_a.tokens) {
      curl_easy_setopt(_c, CURLOPT_XOAUTH2_BEARER, _token.c_str());
      curl_easy_setopt(_c, CURLOPT_LOGIN_OPTIONS, "AUTH=XOAUTH2");
    } else {
      curl_easy_setopt(_c, CURLOPT_PASSWORD, _a.password.c_str());
    }
    curl_easy_setopt(_c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(_c, CURLOPT_WRITEDATA, out);
    if (!q.command.empty()) curl_easy_setopt(_c, CURLOPT_CUSTOMREQUEST, q.command.c_str());
    reader rd{q.upload};
    curl_slist* rcpt = nullptr;
    if (q.upload) {
      curl_easy_setopt(_c, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(_c, CURLOPT_READFUNCTION, on_read);
      curl_easy_setopt(_c, CURLOPT_READDATA, &rd);
      curl_easy_setopt(_c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(q.upload->size()));
    }
    if (q.rcpt) {
      curl_easy_setopt(_c, CURLOPT_MAIL_FROM, ("<" + q.mail_from + ">").c_str());
      for (auto& r : *q.rcpt) rcpt = curl_slist_append(rcpt, ("<" + r + ">").c_str());
      curl_easy_setopt(_c, CURLOPT_MAIL_RCPT, rcpt);
    }
    auto r = curl_easy_perform(_c);
    curl_slist_free_all(rcpt);
    return r;
  }

  const imap_account& _a;
  CURL* _c;
  std::string _token, _refused;
  char _err[CURL_ERROR_SIZE] = {};
};

class imap_mail final : public backend {
 public:
  explicit imap_mail(imap_account a) : _a(std::move(a)) {
    while (!_a.imap_url.empty() && _a.imap_url.back() == '/') _a.imap_url.pop_back();
    while (!_a.smtp_url.empty() && _a.smtp_url.back() == '/') _a.smtp_url.pop_back();
  }

  result<std::vector<folder>> folders() override {
    session s(_a);
    return list(s);
  }

  result<std::vector<summary>> search(const query& q) override {
    session s(_a);
    std::string box = q.folder.empty() ? "INBOX" : q.folder;
    std::string crit;
    auto add = [&](const char* key, const std::string& v) -> status {
      if (v.empty()) return {};
      auto qs = quoted(v, key);
      if (!qs) return qs.take_error();
      crit += fmt::format(" {} {}", key, *qs);
      return {};
    };
    for (auto [k, v] : {std::pair{"FROM", &q.from}, std::pair{"TO", &q.to}, std::pair{"SUBJECT", &q.subject}, std::pair{"TEXT", &q.text}})
      if (auto st = add(k, *v); !st) return st.take_error();
    for (auto [k, v] : {std::pair{"SINCE", &q.since}, std::pair{"BEFORE", &q.before}})
      if (!v->empty()) {
        auto d = imap_date(*v);
        if (!d) return d.take_error();
        crit += fmt::format(" {} {}", k, *d);
      }
    if (q.unread) crit += " UNSEEN";
    if (crit.empty()) crit = " ALL";
    auto ans = s.run({box_url(box), "UID SEARCH CHARSET UTF-8" + crit}, fmt::format("search '{}'", box));
    if (!ans) return ans.take_error();
    auto uids = search_uids(*ans);
    // The newest first (UIDs grow with arrival).
    std::sort(uids.begin(), uids.end(), [](auto& a, auto& b) { return a.size() != b.size() ? a.size() > b.size() : a > b; });
    if (uids.size() > q.limit) uids.resize(q.limit);
    std::vector<summary> out;
    if (uids.empty()) return out;
    std::string set;
    for (auto& u : uids) set += (set.empty() ? "" : ",") + u;
    auto flags = s.run({box_url(box), "UID FETCH " + set + " (UID FLAGS)"}, fmt::format("read the flags in '{}'", box));
    if (!flags) return flags.take_error();
    auto flag_of_uid = fetch_flags(*flags);
    auto unread_now = [&](const std::string& u) {
      auto& fl = flag_of_uid[u];
      return std::find(fl.begin(), fl.end(), "\\Seen") == fl.end();
    };
    // libcurl fetches headers with BODY[HEADER], not BODY.PEEK, which marks them read: looking
    // is not reading, so what was unread is made so again — also when a fetch fails halfway.
    std::string unread;
    for (auto& u : uids)
      if (unread_now(u)) unread += (unread.empty() ? "" : ",") + u;
    std::optional<error> failed;
    for (auto& u : uids) {
      auto head = s.run({box_url(box) + ";UID=" + u + ";SECTION=HEADER"}, fmt::format("read message {} in '{}'", u, box));
      if (!head) {
        failed = head.err();
        break;
      }
      summary m;
      m.id = box + ":" + u;
      if (auto p = parse(*head + "\r\n")) {
        m.from = p->from;
        m.subject = p->subject;
        m.date = p->date;
        m.thread = p->references.empty() ? p->in_reply_to : p->references.front();
      }
      m.labels = flag_of_uid[u];
      m.unread = unread_now(u);
      out.push_back(std::move(m));
    }
    if (!unread.empty())
      if (auto r = s.run({box_url(box), "UID STORE " + unread + " -FLAGS.SILENT (\\Seen)"}, fmt::format("keep messages unread in '{}'", box));
          !r && !failed)
        failed = r.err();
    if (failed) return *failed;
    return out;
  }

  result<fetched> fetch(const std::string& id) override {
    auto bu = split_id(id);
    if (!bu) return bu.take_error();
    session s(_a);
    auto raw = s.run({box_url(bu->first) + ";UID=" + bu->second}, fmt::format("read message '{}'", id));
    if (!raw) return raw.take_error();
    if (raw->empty()) return fail(errc::not_found, "there is no message '{}'", id);  // a server that answers with nothing
    return fetched{std::move(*raw), {}};
  }

  result<std::string> draft(const outgoing_raw& m) override {
    session s(_a);
    auto box = special(s, "drafts", "Drafts");
    if (!box) return box.take_error();
    auto uid = append(s, *box, m.with_bcc, "\\Draft");
    if (!uid) return uid.take_error();
    return *box + ":" + *uid;
  }

  result<std::string> send(const outgoing_raw& m) override {
    if (_a.smtp_url.empty()) return fail(errc::invalid_argument, "the account has no smtp_url to send with");
    session s(_a);
    auto sent = s.run({_a.smtp_url, "", &m.raw, m.from, &m.recipients}, fmt::format("send through '{}'", _a.smtp_url));
    if (!sent) return sent.take_error();
    // Most servers keep no copy of what SMTP sent: file one in the sent folder.
    if (!_a.save_sent) return std::string();
    session i(_a);
    auto box = special(i, "sent", "Sent");
    if (!box) return fmt::format("sent, but no copy was filed: {}", box.err().message);
    if (auto uid = append(i, *box, m.with_bcc, "\\Seen"); !uid)
      return fmt::format("sent, but no copy was filed in '{}': {}", *box, uid.err().message);
    return std::string();
  }

  status move(const std::string& id, const std::string& to) override {
    auto bu = split_id(id);
    if (!bu) return bu.take_error();
    auto q = quoted(to, "folder");
    if (!q) return q.take_error();
    session s(_a);
    auto r = s.run({box_url(bu->first), "UID MOVE " + bu->second + " " + *q}, fmt::format("move '{}' to '{}'", id, to));
    if (!r) return r.take_error();
    if (r->find("EXPUNGE") == std::string::npos && r->find("COPYUID") == std::string::npos)
      return fail(errc::not_found, "there is no message '{}' to move", id);
    return {};
  }

  status label(const std::string& id, const std::vector<std::string>& add, const std::vector<std::string>& remove) override {
    auto bu = split_id(id);
    if (!bu) return bu.take_error();
    session s(_a);
    for (auto [sign, list] : {std::pair{'+', &add}, std::pair{'-', &remove}}) {
      if (list->empty()) continue;
      std::string fl;
      for (auto& l : *list) {
        auto f = flag_of(l);
        if (!f) return f.take_error();
        fl += (fl.empty() ? "" : " ") + *f;
      }
      auto r = s.run({box_url(bu->first), fmt::format("UID STORE {} {}FLAGS ({})", bu->second, sign, fl)},
                     fmt::format("label '{}'", id));
      if (!r) return r.take_error();
      if (r->find("FETCH") != std::string::npos) continue;
      // No FETCH back: a server that reports changed flags only, or no such message.
      auto there = s.run({box_url(bu->first), "UID SEARCH UID " + bu->second}, fmt::format("find '{}'", id));
      if (!there) return there.take_error();
      if (search_uids(*there).empty()) return fail(errc::not_found, "there is no message '{}' to label", id);
    }
    return {};
  }

 private:
  std::string box_url(const std::string& box) {
    char* e = curl_easy_escape(nullptr, box.c_str(), static_cast<int>(box.size()));
    std::string u = _a.imap_url + "/" + (e ? e : "");
    curl_free(e);
    return u;
  }

  result<std::vector<folder>> list(session& s) {
    auto ans = s.run({_a.imap_url + "/", "LIST \"\" \"*\""}, "list the folders");
    if (!ans) return ans.take_error();
    return list_folders(*ans);
  }

  /// The folder of a special use (RFC 6154), else one named `fallback` when it exists.
  result<std::string> special(session& s, const std::string& role, const std::string& fallback) {
    auto fs = list(s);
    if (!fs) return fs.take_error();
    for (auto& f : *fs)
      if (f.role == role) return f.id;
    for (auto& f : *fs)
      if (f.id == fallback) return f.id;
    return fail(errc::not_found, "the account has no {} folder (none marked \\{} and none named '{}')", role, fallback, fallback);
  }

  /// APPENDs a message and sets `flag` on it; its UID (found again by Message-ID).
  result<std::string> append(session& s, const std::string& box, const std::string& raw, const std::string& flag) {
    auto ap = s.run({box_url(box), "", &raw}, fmt::format("save into '{}'", box));
    if (!ap) return ap.take_error();
    auto p = parse(raw);
    if (!p || p->message_id.empty()) return std::string();
    auto q = quoted("<" + p->message_id + ">", "message id");
    if (!q) return q.take_error();
    auto found = s.run({box_url(box), "UID SEARCH HEADER Message-ID " + *q}, fmt::format("find the saved message in '{}'", box));
    if (!found) return found.take_error();
    auto uids = search_uids(*found);
    std::string uid = uids.empty() ? "" : uids.back();
    if (uid.empty()) return fail(errc::io, "the saved message is not found in '{}'", box);
    auto st = s.run({box_url(box), fmt::format("UID STORE {} +FLAGS ({})", uid, flag)}, fmt::format("flag the message in '{}'", box));
    if (!st) return st.take_error();
    return uid;
  }

  imap_account _a;
};

}  // namespace

std::unique_ptr<backend> imap_backend(imap_account a) { return std::make_unique<imap_mail>(std::move(a)); }

}  // namespace weft::tools::email
