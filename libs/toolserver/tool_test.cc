// The pieces of libs/toolserver that need no bus: argument helpers, the cancel signal, the
// content limit. The server itself is tested over a real bus in tests/integration/toolserver.
#include <doctest/doctest.h>

#include <poll.h>

#include <weft/toolserver/tool_server.hh>

using namespace weft;
using namespace weft::tools;

namespace {
bool bad_arguments(const error& e) { return tool::is(e, tool::error_code::bad_arguments); }
bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, /*timeout_ms=*/0) == 1 && (p.revents & POLLIN);
}
}  // namespace

TEST_CASE("argument helpers: a missing or mistyped field is BadArguments naming it") {
  json args = {{"s", "text"}, {"n", 7}, {"neg", -1}, {"b", true}, {"nul", nullptr}};
  CHECK(*string_arg(args, "s") == "text");
  auto missing = string_arg(args, "absent");
  REQUIRE_FALSE(missing);
  CHECK(bad_arguments(missing.err()));
  CHECK(missing.err().message == "missing required argument 'absent'");
  CHECK(string_arg(args, "nul").err().message == "missing required argument 'nul'");
  CHECK(string_arg(args, "n").err().message == "argument 'n' must be a string");
  CHECK_FALSE(optional_string_arg(args, "absent")->has_value());
  CHECK(bad_arguments(optional_string_arg(args, "b").err()));
  CHECK(**optional_uint_arg(args, "n") == 7);
  CHECK(optional_uint_arg(args, "neg").err().message == "argument 'neg' must be a non-negative integer");
  CHECK(**optional_bool_arg(args, "b") == true);
  CHECK(optional_bool_arg(args, "s").err().message == "argument 's' must be true or false");
}

TEST_CASE("the cancel signal: flag and descriptor together, for every poller, once") {
  auto c = cancel_signal::create();
  REQUIRE(c);
  tool::call call{"exec", "{}", "", 0};
  auto ctx = (*c)->context(call);
  CHECK_FALSE(ctx.cancelled());
  CHECK_FALSE(readable(ctx.cancel_fd));
  (*c)->fire();
  (*c)->fire();
  CHECK(ctx.cancelled());
  CHECK(&ctx.call == &call);
  // Nobody reads it: it stays readable for each tool that polls it.
  CHECK(readable(ctx.cancel_fd));
  CHECK(readable(ctx.cancel_fd));
}

TEST_CASE("cut_to_limit cuts at a character boundary and says so") {
  tool::result r{"short", false, false};
  cut_to_limit(r, 10);
  CHECK(r.content == "short");
  CHECK_FALSE(r.truncated);
  // "ab" then "é" (2 bytes) then "c": a cut at 3 would split the é.
  r = tool::result{"ab\xc3\xa9" "c", false, false};
  cut_to_limit(r, 3);
  CHECK(r.truncated);
  CHECK(r.content == "ab\n[… result cut at 3 bytes]");
  r = tool::result{std::string(20, 'x'), true, false};
  cut_to_limit(r, 16);
  CHECK(r.content == std::string(16, 'x') + "\n[… result cut at 16 bytes]");
  CHECK(r.is_error);
}
