// Issue 23 item 1: `meson install --destdir` puts weft where docs/install.md says, and weftd
// started from that tree — not the build tree — runs the installed service executables,
// brings up the default stack and answers a turn (scripted fake LLM). The tree is
// relocatable: weftd finds its services at <its dir>/../libexec/weft.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tests/integration/fake_peer.hh"
#include "tests/integration/harness.hh"
#include "tests/integration/turn_client.hh"

using namespace weft;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
using json = nlohmann::json;

TEST_CASE("meson install --destdir: the documented tree, and weftd from it answers a turn") {
  char tmpl[] = "/tmp/weft-install-XXXXXX";
  REQUIRE(::mkdtemp(tmpl));
  fs::path dest = tmpl;
  auto inst = test::run({WEFT_TEST_MESON, "install", "-C", test::build_path(""), "--destdir", dest.string(), "--no-rebuild",
                         "--quiet"},
                        300s);
  REQUIRE_MESSAGE(inst.exit_code == 0, (inst.out + inst.err));
  fs::path prefix = dest / fs::path(WEFT_TEST_PREFIX).relative_path();
  auto bin = prefix / WEFT_TEST_BINDIR, libexec = prefix / WEFT_TEST_LIBEXECDIR / "weft";

  // The tree (docs/install.md, "What goes where").
  for (auto p : {bin / "weftd", bin / "weftctl", libexec / "bus", libexec / "weft-agent", libexec / "weft-llm",
                 libexec / "weft-router", libexec / "weft-memory", libexec / "weft-tool-fs", libexec / "weft-tool-shell",
                 libexec / "weft-tool-web", libexec / "weft-chan-web", libexec / "weft-egress", libexec / "weft-plugin-host",
                 prefix / "lib/systemd/system/weftd.service", prefix / WEFT_TEST_DATADIR / "weft/sdk/c/weft_plugin.h"})
    CHECK_MESSAGE(fs::exists(p), p.string() << " is missing");
  CHECK(fs::is_symlink(bin / "weft"));
  CHECK(fs::read_symlink(bin / "weft") == "weftctl");
  // The unit starts the installed weftd.
  std::ifstream unit(prefix / "lib/systemd/system/weftd.service");
  std::string text((std::istreambuf_iterator<char>(unit)), {});
  CHECK(text.find("ExecStart=" + (fs::path(WEFT_TEST_PREFIX) / WEFT_TEST_BINDIR / "weftd").string()) != std::string::npos);
  auto version = test::run({(bin / "weft").string(), "--version"});
  CHECK(version.exit_code == 0);
  CHECK(version.out.find("weft") != std::string::npos);

  // The installed weftd, on the default stack with the fake model.
  test::fake_peer llm("fake_llm.py");
  auto ws = dest / "ws";
  fs::create_directories(ws);
  auto config = fmt::format(
      "[providers.fake]\nstyle = \"openai\"\nbase_url = \"{url}/v1\"\nmodel = \"fake-model\"\n\n"
      "[llm]\ndefault_provider = \"fake\"\nretries = 0\n\n"
      "[agents.main]\nworkspace = \"{ws}\"\n",
      fmt::arg("url", llm.url()), fmt::arg("ws", ws.string()));
  auto s = test::stack::start(config, /*wait_ready=*/true, (bin / "weftd").string());
  REQUIRE(s);
  // Every service it runs is an installed executable.
  for (auto name : {"bus", "llm", "router", "agent-main", "memory", "tool-fs-main"}) {
    auto pid = s->service_pid(name);
    REQUIRE_MESSAGE(pid > 0, name);
    auto exe = fs::read_symlink(fmt::format("/proc/{}/exe", pid));
    CHECK_MESSAGE(exe.string().rfind(libexec.string(), 0) == 0, name << " runs " << exe.string());
  }
  REQUIRE(llm.post("/_script", json::array({{{"text", "Hello from the installed tree."}}}).dump()).status == 200);
  auto b = s->bus_client();
  std::vector<std::string> deltas;
  auto r = test::streamed_turn(*b, "main", test::web_turn("i1", "i1", "hi"), deltas);
  CHECK(r.reply.parts.at(0).text.value_or("") == "Hello from the installed tree.");
  b.reset();  // its socket belongs to the stack's context
  s.reset();
  fs::remove_all(dest);
}
