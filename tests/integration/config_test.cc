// Bad config files: weftd exits 2 with file:line:column and starts nothing.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "harness.hh"

using namespace weft;
namespace fs = std::filesystem;

namespace {

struct bad_case {
  const char* what;
  std::string text;
  std::string location;  // expected "clawft.toml:L:C"
  std::string words;     // a phrase the message must contain
};

}  // namespace

TEST_CASE("bad config files: exit 2, file:line:column, nothing started") {
  std::vector<bad_case> cases = {
      {"syntax error", "[bus]\nmax_message_bytes = = 3\n", "clawft.toml:2:", "error"},
      {"unknown key", "[bus]\nmax_msg_bytes = 1024\n", "clawft.toml:2:1", "unknown key 'max_msg_bytes'"},
      {"wrong type", "[bus]\nmax_message_bytes = \"big\"\n", "clawft.toml:2:21", "must be an integer"},
      {"missing required value", "[services.echo-1]\naddress = \"echo/1\"\n", "clawft.toml:1:1",
       "missing required key 'exec'"},
  };
  for (auto& c : cases) {
    INFO("case: ", c.what);
    char tmpl[] = "/tmp/weft-badcfg-XXXXXX";
    REQUIRE(::mkdtemp(tmpl));
    std::string dir = tmpl;
    auto path = dir + "/clawft.toml";
    std::ofstream(path) << c.text;
    auto runtime = dir + "/run";
    auto r = test::run({test::build_path("services/weftd/weftd"), "--config", path, "--runtime-dir", runtime});
    CHECK(r.exit_code == 2);
    CHECK_MESSAGE(r.err.find(path.substr(0, path.size() - 11) + c.location) != std::string::npos, r.err);
    CHECK_MESSAGE(r.err.find(c.words) != std::string::npos, r.err);
    CHECK_FALSE(fs::exists(runtime + "/control"));
    CHECK_FALSE(fs::exists(runtime + "/bus"));

    auto check = test::run({test::build_path("tools/weftctl/weftctl"), "config", "check", path});
    CHECK(check.exit_code == 2);
    CHECK(check.err.find(c.location) != std::string::npos);
    fs::remove_all(dir);
  }
}

TEST_CASE("a valid config checks OK without starting anything") {
  char tmpl[] = "/tmp/weft-goodcfg-XXXXXX";
  REQUIRE(::mkdtemp(tmpl));
  std::string dir = tmpl;
  std::ofstream(dir + "/clawft.toml") << test::echo_services(2);
  auto r = test::run({test::build_path("tools/weftctl/weftctl"), "config", "check", dir + "/clawft.toml"});
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.out.find("OK") != std::string::npos);
  auto w = test::run({test::build_path("services/weftd/weftd"), "--check", "--config", dir + "/clawft.toml"});
  CHECK(w.exit_code == 0);
  fs::remove_all(dir);
}

TEST_CASE("usage errors exit 2 with a hint") {
  auto r = test::run({test::build_path("tools/weftctl/weftctl"), "frobnicate"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("unknown command 'frobnicate'") != std::string::npos);
  CHECK(r.err.find("--help") != std::string::npos);
  auto w = test::run({test::build_path("services/weftd/weftd"), "--bogus"});
  CHECK(w.exit_code == 2);
  auto h = test::run({test::build_path("tools/weftctl/weftctl"), "--help"});
  CHECK(h.exit_code == 0);
  CHECK(h.out.find("config check") != std::string::npos);
  auto down = test::run({test::build_path("tools/weftctl/weftctl"), "--runtime-dir", "/tmp/weft-nothing-here", "status"});
  CHECK(down.exit_code == 1);
  CHECK(down.err.find("is weftd running?") != std::string::npos);
}
