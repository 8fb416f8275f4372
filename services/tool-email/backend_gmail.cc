// Gmail API v1: messages as `raw` RFC 5322 (base64url) both ways, so reading and writing go
// through mime.hh like IMAP's; labels are Gmail's folders (a move takes INBOX off).
#include <algorithm>
#include <memory>

#include <fmt/format.h>

#include <weft/base/base64.hh>
#include <weft/http/request.hh>

#include "services/tool-email/backend.hh"
#include "services/tool-email/rest.hh"

namespace weft::tools::email {

namespace {

/// A Gmail search term's value, quoted when it has spaces.
result<std::string> term(const std::string& v, const char* what) {
  if (v.find_first_of("\"\r\n") != std::string::npos)
    return fail(errc::invalid_argument, "{} '{}' may not hold quotes or line breaks", what, v);
  return v.find(' ') == std::string::npos ? v : "\"" + v + "\"";
}

result<std::string> gmail_date(const std::string& d) {
  int y = 0, m = 0, day = 0;
  char tail = 0;
  if (d.size() != 10 || std::sscanf(d.c_str(), "%4d-%2d-%2d%c", &y, &m, &day, &tail) != 3)
    return fail(errc::invalid_argument, "'{}' is not a date (YYYY-MM-DD)", d);
  return fmt::format("{:04}/{:02}/{:02}", y, m, day);
}

std::string role_of(const std::string& id) {
  static const std::pair<const char*, const char*> roles[] = {
      {"INBOX", "inbox"}, {"DRAFT", "drafts"}, {"SENT", "sent"}, {"TRASH", "trash"}, {"SPAM", "junk"}};
  for (auto [i, r] : roles)
    if (id == i) return r;
  return "";
}

class gmail final : public backend {
 public:
  gmail(std::string api, http::bearer_tokens tokens) : _rest("Gmail", std::move(api), std::move(tokens)), _api(_rest.base()) {}

  result<std::vector<folder>> folders() override {
    auto j = call({"GET", _api + "/labels"});
    if (!j) return j.take_error();
    std::vector<folder> out;
    if (auto it = j->find("labels"); it != j->end() && it->is_array())
      for (auto& l : *it)
        if (l.is_object()) out.push_back({str(l, "id"), str(l, "name"), role_of(str(l, "id"))});
    return out;
  }

  result<std::vector<summary>> search(const query& q) override {
    std::string s;
    for (auto [k, v] : {std::pair{"from:", &q.from}, std::pair{"to:", &q.to}, std::pair{"subject:", &q.subject},
                        std::pair{"", &q.text}}) {
      if (v->empty()) continue;
      auto t = term(*v, k[0] ? k : "text");
      if (!t) return t.take_error();
      s += fmt::format("{}{} ", k, *t);
    }
    for (auto [k, v] : {std::pair{"after:", &q.since}, std::pair{"before:", &q.before}})
      if (!v->empty()) {
        auto d = gmail_date(*v);
        if (!d) return d.take_error();
        s += k + *d + " ";
      }
    if (q.unread) s += "is:unread ";
    auto label = q.folder.empty() ? std::string("INBOX") : q.folder;
    auto lid = label_id(label);
    if (!lid) return lid.take_error();
    auto url = fmt::format("{}/messages?maxResults={}&labelIds={}", _api, q.limit, http::url_encode(*lid));
    if (!s.empty()) url += "&q=" + http::url_encode(s.substr(0, s.size() - 1));
    auto j = call({"GET", url});
    if (!j) return j.take_error();
    std::vector<summary> out;
    auto it = j->find("messages");
    if (it == j->end() || !it->is_array()) return out;
    for (auto& m : *it) {
      if (!m.is_object()) continue;
      auto id = str(m, "id");
      auto meta = call({"GET", fmt::format("{}/messages/{}?format=metadata&metadataHeaders=From&metadataHeaders=Subject&"
                                           "metadataHeaders=Date", _api, http::url_encode(id))});
      if (!meta) return meta.take_error();
      summary sm;
      sm.id = id;
      sm.thread = str(*meta, "threadId");
      if (auto p = meta->find("payload"); p != meta->end() && p->is_object())
        if (auto h = p->find("headers"); h != p->end() && h->is_array())
          for (auto& x : *h) {
            auto n = str(x, "name");
            if (n == "From") sm.from = str(x, "value");
            if (n == "Subject") sm.subject = str(x, "value");
            if (n == "Date") sm.date = str(x, "value");
          }
      if (auto l = meta->find("labelIds"); l != meta->end() && l->is_array())
        for (auto& x : *l)
          if (x.is_string()) sm.labels.push_back(x.get<std::string>());
      sm.unread = std::find(sm.labels.begin(), sm.labels.end(), "UNREAD") != sm.labels.end();
      out.push_back(std::move(sm));
    }
    return out;
  }

