#include "pending_answers.hh"

#include <doctest/doctest.h>

using weft::ctl::pending_answers;

TEST_CASE("pending_answers: requests wait for their responses; notifications and client answers do not") {
  pending_answers p;
  p.sent(R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{}})");
  p.sent(R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
  p.sent(R"({"jsonrpc":"2.0","id":"two","method":"tools/list"})");
  p.sent(R"({"jsonrpc":"2.0","id":9,"result":{}})");  // the client answering a request of the server
  CHECK(p.size() == 2);
  p.answered(R"({"jsonrpc":"2.0","method":"notifications/tools/list_changed"})");
  p.answered(R"({"jsonrpc":"2.0","id":5,"method":"roots/list"})");  // a request of the server
  CHECK(p.size() == 2);
  p.answered(R"({"jsonrpc":"2.0","id":1,"result":{}})");
  CHECK(p.size() == 1);
  p.answered(R"({"jsonrpc":"2.0","id":1,"result":{}})");  // not awaited (any more): ignored
  p.answered(R"({"jsonrpc":"2.0","id":2,"result":{}})");  // 2 is not "two"
  CHECK(p.size() == 1);
  CHECK_FALSE(p.empty());
  p.answered(R"({"jsonrpc":"2.0","id":"two","error":{"code":-32601,"message":"no"}})");
  CHECK(p.empty());
}

TEST_CASE("pending_answers: lines the server answers with an error are awaited too, whatever id it gives") {
  pending_answers p;
  p.sent("{this is not json");                             // -32700 with id null
  p.sent(R"({"jsonrpc":"2.0","id":2})");                   // -32600, with id 2 or null
  p.sent(R"({"jsonrpc":"2.0","id":{},"method":"ping"})");  // an id that is no id
  p.sent(R"([])");                                         // -32600 with id null
  p.sent(R"(42)");                                         // -32600 with id null
  p.sent(R"({"jsonrpc":"2.0","id":7,"method":"ping"})");
  CHECK(p.size() == 6);
  p.answered(R"({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}})");
  p.answered(R"({"jsonrpc":"2.0","id":2,"error":{"code":-32600,"message":"Invalid request"}})");
  p.answered(R"({"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Invalid request"}})");
  CHECK(p.size() == 3);
  p.answered(R"({"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid request"}})");  // no id at all
  p.answered(R"({"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Invalid request"}})");
  CHECK(p.size() == 1);
  p.answered(R"({"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Invalid request"}})");  // one too many
  CHECK(p.size() == 1);  // the ping's answer is still awaited
  p.answered(R"({"jsonrpc":"2.0","id":7,"result":{}})");
  CHECK(p.empty());
}

TEST_CASE("pending_answers: a batch awaits one answer per request in it") {
  pending_answers p;
  p.sent(
      R"([{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"n"},{"jsonrpc":"2.0","id":2,"method":"ping"}])");
  CHECK(p.size() == 2);
  p.answered(R"([{"jsonrpc":"2.0","id":2,"result":{}},{"jsonrpc":"2.0","id":1,"result":{}}])");
  CHECK(p.empty());
}
