// `weftctl security scan --runtime` (and --fix for CFG-015) against a real weftd: what the
// status says about each process's sandbox, judged by the RT-* checks.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tests/integration/harness.hh"
#include "tests/temp_dir.hh"

using namespace weft;
using namespace std::chrono_literals;
using json = nlohmann::json;
namespace fs = std::filesystem;
namespace sv = weft::proto::supervisor_v1;

namespace {

/// One agent with the fs family: weftd derives tool-fs-main and sandboxes it. Everything
/// else that would need a model is off.
std::string base(const std::string& ws) {
  return fmt::format(
      "[supervisor]\nrestart_backoff_initial_ms = 50\n\n"
      "[providers]\n\n"
      "[agents.main]\nworkspace = \"{ws}\"\n[agents.main.tools]\nfamilies = [\"fs\"]\n\n"
      "[services.agent-main]\nexec = \"/bin/true\"\naddress = \"agent/main\"\nenabled = false\n\n"
      "[services.llm]\nexec = \"/bin/true\"\nenabled = false\n\n"
      "[services.router]\nexec = \"/bin/true\"\nenabled = false\n",
      fmt::arg("ws", ws));
}

/// The tool process declared by hand: weftd runs what the table says, without a sandbox.
std::string by_hand(const std::string& ws) {
  return fmt::format(
      "\n# the fs tool, run by hand\n[services.tool-fs-main]\nexec = \"{fs}\"\naddress = \"tool/fs/main\"\n"
      "env = {{ WEFT_AGENT = \"main\", WEFT_WORKSPACE = \"{ws}\" }}\n\n"
      "[services.notes]\nexec = \"/bin/true\"\nenabled = false\n",
      fmt::arg("fs", test::build_path("services/tool-fs/weft-tool-fs")), fmt::arg("ws", ws));
}

json status_json(test::stack& s) {
  auto r = s.weftctl({"--json", "status"});
  REQUIRE_MESSAGE(!r.out.empty(), r.err);
  return json::parse(r.out);
}

json service_of(const json& st, const std::string& name) {
  for (auto& x : st["services"])
    if (x["name"] == name) return x;
  return nullptr;
}

std::vector<std::string> ids(const json& scan) {
  std::vector<std::string> out;
  for (auto& f : scan["findings"]) out.push_back(f["id"]);
  return out;
}

/// The message of the first finding of `id`.
std::string message_of(const json& scan, const std::string& id) {
  for (auto& f : scan["findings"])
    if (f["id"] == id) return f["message"];
  return {};
}

bool has(const std::vector<std::string>& v, const std::string& x) { return std::find(v.begin(), v.end(), x) != v.end(); }

json runtime_scan(test::stack& s, int expect_rc, std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"--json", "security", "scan", "--runtime"};
  args.insert(args.end(), extra.begin(), extra.end());
  auto r = s.weftctl(args);
  INFO(r.out, r.err);
  CHECK(r.exit_code == expect_rc);
  REQUIRE(!r.out.empty());
  return json::parse(r.out);
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void append(const fs::path& p, const std::string& text) { std::ofstream(p, std::ios::app | std::ios::binary) << text; }

/// weftctl reload, then waits until weftd reports `name` ready again (watching from before
/// the reload, so the change cannot slip past).
void reload_and_wait(test::stack& s, const std::string& name) {
  auto c = s.control();
  REQUIRE(c->request(sv::watch{}));
  auto reloaded = s.weftctl({"reload"});
  REQUIRE_MESSAGE(reloaded.exit_code == 0, reloaded.err);
  REQUIRE_MESSAGE(s.wait_state(*c, name, sv::state::ready, 0, 30s), name << " did not come back after the reload");
}

}  // namespace

