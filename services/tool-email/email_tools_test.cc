// The email tools against real mail servers on loopback: Debian's dovecot for IMAP (a
// user with a password, Maildir storage, Drafts/Sent/Archive by special use) and an SMTP
// server on aiosmtpd. Folders, search, reading a message and its attachment, drafts, sending
// only for the agents an account lets send (the others get a draft), replies in the thread,
// moving and labelling, the hourly limit, XOAUTH2 with a refreshed token, Denied for an agent
// without the account, and a clear error for a wrong password.
#include <doctest/doctest.h>

#include <curl/curl.h>

#include <fmt/format.h>

#include "services/tool-email/email_tools.hh"
#include "services/tool-email/mime.hh"
#include <weft/base/base64.hh>
#include "tests/mail_servers.hh"
#include "tests/tool_calls.hh"

using namespace weft;
using namespace weft::tools::email;
namespace tool = weft::proto::tool_v1;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

struct init_once {
  init_once() {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    mime_init();
  }
} init;

const std::string pdf_bytes = std::string("%PDF-1.4\n%\xc7\xec\x8f\xa2\n5 0 obj\n", 23);

std::string with_attachment() {
  return "From: Bob <bob@example.test>\r\nTo: alice@example.test\r\nSubject: Quarterly report\r\n"
         "Date: Mon, 07 Dec 2026 09:00:00 +0000\r\nMessage-ID: <report-1@example.test>\r\nMIME-Version: 1.0\r\n"
         "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
         "Hi Alice, the report is attached.\r\n--b\r\nContent-Type: application/pdf; name=\"q4.pdf\"\r\n"
         "Content-Disposition: attachment; filename=\"q4.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
         base64_encode(pdf_bytes) + "\r\n--b--\r\n";
}

std::string plain(const std::string& subject, const std::string& id, const std::string& from = "carol@example.test") {
  return "From: " + from + "\r\nTo: alice@example.test\r\nSubject: " + subject +
         "\r\nDate: Mon, 07 Dec 2026 10:00:00 +0000\r\nMessage-ID: <" + id + ">\r\n\r\nLunch on Friday?\r\n";
}

struct fixture {
  test::dovecot imap{{{"alice@example.test", "alicepw"}}};
  test::smtp_server smtp{"alice@example.test", "alicepw"};
  std::vector<tools::tool_def> defs;
  std::atomic<bool> flag{false};
  tool::call c{"email_folders", "{}", "", 0};
  tools::call_context ctx{c, -1, flag};
  std::vector<sent_record> sent;
  std::chrono::steady_clock::time_point clock = std::chrono::steady_clock::now();

  explicit fixture(unsigned per_hour = 20) {
    REQUIRE_MESSAGE(imap.up, "dovecot did not start (tools/dev setup installs Debian's dovecot-imapd)");
    REQUIRE_MESSAGE(smtp.up, "the SMTP server did not start (tools/dev setup installs Debian's python3-aiosmtpd)");
    imap.deliver("alice@example.test", "alicepw", "INBOX", with_attachment());
    imap.deliver("alice@example.test", "alicepw", "INBOX", plain("Lunch", "lunch-1@example.test"));
    email_settings s;
    s.send_per_hour = per_hour;
    account a;
    a.name = "home";
    a.kind = "imap";
    a.imap = {imap.url(), smtp.url(), "alice@example.test", "alicepw", {}};
    a.address = "Alice <alice@example.test>";
    a.agents = {"a", "drafter"};
    a.senders = {"a"};
    s.accounts["home"] = a;
    s.on_sent = [this](const sent_record& r) { sent.push_back(r); };
    s.now = [this] { return clock; };
    defs = email_tools(std::move(s));
    ctx.caller = "agent/a";
  }
  result<tool::result> call(const std::string& name, const json& args) { return test::call_tool(defs, name, args, ctx); }
  json ok(const std::string& name, json args) {
    if (!args.contains("account") && name != "email_folders") args["account"] = "home";
    return test::ok_tool(defs, name, args, ctx);
  }
  std::string id_of(const std::string& subject, const std::string& folder = "INBOX") {
    auto r = ok("email_search", {{"folder", folder}, {"subject", subject}});
    REQUIRE(r["messages"].size() == 1);
    return r["messages"][0]["id"];
  }
};

}  // namespace

