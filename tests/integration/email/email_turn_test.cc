// Mail in agent turns through the real agent, bus, OAuth2 broker and tool-email process,
// against fake Gmail and Microsoft Graph APIs (tests/fakes/fake_mail_api.py) and the fake
// identity provider: tokens from the broker per call for the calling agent; a message found,
// read with its attachment and answered in its thread; a refused token refreshed once and
// the call retried; an agent the account lists but [oauth2.grants] does not is Denied; the
// message sent is in the witness chain; the refresh tokens and the client secret stay in
// the broker.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "proto/chat_v1.hh"
#include "proto/oauth_v1.hh"
#include "services/tool-email/mime.hh"
#include "tests/integration/fake_peer.hh"
#include "tests/integration/harness.hh"
#include "tests/integration/oauth2_login.hh"
#include "tests/integration/turn_client.hh"
#include "tests/mail_servers.hh"

using namespace weft;
using json = nlohmann::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

json call(const std::string& name, json args) { return {{"tool_calls", json::array({{{"name", name}, {"arguments", args}}})}}; }

const char* report =
    "From: Bob <bob@example.test>\r\nTo: alice@example.test\r\nSubject: Quarterly report\r\n"
    "Date: Mon, 07 Dec 2026 09:00:00 +0000\r\nMessage-ID: <report-1@example.test>\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    "Hi Alice, the numbers are attached.\r\n--b\r\nContent-Type: text/csv; name=\"q4.csv\"\r\n"
    "Content-Disposition: attachment; filename=\"q4.csv\"\r\n\r\nquarter,revenue\r\nQ4,1234567\r\n--b--\r\n";

/// A stack with agents main (may send) and other (listed by the account, not granted), the
/// broker with a provider at the fake IdP, and account "m" of `kind` at the fake API, logged in.
struct mail_stack {
  test::fake_peer idp{"fake_idp.py", {"--client-secret", "cs-very-secret", "--interval", "1", "--pending", "0"}};
  test::fake_peer api{"fake_mail_api.py"};
  test::fake_peer llm{"fake_llm.py"};
  std::unique_ptr<test::stack> s;
  std::unique_ptr<ipc::bus_client> b;
  std::vector<std::string> deltas;

  mail_stack(const std::string& kind) {
    bool google = kind == "gmail";
    auto u = idp.url() + (google ? "/google" : "/microsoft/common/oauth2/v2.0");
    auto provider = google ? fmt::format("[oauth2.providers.google]\nclient_id = \"weft-test-client\"\nclient_secret = \"cs-very-secret\"\n"
                                         "auth_url = \"{u}/o/oauth2/v2/auth\"\ntoken_url = \"{u}/token\"\ndevice_url = \"{u}/device/code\"\n",
                                         fmt::arg("u", u))
                           : fmt::format("[oauth2.providers.microsoft]\nclient_id = \"weft-test-client\"\nclient_secret = \"cs-very-secret\"\n"
                                         "auth_url = \"{u}/authorize\"\ntoken_url = \"{u}/token\"\ndevice_url = \"{u}/devicecode\"\n",
                                         fmt::arg("u", u));
    auto scopes = google ? "[\"gmail.modify\"]" : "[\"mail\", \"mail.send\"]";
    auto config = fmt::format(
        "[providers.fake]\nstyle = \"openai\"\nbase_url = \"{url}/v1\"\nmodel = \"fake-model\"\n\n"
        "[llm]\ndefault_provider = \"fake\"\nretries = 0\n\n"
        "[agents.main]\nmax_iterations = 8\ntool_timeout_ms = 20000\n[agents.main.tools]\nfamilies = [\"email\"]\n\n"
        "[agents.other]\nmax_iterations = 8\ntool_timeout_ms = 20000\n[agents.other.tools]\nfamilies = [\"email\"]\n\n"
        "{provider}[oauth2.grants.main]\nwork = {scopes}\n\n"
        "[tools.email]\nsend_per_hour = 5\n"
        "[tools.email.accounts.m]\nkind = \"{kind}\"\nurl = \"{api}\"\noauth2_account = \"work\"\n"
        "address = \"Alice <alice@example.test>\"\nagents = [\"main\", \"other\"]\nsenders = [\"main\"]\n",
        fmt::arg("url", llm.url()), fmt::arg("provider", provider), fmt::arg("scopes", scopes), fmt::arg("kind", kind),
        fmt::arg("api", google ? api.url() + "/gmail/v1/users/me" : api.url() + "/v1.0/me"));
    s = test::stack::start(config);
    REQUIRE(s);
    b = s->bus_client();
    test::device_login(*b, google ? "google" : "microsoft", "work",
                       google ? std::vector<std::string>{"gmail.modify"} : std::vector<std::string>{"mail", "mail.send"});
    auto seeded = api.post("/_seed?api=" + kind, report);
    REQUIRE(seeded.status == 200);
    seeded_id = json::parse(seeded.body)["id"];
  }
  std::string seeded_id;
  proto::chat_v1::turn_result turn(const std::string& agent, const std::string& id, json steps) {
    REQUIRE(llm.post("/_script", steps.dump()).status == 200);
    return test::streamed_turn(*b, agent, test::web_turn(id, id, "mail please"), deltas);
  }
  std::vector<std::string> bodies() {
    std::vector<std::string> out;
    for (auto& q : json::parse(llm.get("/_requests").body)) out.push_back(q["body"].dump());
    return out;
  }
  /// The message id email_search gave the model, when it is the one the API holds.
  std::string found_id() { return bodies().back().find("* " + seeded_id + "  ") != std::string::npos ? seeded_id : ""; }
  int refreshes() {
    int n = 0;
    for (auto& q : json::parse(idp.get("/_requests").body))
      if (q["form"].value("grant_type", "") == "refresh_token") ++n;
    return n;
  }
};