TEST_CASE("security scan --runtime: a derived stack runs its tool process sandboxed and reports nothing at high") {
  auto missing = test::missing_programs({"services/tool-fs/weft-tool-fs", "services/memory/weft-memory"});
  if (!missing.empty()) {
    MESSAGE("skipped: not built yet: " << missing);
    return;
  }
  test::temp_dir dir{"weft-security-runtime"};
  auto ws = (dir.path / "ws").string();
  auto s = test::stack::start(base(ws));  // READY: every service is

  // The status says how each process is confined: the tool process by its sandbox, the bus
  // (weftd's own) not at all.
  auto st = status_json(*s);
  auto tool = service_of(st, "tool-fs-main");
  REQUIRE(tool.is_object());
  auto sandbox = tool["sandbox"].get<std::string>();
  INFO(sandbox);
  CHECK(sandbox.rfind("landlock=", 0) == 0);
  CHECK(sandbox.find("seccomp=1") != std::string::npos);
  CHECK(sandbox.find("pids=") != std::string::npos);
  CHECK(service_of(st, "bus")["sandbox"] == "");
  auto text = s->weftctl({"status"});
  CHECK_MESSAGE(text.out.find("SANDBOX") != std::string::npos, text.out);
  CHECK_MESSAGE(text.out.find(sandbox) != std::string::npos, text.out);

  // Where the kernel gives every part of the sandbox (Landlock, seccomp, a network namespace),
  // nothing at all; where it cannot, the scan says which part is missing (RT-002, RT-003),
  // and nothing else.
  bool weaker_fs = sandbox.find("landlock=0") != std::string::npos || sandbox.find("seccomp=1") == std::string::npos;
  bool shared_net = sandbox.find("net=netns") == std::string::npos && sandbox.find("net=userns") == std::string::npos;
  std::vector<std::string> expected;
  if (weaker_fs) expected.push_back("RT-002");
  if (shared_net) expected.push_back("RT-003");
  if (!expected.empty()) MESSAGE("this kernel gives tool processes a weaker sandbox: " << sandbox);
  auto doc = runtime_scan(*s, expected.empty() ? 0 : 1);
  CHECK(doc["scanned"]["runtime"] == s->runtime());
  CHECK(doc["passed"] == expected.empty());
  auto found = ids(doc);
  std::sort(found.begin(), found.end());
  CHECK(found == expected);
  CHECK(!has(found, "RT-001"));

  // The file changed and not reloaded: RT-004 names what a reload would do; after the reload, gone.
  append(s->config_path(), "\n[services.notes]\nexec = \"/bin/true\"\nenabled = false\n");
  auto changed = runtime_scan(*s, 1, {"--severity", "medium"});
  REQUIRE(has(ids(changed), "RT-004"));
  for (auto& f : changed["findings"])
    if (f["id"] == "RT-004") {
      CHECK_MESSAGE(f["message"].get<std::string>().find("notes added") != std::string::npos, f.dump());
      CHECK(f["severity"] == "medium");
      CHECK(f["remediation"].get<std::string>().find("weftctl reload") != std::string::npos);
    }
  auto reloaded = s->weftctl({"reload"});
  REQUIRE_MESSAGE(reloaded.exit_code == 0, reloaded.err);
  CHECK(!has(ids(runtime_scan(*s, 0, {"--severity", "critical"})), "RT-004"));

  // An agent's tool policy edited and not reloaded: the bus, which enforces it, is what a
  // reload would restart.
  {
    auto text = slurp(s->config_path());
    auto at = text.find("families = [\"fs\"]\n");
    REQUIRE(at != std::string::npos);
    text.insert(at, "deny = [\"write_file\"]\n");
    std::ofstream(s->config_path(), std::ios::trunc | std::ios::binary) << text;
  }
  auto policy = runtime_scan(*s, 1, {"--severity", "medium"});
  REQUIRE(has(ids(policy), "RT-004"));
  CHECK_MESSAGE(message_of(policy, "RT-004").find("bus changed") != std::string::npos, policy.dump());
  reload_and_wait(*s, "bus");
  CHECK(!has(ids(runtime_scan(*s, 0, {"--severity", "critical"})), "RT-004"));

  // A config that no longer loads: RT-004 says a reload would fail.
  append(s->config_path(), "\n[agents.main]\nno_such_key = 1\n");
  auto broken = runtime_scan(*s, 0, {"--severity", "critical"});
  REQUIRE(has(ids(broken), "RT-004"));
  CHECK(message_of(broken, "RT-004").find("a reload would fail") != std::string::npos);
}

