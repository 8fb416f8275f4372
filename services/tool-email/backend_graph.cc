// Microsoft Graph mail: listing and filing in JSON, whole messages as MIME both ways
// (GET …/$value; drafts and sendMail take base64 MIME as text/plain), so reading and writing
// go through mime.hh like the other backends. Categories are its labels.
#include <algorithm>
#include <memory>

#include <fmt/format.h>

#include <weft/base/base64.hh>
#include <weft/http/request.hh>

#include "services/tool-email/backend.hh"
#include "services/tool-email/rest.hh"

namespace weft::tools::email {

namespace {

/// A KQL value for $search, quoted.
result<std::string> kql(const std::string& v, const char* what) {
  if (v.find_first_of("\"\\\r\n") != std::string::npos)
    return fail(errc::invalid_argument, "{} '{}' may not hold quotes, backslashes or line breaks", what, v);
  return v;
}

/// Graph's well-known folder names (usable as ids in paths).
constexpr std::pair<const char*, const char*> well_known[] = {{"inbox", "inbox"},          {"drafts", "drafts"},
                                                              {"sentitems", "sent"},       {"deleteditems", "trash"},
                                                              {"junkemail", "junk"},       {"archive", "archive"}};

class graph_mail final : public backend {
 public:
  graph_mail(std::string api, http::bearer_tokens tokens)
      : _rest("Microsoft Graph", std::move(api), std::move(tokens)), _api(_rest.base()) {}

  result<std::vector<folder>> folders() override {
    std::vector<folder> out;
    std::string url = _api + "/mailFolders?$top=100";
    for (int page = 0; !url.empty() && page < 20; ++page) {
      auto j = call({"GET", url});
      if (!j) return j.take_error();
      if (auto it = j->find("value"); it != j->end() && it->is_array())
        for (auto& f : *it)
          if (f.is_object()) out.push_back({str(f, "id"), str(f, "displayName"), ""});
      url = next_link(*j);
    }
    // Roles: the well-known names resolve to the same ids.
    for (auto [wk, role] : well_known) {
      auto j = call({"GET", _api + "/mailFolders/" + wk});
      if (!j) continue;  // an account without an archive folder, say
      for (auto& f : out)
        if (f.id == str(*j, "id")) f.role = role;
    }
    return out;
  }

  result<std::vector<summary>> search(const query& q) override {
    std::string kq;
    for (auto [k, v] : {std::pair{"from:", &q.from}, std::pair{"to:", &q.to}, std::pair{"subject:", &q.subject},
                        std::pair{"", &q.text}}) {
      if (v->empty()) continue;
      auto t = kql(*v, k[0] ? k : "text");
      if (!t) return t.take_error();
      kq += fmt::format("{}{}{}", kq.empty() ? "" : " AND ", k, *t);
    }
    for (auto [k, v] : {std::pair{"received>=", &q.since}, std::pair{"received<", &q.before}})
      if (!v->empty()) {
        auto t = kql(*v, "date");
        if (!t) return t.take_error();
        kq += fmt::format("{}{}{}", kq.empty() ? "" : " AND ", k, *t);
      }
    auto box = folder_id(q.folder.empty() ? "inbox" : q.folder);
    if (!box) return box.take_error();
    auto url = fmt::format("{}/mailFolders/{}/messages?$top={}&$select=id,conversationId,from,subject,receivedDateTime,isRead,"
                           "categories", _api, http::url_encode(*box), std::min<std::size_t>(q.limit * (q.unread ? 4 : 1), 200));
    if (!kq.empty()) url += "&$search=" + http::url_encode("\"" + kq + "\"");
    else url += "&$orderby=" + http::url_encode("receivedDateTime desc");
    auto j = call({"GET", url});
    if (!j) return j.take_error();
    std::vector<summary> out;
    auto it = j->find("value");
    if (it == j->end() || !it->is_array()) return out;
    for (auto& m : *it) {
      if (!m.is_object()) continue;
      summary s;
      s.id = str(m, "id");
      s.thread = str(m, "conversationId");
      s.subject = str(m, "subject");
      s.date = str(m, "receivedDateTime");
      if (auto f = m.find("from"); f != m.end() && f->is_object())
        if (auto e = f->find("emailAddress"); e != f->end() && e->is_object()) {
          auto name = str(*e, "name"), addr = str(*e, "address");
          s.from = name.empty() || name == addr ? addr : fmt::format("{} <{}>", name, addr);
        }
      if (auto c = m.find("categories"); c != m.end() && c->is_array())
        for (auto& x : *c)
          if (x.is_string()) s.labels.push_back(x.get<std::string>());
      s.unread = m.contains("isRead") && m["isRead"].is_boolean() && !m["isRead"].get<bool>();
      if (q.unread && !s.unread) continue;
      out.push_back(std::move(s));
      if (out.size() >= q.limit) break;
    }
    return out;
  }

