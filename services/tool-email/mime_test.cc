#include <doctest/doctest.h>

#include "services/tool-email/mime.hh"

using namespace weft::tools::email;

namespace {

struct init_once {
  init_once() { mime_init(); }
} init;

// A message as mail clients write them: alternative text and HTML, a PDF attached, a
// quoted-printable German subject line in RFC 2047, a thread.
const char* multipart =
    "From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <juergen@example.test>\r\n"
    "To: Alice <alice@example.test>, bob@example.test\r\n"
    "Cc: carol@example.test\r\n"
    "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?=\r\n"
    "Date: Mon, 07 Dec 2026 10:15:00 +0100\r\n"
    "Message-ID: <m2@example.test>\r\n"
    "In-Reply-To: <m1@example.test>\r\n"
    "References: <m0@example.test> <m1@example.test>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
    "\r\n"
    "--outer\r\n"
    "Content-Type: multipart/alternative; boundary=\"alt\"\r\n"
    "\r\n"
    "--alt\r\n"
    "Content-Type: text/plain; charset=iso-8859-1\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Hallo Alice, sch=F6ne Gr=FC=DFe.\r\n"
    "--alt\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "\r\n"
    "<p>Hallo Alice</p>\r\n"
    "--alt--\r\n"
    "--outer\r\n"
    "Content-Type: application/pdf; name=\"report.pdf\"\r\n"
    "Content-Disposition: attachment; filename=\"report.pdf\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "JVBERi0xLjQKJcfsj6IKNSAwIG9iago=\r\n"
    "--outer--\r\n";

}  // namespace

TEST_CASE("a multipart message: headers decoded, the text part chosen and converted, parts numbered") {
  auto m = parse(multipart);
  REQUIRE(m);
  CHECK(m->subject == "Grüße aus Köln");
  CHECK(m->from == "Jürgen Müller <juergen@example.test>");
  CHECK(m->to == std::vector<std::string>{"Alice <alice@example.test>", "bob@example.test"});
  CHECK(m->cc == std::vector<std::string>{"carol@example.test"});
  CHECK(m->message_id == "m2@example.test");
  CHECK(m->in_reply_to == "m1@example.test");
  CHECK(m->references == std::vector<std::string>{"m0@example.test", "m1@example.test"});
  CHECK(m->date == "2026-12-07T09:15:00Z");
  CHECK(m->text.find("schöne Grüße") != std::string::npos);  // Latin-1 quoted-printable → UTF-8
  REQUIRE(m->parts.size() == 3);
  CHECK(m->body_part == 1);
  CHECK(m->parts[1].content_type == "text/html");
  CHECK(m->parts[2].content_type == "application/pdf");
  CHECK(m->parts[2].filename == "report.pdf");
  CHECK(m->parts[2].attachment);
  CHECK_FALSE(m->parts[0].attachment);

  auto pdf = part(multipart, 3);
  REQUIRE(pdf);
  CHECK(pdf->bytes.rfind("%PDF-1.4", 0) == 0);  // base64 undone
  CHECK(pdf->info.size == pdf->bytes.size());
  CHECK_FALSE(part(multipart, 4));
  CHECK_FALSE(part(multipart, 0));
}

TEST_CASE("an HTML-only message is read as text without its markup or scripts") {
  std::string raw =
      "From: a@example.test\r\nTo: b@example.test\r\nSubject: html\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
      "<html><head><style>p{color:red}</style><script>alert(1)</script></head><body><p>One &amp; two</p><div>three&nbsp;"
      "four</div></body></html>\r\n";
  auto m = parse(raw);
  REQUIRE(m);
  CHECK(m->text == "One & two\nthree four");
  CHECK(html_text("<b>a</b>  <i>b</i>") == "a b");
}