TEST_CASE("IMAP: folders with their roles; search by subject, sender and unread; newest first") {
  fixture f;
  auto fs = f.ok("email_folders", json::object());
  std::map<std::string, std::string> roles;
  for (auto& x : fs["folders"]) roles[x["id"]] = x["role"];
  CHECK(roles["INBOX"] == "inbox");
  CHECK(roles["Drafts"] == "drafts");
  CHECK(roles["Sent"] == "sent");
  CHECK(roles["Archive"] == "archive");

  auto all = f.ok("email_search", json::object());
  REQUIRE(all["messages"].size() == 2);
  CHECK(all["messages"][0]["subject"] == "Lunch");  // the newest first
  CHECK(all["messages"][1]["subject"] == "Quarterly report");
  CHECK(all["messages"][0]["unread"] == true);
  CHECK(f.ok("email_search", {{"from", "bob@example.test"}})["messages"].size() == 1);
  CHECK(f.ok("email_search", {{"subject", "nothing like it"}})["messages"].empty());
  CHECK(f.ok("email_search", {{"since", "2000-01-01"}, {"limit", 1}})["messages"].size() == 1);
  auto bad = f.call("email_search", {{"account", "home"}, {"since", "yesterday"}});
  REQUIRE_FALSE(bad);
  CHECK(bad.err().message.find("YYYY-MM-DD") != std::string::npos);
  // Searching is looking, not reading: what was unread still is.
  auto again = f.ok("email_search", json::object());
  CHECK(again["messages"][0]["unread"] == true);
  CHECK(again["messages"][1]["unread"] == true);
  // A folder the account does not have is the caller's mistake, not a refused password.
  auto nope = f.call("email_search", {{"account", "home"}, {"folder", "Nope"}});
  REQUIRE_FALSE(nope);
  CHECK(nope.err().is(tool::interface_name, "BadArguments"));
  CHECK(nope.err().message.find("no such folder") != std::string::npos);
}

TEST_CASE("IMAP: a message read with its parts listed, and its PDF attachment fetched whole") {
  fixture f;
  auto id = f.id_of("Quarterly report");
  auto m = f.ok("email_read", {{"id", id}});
  CHECK(m["from"] == "Bob <bob@example.test>");
  CHECK(m["message_id"] == "report-1@example.test");
  CHECK(m["text"].get<std::string>().find("the report is attached") != std::string::npos);
  REQUIRE(m["parts"].size() == 1);
  CHECK(m["parts"][0]["filename"] == "q4.pdf");
  auto part = m["parts"][0]["part"].get<int>();
  auto a = f.ok("email_attachment", {{"id", id}, {"part", part}});
  CHECK(a["content_type"] == "application/pdf");
  auto bytes = base64_decode(a["base64url"].get<std::string>());
  REQUIRE(bytes);
  CHECK(*bytes == pdf_bytes);
  auto none = f.call("email_attachment", {{"account", "home"}, {"id", id}, {"part", 9}});
  REQUIRE_FALSE(none);
  CHECK(none.err().is(tool::interface_name, "BadArguments"));
  auto gone = f.call("email_read", {{"account", "home"}, {"id", "INBOX:999"}});
  REQUIRE_FALSE(gone);
  CHECK(gone.err().is(tool::interface_name, "BadArguments"));
  for (const char* id : {"..", ".", ""}) {
    auto dots = f.call("email_read", {{"account", "home"}, {"id", id}});
    REQUIRE_FALSE(dots);
    CHECK(dots.err().is(tool::interface_name, "BadArguments"));
  }
}