TEST_CASE("security scan --runtime: a hand-declared tool process runs unsandboxed (RT-001); --fix and a reload sandbox it") {
  auto missing = test::missing_programs({"services/tool-fs/weft-tool-fs", "services/memory/weft-memory"});
  if (!missing.empty()) {
    MESSAGE("skipped: not built yet: " << missing);
    return;
  }
  test::temp_dir dir{"weft-security-runtime-hand"};
  auto ws = (dir.path / "ws").string();
  auto s = test::stack::start(base(ws) + by_hand(ws));
  CHECK(service_of(status_json(*s), "tool-fs-main")["sandbox"] == "");

  auto doc = runtime_scan(*s, 1);
  CHECK(doc["passed"] == false);
  REQUIRE(has(ids(doc), "RT-001"));
  CHECK(doc["findings"][0]["id"] == "RT-001");
  CHECK(doc["findings"][0]["severity"] == "critical");
  CHECK_MESSAGE(doc["findings"][0]["message"].get<std::string>().find("tool-fs-main (pid ") != std::string::npos,
                doc.dump());
  // A plain scan includes the runtime checks when weftd answers.
  auto plain = s->weftctl({"--json", "security", "scan", "--config-file", s->config_path(), "--home", s->dir() + "/home"});
  CHECK(plain.exit_code == 1);
  auto plain_doc = json::parse(plain.out);
  CHECK(has(ids(plain_doc), "RT-001"));
  CHECK(has(ids(plain_doc), "CFG-015"));

  // --fix plans it (nothing written), --fix --yes comments the table out, every other byte kept.
  auto cfg = fs::path(s->config_path());
  auto before = slurp(cfg);
  std::vector<std::string> fix{"security", "scan", "--config", "--config-file", cfg.string(), "--home", s->dir() + "/home", "--fix"};
  auto dry = s->weftctl(fix);
  INFO(dry.out, dry.err);
  CHECK(dry.out.find("--fix (dry run; add --yes to make these changes)") != std::string::npos);
  CHECK(dry.out.find("CFG-015 " + cfg.string() + ": comment out [services.tool-fs-main]") != std::string::npos);
  CHECK(dry.out.find("    -[services.tool-fs-main]") != std::string::npos);
  CHECK(dry.out.find("    +# [services.tool-fs-main]") != std::string::npos);
  CHECK(slurp(cfg) == before);
  fix.push_back("--yes");
  auto applied = s->weftctl(fix);
  INFO(applied.out, applied.err);
  CHECK(applied.out.find("weftctl reload starts the sandboxed tool processes") != std::string::npos);
  CHECK(applied.out.find("CFG-015 ") == applied.out.find("CFG-015 " + cfg.string() + ": comment out"));  // no finding left
  auto after = slurp(cfg);
  auto table = fmt::format("[services.tool-fs-main]\nexec = \"{}\"\naddress = \"tool/fs/main\"\n"
                           "env = {{ WEFT_AGENT = \"main\", WEFT_WORKSPACE = \"{}\" }}\n",
                           test::build_path("services/tool-fs/weft-tool-fs"), ws);
  auto commented = fmt::format(
      "# weftctl security scan --fix (CFG-015): weftd derives tool-fs-main and sandboxes it; this table ran it "
      "without its sandbox\n# [services.tool-fs-main]\n# exec = \"{}\"\n# address = \"tool/fs/main\"\n"
      "# env = {{ WEFT_AGENT = \"main\", WEFT_WORKSPACE = \"{}\" }}\n",
      test::build_path("services/tool-fs/weft-tool-fs"), ws);
  auto at = before.find(table);
  REQUIRE(at != std::string::npos);
  CHECK(after == before.substr(0, at) + commented + before.substr(at + table.size()));
  auto clean = s->weftctl({"--json", "security", "scan", "--config", "--config-file", cfg.string(), "--home", s->dir() + "/home"});
  CHECK(!has(ids(json::parse(clean.out)), "CFG-015"));

  // Not reloaded yet: still unsandboxed, and the file says otherwise.
  auto pending = runtime_scan(*s, 1);
  CHECK(has(ids(pending), "RT-001"));
  CHECK(has(ids(pending), "RT-004"));

  reload_and_wait(*s, "tool-fs-main");
  auto sandbox = service_of(status_json(*s), "tool-fs-main")["sandbox"].get<std::string>();
  CHECK(sandbox.rfind("landlock=", 0) == 0);
  auto now = runtime_scan(*s, 0, {"--severity", "critical"});
  CHECK(!has(ids(now), "RT-001"));
  CHECK(!has(ids(now), "RT-004"));
}

TEST_CASE("security scan --runtime without weftd: an error, exit 1; a plain scan goes on without the runtime checks") {
  test::temp_dir dir{"weft-security-runtime-none"};
  auto weftctl = test::build_path("tools/weftctl/weftctl");
  auto none = (dir.path / "run").string();
  auto r = test::run({weftctl, "--runtime-dir", none, "--json", "security", "scan", "--runtime"});
  CHECK(r.exit_code == 1);
  auto doc = json::parse(r.out);
  CHECK(doc["scanned"]["runtime"] == "");
  REQUIRE(doc["errors"].size() == 1);
  CHECK_MESSAGE(doc["errors"][0].get<std::string>().rfind("Failed to ask weftd for the runtime checks: ", 0) == 0, doc.dump());
  auto text = test::run({weftctl, "--runtime-dir", none, "security", "scan", "--runtime"});
  CHECK(text.exit_code == 1);
  CHECK_MESSAGE(text.err.find("error: Failed to ask weftd for the runtime checks: ") != std::string::npos, text.err);
  // A plain scan of an empty home and a clean config: no runtime finding, no error for it.
  auto home = dir.path / "home";
  fs::create_directories(home);
  fs::permissions(home, fs::perms::owner_all, fs::perm_options::replace);
  auto cfg = dir.path / "clawft.toml";
  std::ofstream(cfg) << "[agents.main]\n";
  fs::permissions(cfg, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
  auto plain = test::run({weftctl, "--runtime-dir", none, "--json", "security", "scan", "--config-file", cfg.string(),
                          "--home", home.string()});
  INFO(plain.out, plain.err);
  auto pdoc = json::parse(plain.out);
  CHECK(pdoc["scanned"]["runtime"] == "");
  CHECK(pdoc["errors"].empty());
}
