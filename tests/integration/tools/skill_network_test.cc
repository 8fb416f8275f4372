// Issue 19 item 4: a skill's network list, applied to the shell commands run for it. A real
// stack (weftd, bus, egress, the agent's shell tool in its sandbox) with network = "public";
// two HTTP servers of the test on 127.0.0.1: A, which the shared skill `fetcher` lists, and
// B, which nothing lists. Commands run for `fetcher` (named by exec's `skill`, or by naming
// the skill's folder) reach A through the skill's own lane and are refused B by the egress;
// they cannot connect to the agent's own relay (Landlock network rules). The same GET
// without the skill goes through the agent's lane, where loopback is refused. A workspace
// skill cannot declare a loopback address. Where the kernel has no Landlock network rules,
// a skill's commands are refused with that reason (checked instead).
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <weft/base/fd.hh>
#include <weft/sandbox/sandbox.hh>

#include "proto/tool_v1.hh"
#include "tests/integration/harness.hh"
#include "tests/http_target.hh"
#include "tests/tcp_listener.hh"

using namespace weft;
using namespace std::chrono_literals;
namespace tool = weft::proto::tool_v1;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

ipc::call_options once() {
  ipc::call_options o;
  o.timeout = 60s;
  o.attempt_timeout = 60s;
  o.retry = false;
  return o;
}

tool::result exec(ipc::bus_client& b, json args) {
  args["timeout_ms"] = 60000;
  auto r = b.call("tool/shell/a/exec", tool::call{"exec", args.dump(), "call-1", 60000}, once());
  REQUIRE_MESSAGE(bool(r), (r ? "" : r.err().to_string()));
  auto res = r->as<tool::result>();
  REQUIRE(res);
  return *res;
}

/// net_probe.py's line for `target`: the outcome.
std::string outcome(const std::string& out, const std::string& target) {
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(target + " ", 0) == 0) return line.substr(target.size() + 1);
  return "(no line for " + target + ")";
}

void skill_at(const fs::path& dir, const std::string& name, const std::string& network) {
  fs::create_directories(dir / name);
  std::ofstream(dir / name / "SKILL.md") << "---\nname: " << name << "\ndescription: test skill\nnetwork: " << network
                                         << "\n---\nRun net_probe.py.\n";
  fs::copy_file(std::string(WEFT_SOURCE_ROOT) + "/tests/integration/tools/net_probe.py", dir / name / "net_probe.py");
}

}  // namespace

TEST_CASE("a skill's network list: its commands reach only its hosts, through its own lane") {
  char tmpl[] = "/tmp/weft-skill-net-XXXXXX";
  REQUIRE(::mkdtemp(tmpl));
  fs::path ws = tmpl;
  fs::path home = ws.string() + "-home";
  test::http_target listed("from the listed host"), unlisted("you should not see this");
  skill_at(home / "skills", "fetcher", fmt::format("[\"127.0.0.1:{}\"]", listed.l.port));
  skill_at(ws / "skills", "mine", fmt::format("[\"127.0.0.1:{}\"]", listed.l.port));  // a workspace skill: dropped
  fs::copy_file(std::string(WEFT_SOURCE_ROOT) + "/tests/integration/tools/net_probe.py", ws / "net_probe.py");
  auto config = fmt::format(
      "[weft]\nhome = \"{home}\"\n\n"
      "[agents.a]\nworkspace = \"{ws}\"\n[agents.a.tools]\nfamilies = [\"shell\"]\nnetwork = \"public\"\n\n"
      "[services.agent-a]\nexec = \"/bin/true\"\naddress = \"agent/a\"\nenabled = false\n\n"
      "[services.llm]\nexec = \"/bin/true\"\nenabled = false\n\n"
      "[services.router]\nexec = \"/bin/true\"\nenabled = false\n",
      fmt::arg("ws", ws.string()), fmt::arg("home", home.string()));
  auto s = test::stack::start(config);
  REQUIRE(s);
  auto b = s->bus_client();
  CAPTURE(s->log());
  auto a_url = fmt::format("http://127.0.0.1:{}/", listed.l.port);
  auto b_url = fmt::format("http://127.0.0.1:{}/", unlisted.l.port);

  if (sandbox::landlock_abi() < 4) {
    auto r = exec(*b, {{"command", "/usr/bin/python3 net_probe.py get " + a_url}, {"skill", "fetcher"}});
    CHECK(r.is_error);
    CHECK(r.content.find("its network list cannot be enforced here") != std::string::npos);
    MESSAGE("skipped: Landlock ABI " << sandbox::landlock_abi() << " has no network rules; a skill's commands are refused");
    return;
  }

  // Named by `skill`: A through the skill's lane; B refused by the egress with the reason.
  auto got = exec(*b, {{"command", "/usr/bin/python3 net_probe.py get " + a_url + " " + b_url}, {"skill", "fetcher"}});
  CAPTURE(got.content);
  CHECK(outcome(got.content, a_url) == "200 from the listed host");
  CHECK(outcome(got.content, b_url) ==
        fmt::format("403 weft egress: port {} of '127.0.0.1' is not on the network list (allowed: {})", unlisted.l.port,
                    listed.l.port));
  // Its TCP connects: its own relay only — not the agent's (3128), where loopback would be
  // refused but every public host allowed.
  auto direct = exec(*b, {{"command", "/usr/bin/python3 net_probe.py direct 3128 3140"}, {"skill", "fetcher"}});
  CAPTURE(direct.content);
  CHECK(outcome(direct.content, "3128") == "errno13");
  CHECK(outcome(direct.content, "3140") == "connected");

  // Named by its folder: the same lane.
  auto by_folder = exec(*b, {{"command", "/usr/bin/python3 " + (home / "skills" / "fetcher" / "net_probe.py").string() +
                                             " get " + a_url + " " + b_url}});
  CAPTURE(by_folder.content);
  CHECK(outcome(by_folder.content, a_url) == "200 from the listed host");
  CHECK(outcome(by_folder.content, b_url).rfind("403 weft egress: port ", 0) == 0);

  // Not for a skill: the agent's lane, where loopback is refused; 3128 is reachable there.
  auto plain = exec(*b, {{"command", "/usr/bin/python3 net_probe.py get " + a_url}});
  CHECK(outcome(plain.content, a_url) == "403 weft egress: 127.0.0.1 is loopback");
  auto plain_direct = exec(*b, {{"command", "/usr/bin/python3 net_probe.py direct 3128"}});
  CHECK(outcome(plain_direct.content, "3128") == "connected");

  // A workspace skill cannot declare a loopback address: its list is empty, nothing passes.
  auto mine = exec(*b, {{"command", "/usr/bin/python3 net_probe.py get " + a_url}, {"skill", "mine"}});
  CAPTURE(mine.content);
  CHECK(outcome(mine.content, a_url) == "403 weft egress: '127.0.0.1' is not on the network list");
  CHECK(s->log().find("which a skill in the workspace may not declare: dropped") != std::string::npos);

  // Two things a caller can get wrong.
  auto unknown = b->call("tool/shell/a/exec", tool::call{"exec", json{{"command", "true"}, {"skill", "nope"}}.dump(), "c", 0}, once());
  REQUIRE(!unknown);
  CHECK(unknown.err().message.find("no skill 'nope'") != std::string::npos);

  CHECK(listed.hits == 2);
  CHECK(unlisted.hits == 0);
  fs::remove_all(ws);
  fs::remove_all(home);
}
