#include <doctest/doctest.h>

#include "services/tool-email/imap_reply.hh"

using namespace weft::tools::email;

TEST_CASE("IMAP answers: LIST with special use, quoted names and \\Noselect; SEARCH; FETCH flags") {
  auto fs = list_folders(
      "* LIST (\\HasNoChildren \\Drafts) \".\" Drafts\r\n"
      "* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent Items\"\r\n"
      "* LIST (\\Noselect \\HasChildren) \"/\" \"[Gmail]\"\r\n"
      "* LIST (\\HasNoChildren) \".\" INBOX\r\n"
      "* LIST (\\HasNoChildren) \".\" \"Say \\\"hi\\\"\"\r\n"
      "* OK done\r\n");
  REQUIRE(fs.size() == 4);
  CHECK(fs[0].id == "Drafts");
  CHECK(fs[0].role == "drafts");
  CHECK(fs[1].id == "Sent Items");
  CHECK(fs[1].role == "sent");
  CHECK(fs[2].role == "inbox");
  CHECK(fs[3].id == "Say \"hi\"");

  CHECK(search_uids("* SEARCH 3 7 12\r\n") == std::vector<std::string>{"3", "7", "12"});
  CHECK(search_uids("* SEARCH\r\n").empty());
  // A server's junk is not passed on into the next command.
  CHECK(search_uids("* SEARCH 4 1:* (X) 99999999999 5\r\n") == std::vector<std::string>{"4", "5"});

  auto fl = fetch_flags("* 1 FETCH (UID 12 FLAGS (\\Seen work))\r\n* 2 FETCH (FLAGS () UID 13)\r\n* 3 FETCH (UID x)\r\n");
  REQUIRE(fl.size() == 2);
  CHECK(fl["12"] == std::vector<std::string>{"\\Seen", "work"});
  CHECK(fl["13"].empty());
  // Unbalanced and truncated lines read as far as they go.
  CHECK(fetch_flags("* 1 FETCH (UID 5 FLAGS (\\Seen").size() <= 1);
  CHECK(list_folders("* LIST (\\Drafts").empty());
}