TEST_CASE("IMAP/SMTP: send only where the account allows it; otherwise a draft; replies stay in the thread") {
  fixture f;
  // A draft: in Drafts, flagged \Draft, nothing sent; its Bcc kept for whoever sends it.
  auto d = f.ok("email_draft", {{"to", {"bob@example.test"}}, {"bcc", {"boss@example.test"}}, {"subject", "Plan"},
                                {"body", "A first draft."}});
  CHECK(d["sent"] == false);
  auto drafts = f.ok("email_search", {{"folder", "Drafts"}});
  REQUIRE(drafts["messages"].size() == 1);
  CHECK(f.ok("email_read", {{"id", drafts["messages"][0]["id"]}})["bcc"] == json({"boss@example.test"}));
  auto labels = drafts["messages"][0]["labels"];
  CHECK(std::find(labels.begin(), labels.end(), "\\Draft") != labels.end());
  CHECK(f.smtp.received().empty());

  // An agent the account does not let send: its send becomes a draft, and says why.
  f.ctx.caller = "agent/drafter";
  auto r = f.ok("email_send", {{"to", {"bob@example.test"}}, {"subject", "Not yet"}, {"body", "x"}});
  CHECK(r["sent"] == false);
  CHECK(r["not_sent"].get<std::string>().find("may not send") != std::string::npos);
  CHECK(f.smtp.received().empty());
  CHECK(f.ok("email_search", {{"folder", "Drafts"}})["messages"].size() == 2);

  // A sender: SMTP gets it with every recipient on the envelope (Bcc not in the text), a copy
  // is filed in Sent, and the witness hook hears of it.
  f.ctx.caller = "agent/a";
  auto s = f.ok("email_send", {{"to", {"Bob <bob@example.test>"}},
                               {"cc", {"carol@example.test"}},
                               {"bcc", {"dave@example.test"}},
                               {"subject", "Grüße"},
                               {"body", "Hello Bob"}});
  CHECK(s["sent"] == true);
  auto got = f.smtp.received();
  REQUIRE(got.size() == 1);
  auto env = json::parse(got[0].second);
  CHECK(env["mail_from"] == "alice@example.test");
  CHECK(env["rcpt_tos"] == json({"bob@example.test", "carol@example.test", "dave@example.test"}));
  CHECK(got[0].first.find("dave@example.test") == std::string::npos);
  auto sent_msg = parse(got[0].first);
  REQUIRE(sent_msg);
  CHECK(sent_msg->subject == "Grüße");
  CHECK(f.ok("email_search", {{"folder", "Sent"}})["messages"].size() == 1);
  REQUIRE(f.sent.size() == 1);
  CHECK(f.sent[0].agent == "a");
  CHECK(f.sent[0].recipients.size() == 3);
  CHECK(f.sent[0].message_id == s["message_id"]);

  // A reply to the lunch message: to its sender, "Re:", In-Reply-To and References set.
  auto lunch = f.id_of("Lunch");
  auto re = f.ok("email_reply", {{"id", lunch}, {"body", "Yes, Friday works."}, {"send", true}});
  CHECK(re["sent"] == true);
  got = f.smtp.received();
  REQUIRE(got.size() == 2);
  auto answer = parse(got[1].first);
  REQUIRE(answer);
  CHECK(answer->subject == "Re: Lunch");
  CHECK(answer->in_reply_to == "lunch-1@example.test");
  CHECK(answer->references == std::vector<std::string>{"lunch-1@example.test"});
  CHECK(json::parse(got[1].second)["rcpt_tos"] == json({"carol@example.test"}));
  // Without send: a draft in the thread.
  auto draft_re = f.ok("email_reply", {{"id", lunch}, {"body", "Maybe."}});
  CHECK(draft_re["sent"] == false);
  CHECK(f.smtp.received().size() == 2);
}

TEST_CASE("IMAP: move and label") {
  fixture f;
  auto id = f.id_of("Lunch");
  f.ok("email_label", {{"id", id}, {"add", {"work", "\\Flagged"}}});
  auto m = f.ok("email_search", {{"subject", "Lunch"}})["messages"][0];
  auto labels = m["labels"];
  CHECK(std::find(labels.begin(), labels.end(), "work") != labels.end());
  CHECK(std::find(labels.begin(), labels.end(), "\\Flagged") != labels.end());
  f.ok("email_label", {{"id", id}, {"remove", {"work"}}});
  labels = f.ok("email_search", {{"subject", "Lunch"}})["messages"][0]["labels"];
  CHECK(std::find(labels.begin(), labels.end(), "work") == labels.end());
  auto bad = f.call("email_label", {{"account", "home"}, {"id", id}, {"add", {"a b)"}}});
  REQUIRE_FALSE(bad);
  CHECK(bad.err().is(tool::interface_name, "BadArguments"));

  f.ok("email_move", {{"id", id}, {"folder", "Archive"}});
  CHECK(f.ok("email_search", {{"subject", "Lunch"}})["messages"].empty());
  CHECK(f.ok("email_search", {{"folder", "Archive"}, {"subject", "Lunch"}})["messages"].size() == 1);
  auto again = f.call("email_move", {{"account", "home"}, {"id", id}, {"folder", "Archive"}});
  REQUIRE_FALSE(again);  // it is not in the inbox any more
  CHECK(again.err().is(tool::interface_name, "BadArguments"));
}

