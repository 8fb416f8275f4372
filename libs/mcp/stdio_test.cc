#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <weft/mcp/jsonrpc.hh>
#include <weft/mcp/stdio.hh>

using namespace weft::mcp;

namespace {
std::vector<std::string> drain(line_reader& r) {
  std::vector<std::string> out;
  while (auto l = r.next()) out.push_back(*l ? **l : "ERR:" + l->err().message);
  return out;
}
}  // namespace

TEST_CASE("stdio: lines split across reads, several per read, CRLF and blank lines") {
  line_reader r(1024);
  r.feed(R"({"jsonrpc":"2.0",)");
  CHECK_FALSE(r.next());
  CHECK(r.partial_bytes() == 17);
  r.feed("\"id\":1,\"method\":\"ping\"}\n{\"a\"");
  auto lines = drain(r);
  REQUIRE(lines.size() == 1);
  CHECK(parse(lines[0]));
  r.feed(":1}\r\n\n\n{\"b\":2}\n{\"c\"");
  CHECK(drain(r) == std::vector<std::string>{"{\"a\":1}", "{\"b\":2}"});
  // Byte by byte.
  for (char c : std::string_view(":3}\n")) r.feed(std::string_view(&c, 1));
  CHECK(drain(r) == std::vector<std::string>{"{\"c\":3}"});
}

TEST_CASE("stdio: an over-long line is dropped with one error and the stream resynchronises") {
  line_reader r(16);
  r.feed("{\"ok\":1}\n");
  r.feed(std::string(10, 'x'));
  r.feed(std::string(10, 'y'));  // now over the limit: buffered bytes are released
  CHECK(r.partial_bytes() == 20);
  for (int i = 0; i < 100; ++i) r.feed(std::string(1000, 'z'));  // keeps streaming, nothing kept
  r.feed("zz\n{\"ok\":2}\n");
  auto lines = drain(r);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0] == "{\"ok\":1}");
  CHECK(lines[1].rfind("ERR:", 0) == 0);
  CHECK(lines[1].find("line of 100022 bytes exceeds the limit of 16 bytes") != std::string::npos);
  CHECK(lines[2] == "{\"ok\":2}");
  // Exactly at the limit is fine; one byte more is not.
  r.feed(std::string(16, 'a') + "\n" + std::string(17, 'b') + "\n");
  lines = drain(r);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] == std::string(16, 'a'));
  CHECK(lines[1].rfind("ERR:", 0) == 0);
}

TEST_CASE("stdio: frame refuses a raw newline; writes and reads through a pipe") {
  CHECK_FALSE(frame("{\"a\":\n1}"));
  auto text = serialize(notification{"notifications/message", {{"data", "two\nlines"}}});
  auto f = frame(text);
  REQUIRE(f);
  CHECK(f->back() == '\n');
  CHECK(f->find('\n') == f->size() - 1);

  int fds[2];
  REQUIRE(::pipe2(fds, O_NONBLOCK) == 0);
  REQUIRE(write_all(fds[1], *f));
  REQUIRE(write_all(fds[1], *frame(serialize(request{std::int64_t{1}, "ping", nullptr}))));
  ::close(fds[1]);
  line_reader r(1 << 20);
  for (;;) {
    auto more = r.read_from(fds[0]);
    REQUIRE(more);
    if (!*more) break;
  }
  ::close(fds[0]);
  auto lines = drain(r);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] == text);
  auto m = parse(lines[0]);
  REQUIRE(m);
  CHECK(std::get<notification>(*m).params["data"] == "two\nlines");
  CHECK(r.read_from(-1).err().code == "Io");
}