  result<fetched> fetch(const std::string& id) override {
    auto raw = _rest.call_raw("GET", fmt::format("{}/messages/{}/$value", _api, http::url_encode(id)));
    if (!raw) return raw.take_error();
    if (raw->empty()) return fail(errc::malformed, "Microsoft Graph gave message '{}' without its MIME text", id);
    return fetched{std::move(*raw), {}};
  }

  result<std::string> draft(const outgoing_raw& m) override {
    auto j = call({"POST", _api + "/messages", base64_encode(m.with_bcc), "text/plain"});
    if (!j) return j.take_error();
    return str(*j, "id");
  }

  result<std::string> send(const outgoing_raw& m) override {
    auto j = call({"POST", _api + "/sendMail", base64_encode(m.with_bcc), "text/plain"});
    if (!j) return j.take_error();
    return std::string();
  }

  status move(const std::string& id, const std::string& to) override {
    auto box = folder_id(to);
    if (!box) return box.take_error();
    auto j = call({"POST", fmt::format("{}/messages/{}/move", _api, http::url_encode(id)), json{{"destinationId", *box}}.dump()});
    if (!j) return j.take_error();
    return {};
  }

  status label(const std::string& id, const std::vector<std::string>& add, const std::vector<std::string>& remove) override {
    auto url = fmt::format("{}/messages/{}", _api, http::url_encode(id));
    auto cur = call({"GET", url + "?$select=categories"});
    if (!cur) return cur.take_error();
    std::vector<std::string> cats;
    if (auto c = cur->find("categories"); c != cur->end() && c->is_array())
      for (auto& x : *c)
        if (x.is_string()) cats.push_back(x.get<std::string>());
    for (auto& a : add)
      if (std::find(cats.begin(), cats.end(), a) == cats.end()) cats.push_back(a);
    std::erase_if(cats, [&](auto& c) { return std::find(remove.begin(), remove.end(), c) != remove.end(); });
    auto j = call({"PATCH", url, json{{"categories", cats}}.dump()});
    if (!j) return j.take_error();
    return {};
  }

 private:
  result<json> call(rest_call c) { return call_json(_rest, c); }

  /// The next page; rest_api follows it only back into the API.
  static std::string next_link(const json& j) { return str(j, "@odata.nextLink"); }

  /// A folder named by id, well-known name or display name.
  result<std::string> folder_id(const std::string& name) {
    for (auto [wk, role] : well_known)
      if (name == wk || name == role) return std::string(wk);
    auto fs = folders();
    if (!fs) return fs.take_error();
    for (auto& f : *fs)
      if (f.id == name || f.name == name) return f.id;
    return fail(errc::invalid_argument, "Microsoft Graph has no mail folder '{}' (see email_folders)", name);
  }

  rest_api _rest;
  std::string _api;
};

}  // namespace

std::unique_ptr<backend> graph_backend(std::string api, http::bearer_tokens tokens) {
  return std::make_unique<graph_mail>(std::move(api), std::move(tokens));
}

}  // namespace weft::tools::email