TEST_CASE("sending is limited per agent and hour") {
  fixture f(2);
  json m{{"to", {"bob@example.test"}}, {"subject", "n"}, {"body", "x"}};
  CHECK(f.ok("email_send", m)["sent"] == true);
  CHECK(f.ok("email_send", m)["sent"] == true);
  auto third = f.call("email_send", {{"account", "home"}, {"to", {"bob@example.test"}}, {"subject", "n"}, {"body", "x"}});
  REQUIRE(third);
  CHECK(third->is_error);
  CHECK(third->content.find("send_per_hour") != std::string::npos);
  CHECK(f.smtp.received().size() == 2);
  f.clock += 61min;
  CHECK(f.ok("email_send", m)["sent"] == true);
  CHECK(f.smtp.received().size() == 3);
}

TEST_CASE("refusals: an agent without the account, a header injection, a wrong password") {
  fixture f;
  f.ctx.caller = "agent/other";
  auto r = f.call("email_search", {{"account", "home"}});
  REQUIRE_FALSE(r);
  CHECK(r.err().is(tool::interface_name, "Denied"));
  f.ctx.caller = "tool/shell/a";
  r = f.call("email_folders", json::object());
  REQUIRE_FALSE(r);
  CHECK(r.err().is(tool::interface_name, "Denied"));
  f.ctx.caller = "agent/a";
  r = f.call("email_send", {{"account", "home"}, {"to", {"bob@example.test"}}, {"subject", "x\r\nBcc: eve@example.test"}, {"body", "x"}});
  REQUIRE_FALSE(r);
  CHECK(r.err().is(tool::interface_name, "BadArguments"));
  CHECK(f.smtp.received().empty());
  r = f.call("email_search", {{"account", "home"}, {"subject", "a\"\r\nA1 LOGOUT"}});
  REQUIRE_FALSE(r);  // no command smuggled into the IMAP conversation
  // More recipients than a message may have.
  json many = json::array();
  for (int i = 0; i < 51; ++i) many.push_back(fmt::format("r{}@example.test", i));
  r = f.call("email_send", {{"account", "home"}, {"to", many}, {"subject", "all"}, {"body", "x"}});
  REQUIRE_FALSE(r);
  CHECK(r.err().is(tool::interface_name, "BadArguments"));
  CHECK(f.smtp.received().empty());

  email_settings s;
  account a;
  a.name = "home";
  a.imap = {f.imap.url(), f.smtp.url(), "alice@example.test", "wrong", {}};
  a.address = "alice@example.test";
  a.agents = {"a"};
  s.accounts["home"] = a;
  auto defs = email_tools(std::move(s));
  auto w = test::call_tool(defs, "email_search", {{"account", "home"}}, f.ctx);
  REQUIRE(w);
  CHECK(w->is_error);
  CHECK(w->content.find("refused the account's password") != std::string::npos);
}

TEST_CASE("SMTP with XOAUTH2: a token the server refuses is refreshed once and the send retried") {
  fixture f;
  email_settings s;
  account a;
  a.name = "work";
  a.imap = {f.imap.url(), f.smtp.url(), "alice@example.test", "", {}};
  a.oauth2_account = "google-work";
  a.scopes = {"mail"};
  a.address = "alice@example.test";
  a.agents = {"a"};
  a.senders = {"a"};
  s.accounts["work"] = a;
  std::vector<std::string> asked;  // the refused token each request named
  int n = 0;
  s.broker = [&](const std::string& account, const std::vector<std::string>& scopes, const std::string& agent,
                 const std::string& refused) -> result<std::string> {
    CHECK(account == "google-work");
    CHECK(scopes == std::vector<std::string>{"mail"});
    CHECK(agent == "a");
    asked.push_back(refused);
    return "at-token-" + std::to_string(++n);
  };
  f.smtp.reject("at-token-1");
  auto defs = email_tools(std::move(s));
  auto r = test::call_tool(defs, "email_send", {{"account", "work"}, {"to", {"bob@example.test"}}, {"subject", "t"}, {"body", "x"}}, f.ctx);
  REQUIRE(r);
  CHECK_MESSAGE(!r->is_error, r->content);
  REQUIRE(asked.size() >= 2);
  CHECK(asked[0] == "");            // first a cached or fresh token
  CHECK(asked[1] == "at-token-1");  // then, refused by the server, a refreshed one
  REQUIRE(f.smtp.received().size() == 1);
  CHECK(json::parse(f.smtp.received()[0].second)["login"] == "alice@example.test");
  // This dovecot takes passwords only: the copy for Sent could not be filed, and the answer
  // says so rather than failing a message that went out.
  CHECK(r->content.find("no copy was filed") != std::string::npos);
}