TEST_CASE("compose: a UTF-8 message in a thread, that parses back to what was written") {
  outgoing o;
  o.from = "Alice <alice@example.test>";
  o.to = {"Jürgen <juergen@example.test>"};
  o.cc = {"carol@example.test"};
  o.bcc = {"secret@example.test"};
  o.subject = "Re: Grüße aus Köln";
  o.body = "Danke, Jürgen!\nBis bald.";
  o.in_reply_to = "m2@example.test";
  o.references = {"m0@example.test", "m1@example.test", "m2@example.test"};
  auto raw = compose(o);
  REQUIRE(raw);
  CHECK_FALSE(o.message_id.empty());
  CHECK(o.message_id.find("@example.test") != std::string::npos);
  CHECK(raw->find("secret@example.test") == std::string::npos);  // Bcc is the envelope's only
  CHECK(raw->find("\r\n") != std::string::npos);
  CHECK(raw->find("Jürgen") == std::string::npos);  // 8-bit text is encoded in the headers and body
  auto back = parse(*raw);
  REQUIRE(back);
  CHECK(back->subject == o.subject);
  CHECK(back->text.find("Danke, Jürgen!") != std::string::npos);
  CHECK(back->in_reply_to == "m2@example.test");
  CHECK(back->references == o.references);
  CHECK(back->message_id == o.message_id);
  CHECK(back->to == std::vector<std::string>{"Jürgen <juergen@example.test>"});
}

TEST_CASE("compose refuses what would break a message or its envelope") {
  outgoing o;
  o.from = "alice@example.test";
  o.body = "x";
  CHECK_FALSE(compose(o));  // no recipient
  o.to = {"not an address"};
  CHECK_FALSE(compose(o));
  o.to = {"bob@example.test"};
  o.subject = "one\r\nBcc: victim@example.test";
  CHECK_FALSE(compose(o));  // header injection through the subject
  o.subject = "ok";
  o.in_reply_to = "x>\r\nBcc: victim@example.test";
  CHECK_FALSE(compose(o));
  o.in_reply_to = "";
  CHECK(compose(o));
  auto a = addresses("Ann <ann@example.test>, bob@example.test");
  REQUIRE(a);
  CHECK(*a == std::vector<std::string>{"ann@example.test", "bob@example.test"});
  CHECK_FALSE(addresses("nobody"));
}

TEST_CASE("what is not a message at all, or barely one, is an error or an empty read, never a crash") {
  for (std::string raw : {std::string(), std::string("\r\n\r\n"), std::string("garbage without headers"),
                          std::string("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n--x\r\n"),
                          std::string("Content-Type: multipart/mixed\r\n\r\nno boundary")}) {
    auto m = parse(raw);
    if (m) CHECK(m->parts.size() <= 3);
  }
}

TEST_CASE("compose: a lone CR never reaches the wire, a NUL is refused, Bcc only when kept") {
  outgoing o;
  o.from = "alice@example.test";
  o.to = {"bob@example.test"};
  o.bcc = {"carol@example.test"};
  o.subject = "cr";
  o.body = "x\r.\r\ny\rz\n.\nend";
  auto raw = compose(o);
  REQUIRE(raw);
  for (std::size_t i = 0; i < raw->size(); ++i)
    if ((*raw)[i] == '\r') {
      bool crlf = i + 1 < raw->size() && (*raw)[i + 1] == '\n';
      CHECK_MESSAGE(crlf, "a lone CR at " << i);
    }
  CHECK(raw->find("carol@example.test") == std::string::npos);
  auto back = parse(*raw);
  REQUIRE(back);
  auto lf = back->text;
  std::erase(lf, '\r');
  CHECK(lf.find("x\n.\ny\nz\n.\nend") != std::string::npos);
  auto kept = compose(o, true);
  REQUIRE(kept);
  CHECK(kept->find("Bcc: carol@example.test") != std::string::npos);
  o.body = std::string("a\0b", 3);
  CHECK_FALSE(compose(o));
  // What an SMTP envelope must not carry, though RFC 5322 allows it in a quoted local part.
  CHECK_FALSE(addresses("\"x> NOTIFY=NEVER\"@y.example"));
  CHECK_FALSE(addresses("a b@example.test"));
}