void secrets_stay_in_the_broker(mail_stack& m) {
  std::vector<std::string> secrets = {"cs-very-secret"};
  for (auto& t : json::parse(m.idp.get("/_refresh_tokens").body)) secrets.push_back(t.get<std::string>());
  REQUIRE(secrets.size() >= 2);
  auto broker = m.s->service_pid("oauth2");
  for (auto& e : fs::directory_iterator("/proc")) {
    auto name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    auto pid = std::stoi(name);
    std::ifstream env(e.path() / "environ"), cmd(e.path() / "cmdline");
    std::string text((std::istreambuf_iterator<char>(env)), {});
    text += std::string((std::istreambuf_iterator<char>(cmd)), {});
    for (auto& sec : secrets)
      if (text.find(sec) != std::string::npos)
        CHECK_MESSAGE((pid == m.s->pid() || pid == broker || pid == m.idp.pid()), "pid " << pid << " holds a secret");
  }
  auto log = m.s->log();
  for (auto& sec : secrets) CHECK_MESSAGE(log.find(sec) == std::string::npos, "the log holds a secret");
}

}  // namespace

TEST_CASE("Gmail in agent turns: search, read with the attachment, answer in the thread; a refused token refreshed once; "
          "Denied without a grant; the send witnessed; secrets only in the broker") {
  weft::tools::email::mime_init();
  mail_stack m("gmail");

  auto r1 = m.turn("main", "g1", json::array({call("email_search", {{"account", "m"}, {"subject", "report"}}), {{"text", "Found."}}}));
  CHECK(r1.tool_calls == 1);
  auto id = m.found_id();
  REQUIRE_MESSAGE(!id.empty(), m.bodies().back().substr(0, 2000));
  CHECK(m.bodies().back().find("Quarterly report") != std::string::npos);

  auto r2 = m.turn("main", "g2",
                   json::array({call("email_read", {{"account", "m"}, {"id", id}}),
                                call("email_attachment", {{"account", "m"}, {"id", id}, {"part", 2}}),
                                call("email_reply", {{"account", "m"}, {"id", id}, {"body", "Thanks, Bob."}, {"send", true}}),
                                {{"text", "Answered."}}}));
  CHECK(r2.tool_calls == 3);
  auto seen = m.bodies().back();
  CHECK(seen.find("the numbers are attached") != std::string::npos);
  CHECK(seen.find("Q4,1234567") != std::string::npos);  // the CSV part, as text
  CHECK(seen.find("sent <") != std::string::npos);
  auto sent = json::parse(m.api.get("/_sent?api=gmail").body);
  REQUIRE(sent.size() == 1);
  auto answer = weft::tools::email::parse(sent[0].get<std::string>());
  REQUIRE(answer);
  CHECK(answer->subject == "Re: Quarterly report");
  CHECK(answer->in_reply_to == "report-1@example.test");
  CHECK(answer->to == std::vector<std::string>{"Bob <bob@example.test>"});

  // The API stops taking the token: one 401, one refresh at the IdP, the call retried.
  auto before = m.refreshes();
  REQUIRE(m.api.post("/_reject_all", "{}").status == 200);
  auto r3 = m.turn("main", "g3", json::array({call("email_search", {{"account", "m"}}), {{"text", "Listed."}}}));
  CHECK(r3.tool_calls == 1);
  CHECK(m.refreshes() == before + 1);
  auto calls = json::parse(m.api.get("/_requests").body);
  std::size_t refused = 0, at = 0;
  for (std::size_t i = 0; i < calls.size(); ++i)
    if (calls[i]["status"] == 401) ++refused, at = i;
  CHECK(refused == 1);
  REQUIRE(at + 1 < calls.size());
  CHECK(calls[at + 1]["status"] == 200);
  CHECK(calls[at + 1]["path"] == calls[at]["path"]);
  CHECK(m.bodies().back().find("Quarterly report") != std::string::npos);

  // Agent other: the account lists it, [oauth2.grants] does not — Denied, and no API call made.
  auto api_calls = json::parse(m.api.get("/_requests").body).size();
  auto r4 = m.turn("other", "x1", json::array({call("email_search", {{"account", "m"}}), {{"text", "No."}}}));
  CHECK(r4.tool_calls == 1);
  CHECK(m.bodies().back().find("io.weft.Tool.v1.Denied") != std::string::npos);
  CHECK(json::parse(m.api.get("/_requests").body).size() == api_calls);

  // Filing: a label by name, then moved under it (Gmail: INBOX taken off).
  auto r5 = m.turn("main", "g5",
                   json::array({call("email_label", {{"account", "m"}, {"id", id}, {"add", {"STARRED"}}}),
                                call("email_move", {{"account", "m"}, {"id", id}, {"folder", "Receipts"}}),
                                {{"text", "Filed."}}}));
  CHECK(r5.tool_calls == 2);
  auto stored = json::parse(m.api.get("/_store?api=gmail").body)[id];
  CHECK(stored["labels"] == json({"Label_1", "STARRED"}));

  // The witness chain has the message sent, by agent main, to Bob.
  std::string audit;
  for (auto until = std::chrono::steady_clock::now() + 30s; std::chrono::steady_clock::now() < until;) {
    auto shown = m.s->weftctl({"--json", "audit", "show", "--last", "100", "--dir", m.s->dir() + "/home/audit"});
    audit = shown.out + shown.err;
    if (audit.find("mail_sent") != std::string::npos) break;
    std::this_thread::sleep_for(100ms);
  }
  CAPTURE(audit);
  CHECK(audit.find("mail_sent") != std::string::npos);
  CHECK(audit.find("bob@example.test") != std::string::npos);
  CHECK(audit.find("Thanks, Bob") == std::string::npos);  // names the message, not its words
  secrets_stay_in_the_broker(m);
}