  result<fetched> fetch(const std::string& id) override {
    auto j = call({"GET", fmt::format("{}/messages/{}?format=raw", _api, http::url_encode(id))});
    if (!j) return j.take_error();
    auto raw = base64_decode(str(*j, "raw"));
    if (!raw || raw->empty()) return fail(errc::malformed, "Gmail gave message '{}' without its raw text", id);
    return fetched{std::move(*raw), str(*j, "threadId")};
  }

  result<std::string> draft(const outgoing_raw& m) override {
    json msg{{"raw", base64_encode(m.with_bcc, base64_alphabet::url, false)}};
    if (!m.thread.empty()) msg["threadId"] = m.thread;
    auto j = call({"POST", _api + "/drafts", json{{"message", msg}}.dump()});
    if (!j) return j.take_error();
    return str(*j, "id");
  }

  result<std::string> send(const outgoing_raw& m) override {
    json msg{{"raw", base64_encode(m.with_bcc, base64_alphabet::url, false)}};
    if (!m.thread.empty()) msg["threadId"] = m.thread;
    auto j = call({"POST", _api + "/messages/send", msg.dump()});
    if (!j) return j.take_error();
    return std::string();
  }

  status move(const std::string& id, const std::string& to) override {
    auto lid = label_id(to);
    if (!lid) return lid.take_error();
    return modify(id, {*lid}, *lid == "INBOX" ? std::vector<std::string>{} : std::vector<std::string>{"INBOX"});
  }

  status label(const std::string& id, const std::vector<std::string>& add, const std::vector<std::string>& remove) override {
    std::vector<std::string> a, r;
    for (auto [from, to] : {std::pair{&add, &a}, std::pair{&remove, &r}})
      for (auto& l : *from) {
        auto lid = label_id(l);
        if (!lid) return lid.take_error();
        to->push_back(*lid);
      }
    return modify(id, a, r);
  }

 private:
  result<json> call(rest_call c) { return call_json(_rest, c); }

  status modify(const std::string& id, const std::vector<std::string>& add, const std::vector<std::string>& remove) {
    auto j = call({"POST", fmt::format("{}/messages/{}/modify", _api, http::url_encode(id)),
                   json{{"addLabelIds", add}, {"removeLabelIds", remove}}.dump()});
    if (!j) return j.take_error();
    return {};
  }

  /// A label named by id or by name (UNREAD and STARRED are labels too).
  result<std::string> label_id(const std::string& name) {
    for (auto sys : {"INBOX", "UNREAD", "STARRED", "IMPORTANT", "TRASH", "SPAM", "SENT", "DRAFT"})
      if (name == sys) return name;
    auto fs = folders();
    if (!fs) return fs.take_error();
    for (auto& f : *fs)
      if (f.id == name || f.name == name) return f.id;
    return fail(errc::invalid_argument, "Gmail has no label '{}' (see email_folders)", name);
  }

  rest_api _rest;
  std::string _api;
};

}  // namespace

std::unique_ptr<backend> gmail_backend(std::string api, http::bearer_tokens tokens) {
  return std::make_unique<gmail>(std::move(api), std::move(tokens));
}

}  // namespace weft::tools::email