TEST_CASE("Microsoft Graph mail in agent turns: search, read, send with a Bcc, label and move") {
  weft::tools::email::mime_init();
  mail_stack m("graph");
  auto r1 = m.turn("main", "o1", json::array({call("email_search", {{"account", "m"}, {"from", "bob"}}), {{"text", "Found."}}}));
  CHECK(r1.tool_calls == 1);
  auto id = m.found_id();
  REQUIRE_MESSAGE(!id.empty(), m.bodies().back().substr(0, 2000));
  auto r2 = m.turn("main", "o2",
                   json::array({call("email_read", {{"account", "m"}, {"id", id}}),
                                call("email_send", {{"account", "m"}, {"to", {"carol@example.test"}}, {"bcc", {"dave@example.test"}},
                                                    {"subject", "Numbers"}, {"body", "See Bob's report."}}),
                                call("email_label", {{"account", "m"}, {"id", id}, {"add", {"Finance"}}}),
                                call("email_move", {{"account", "m"}, {"id", id}, {"folder", "archive"}}),
                                call("email_search", {{"account", "m"}, {"folder", "archive"}}),
                                {{"text", "Done."}}}));
  CHECK(r2.tool_calls == 5);
  auto seen = m.bodies().back();
  CHECK(seen.find("the numbers are attached") != std::string::npos);
  CHECK(seen.find("Finance") != std::string::npos);
  CHECK(seen.find("Quarterly report") != std::string::npos);  // now in the archive
  auto sent = json::parse(m.api.get("/_sent?api=graph").body);
  REQUIRE(sent.size() == 1);
  auto msg = weft::tools::email::parse(sent[0].get<std::string>());
  REQUIRE(msg);
  CHECK(msg->subject == "Numbers");
  CHECK(msg->from == "Alice <alice@example.test>");
  CHECK(msg->bcc == std::vector<std::string>{"dave@example.test"});  // Graph reads recipients from the headers
  // What the API holds now: the category set, the message in the archive.
  auto stored = json::parse(m.api.get("/_store?api=graph").body)[id];
  CHECK(stored["categories"] == json({"Finance"}));
  CHECK(stored["folder"] == "AAMkArchive");
  secrets_stay_in_the_broker(m);
}

TEST_CASE("IMAP and SMTP with XOAUTH2 in agent turns: tokens from the broker, checked by dovecot at the identity provider; "
          "an expired one refreshed once and the call retried") {
  weft::tools::email::mime_init();
  test::fake_peer idp{"fake_idp.py", {"--client-secret", "cs-very-secret", "--interval", "1", "--pending", "0", "--user",
                                      "alice@example.test"}};
  test::fake_peer llm{"fake_llm.py"};
  test::dovecot imap({{"bob@example.test", "bobpw"}}, idp.url() + "/userinfo");
  REQUIRE_MESSAGE(imap.up, "dovecot did not start (tools/dev setup installs Debian's dovecot-imapd)");
  test::smtp_server smtp("unused", "unused");
  REQUIRE(smtp.up);
  imap.deliver("bob@example.test", "bobpw", "INBOX", "From: bob@example.test\r\nTo: alice@example.test\r\nSubject: x\r\n\r\nx\r\n");
  auto u = idp.url() + "/google";
  auto config = fmt::format(
      "[providers.fake]\nstyle = \"openai\"\nbase_url = \"{url}/v1\"\nmodel = \"fake-model\"\n\n"
      "[llm]\ndefault_provider = \"fake\"\nretries = 0\n\n[memory]\nenabled = false\n\n"
      "[agents.main]\nmax_iterations = 8\ntool_timeout_ms = 20000\n[agents.main.tools]\nfamilies = [\"email\"]\n\n"
      "[oauth2.providers.google]\nclient_id = \"weft-test-client\"\nclient_secret = \"cs-very-secret\"\n"
      "auth_url = \"{u}/o/oauth2/v2/auth\"\ntoken_url = \"{u}/token\"\ndevice_url = \"{u}/device/code\"\n"
      "[oauth2.grants.main]\nwork = [\"mail\"]\n\n"
      "[tools.email.accounts.m]\nimap_url = \"{imap}\"\nsmtp_url = \"{smtp}\"\nusername = \"alice@example.test\"\n"
      "oauth2_account = \"work\"\naddress = \"Alice <alice@example.test>\"\nagents = [\"main\"]\nsenders = [\"main\"]\n",
      fmt::arg("url", llm.url()), fmt::arg("u", u), fmt::arg("imap", imap.url()), fmt::arg("smtp", smtp.url()));
  auto s = test::stack::start(config);
  REQUIRE(s);
  auto b = s->bus_client();
  test::device_login(*b, "google", "work", {"mail"});
  std::vector<std::string> deltas;
  auto turn = [&](const std::string& id, json steps) {
    REQUIRE(llm.post("/_script", steps.dump()).status == 200);
    return test::streamed_turn(*b, "main", test::web_turn(id, id, "mail please"), deltas);
  };
  auto bodies = [&] {
    std::vector<std::string> out;
    for (auto& q : json::parse(llm.get("/_requests").body)) out.push_back(q["body"].dump());
    return out;
  };
  auto lookups = [&] { return json::parse(idp.get("/_userinfo").body); };

  // A draft in alice's Drafts: dovecot let the broker's token in, having asked the IdP.
  auto r1 = turn("x1", json::array({call("email_draft", {{"account", "m"}, {"to", {"bob@example.test"}}, {"subject", "Plan"},
                                                         {"body", "Draft one."}}),
                                    call("email_search", {{"account", "m"}, {"folder", "Drafts"}}),
                                    {{"text", "Drafted."}}}));
  CHECK(r1.tool_calls == 2);
  CHECK(bodies().back().find("Plan") != std::string::npos);
  auto first = lookups();
  REQUIRE(!first.empty());
  for (auto& l : first) CHECK(l["live"] == true);
  auto dlog = imap.log();
  bool logged_in = dlog.find("user=<alice@example.test>") != std::string::npos;
  CHECK_MESSAGE(logged_in, dlog);

  // Every access token expires: dovecot's lookup says 401, tool-email names the refused token,
  // the broker refreshes once, the login is tried again and the send goes out over SMTP.
  auto refreshes = [&] {
    int n = 0;
    for (auto& q : json::parse(idp.get("/_requests").body))
      if (q["form"].value("grant_type", "") == "refresh_token") ++n;
    return n;
  };
  auto before = refreshes();
  REQUIRE(idp.post("/_expire", "{}").status == 200);
  auto r2 = turn("x2", json::array({call("email_search", {{"account", "m"}, {"folder", "Drafts"}}),
                                    call("email_send", {{"account", "m"}, {"to", {"bob@example.test"}}, {"subject", "Sent"},
                                                        {"body", "Hello Bob."}}),
                                    {{"text", "Sent."}}}));
  CHECK(r2.tool_calls == 2);
  CHECK(refreshes() == before + 1);
  auto after = lookups();
  std::size_t refused = 0;
  for (std::size_t i = first.size(); i < after.size(); ++i)
    if (after[i]["live"] == false) ++refused;
  CHECK(refused == 1);
  CHECK(bodies().back().find("Plan") != std::string::npos);
  auto got = smtp.received();
  REQUIRE(got.size() == 1);
  CHECK(json::parse(got[0].second)["login"] == "alice@example.test");
  CHECK(bodies().back().find("sent <") != std::string::npos);
}
