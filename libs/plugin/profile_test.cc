// Unit tests of the hardening profile (libs/plugin profile.cc): host functions granted as
// the intersection of asked and allowed (refusals with reasons), Landlock paths beneath the
// workspace only, memory to RLIMIT_AS, the network list only with http_fetch and a network
// policy, and the text `weftctl plugin explain` will print.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include <doctest/doctest.h>

#include <weft/plugin/profile.hh>

#include "tests/temp_dir.hh"

using namespace weft;
using namespace weft::plugin;
namespace fs = std::filesystem;

namespace {

manifest sample() {
  manifest m;
  m.name = "weather";
  m.version = "1.0.0";
  m.capabilities = {capability::tools, capability::voice};
  m.permissions.host_functions = {host_function::log, host_function::result, host_function::file_read,
                                  host_function::file_write, host_function::http_fetch, host_function::kv_put};
  m.permissions.files_read = {"data", "notes/today.md"};
  m.permissions.files_write = {"out"};
  m.permissions.network.hosts = {*parse_host_rule("api.weather.example")};
  m.permissions.limits.memory_mib = 100;
  m.permissions.limits.time_ms = 2500;
  m.permissions.env = {{"UNITS", "metric"}};
  return m;
}

const refusal* refused(const profile& p, std::string_view what) {
  for (auto& r : p.refused)
    if (r.what == what) return &r;
  return nullptr;
}

}  // namespace

TEST_CASE("profile: host functions asked but not granted are refused with a reason") {
  test::temp_dir ws("weft-ws");
  agent_policy pol{"main", ws.path.string(), /*network=*/true,
                   {host_function::log, host_function::result, host_function::file_read, host_function::http_fetch,
                    host_function::clock}};
  auto p = derive_profile(sample(), pol);
  REQUIRE(p);
  CHECK(p->granted == std::vector{host_function::log, host_function::result, host_function::file_read, host_function::http_fetch});
  CHECK_FALSE(p->grants(host_function::clock));  // granted by the admin, not asked for
  auto* w = refused(*p, "file_write");
  REQUIRE(w);
  CHECK(w->why == "the admin does not grant it to the plugins of agent 'main'");
  REQUIRE(refused(*p, "kv_put"));
  // file_write refused: its path is no Landlock rule.
  REQUIRE(refused(*p, "files.write 'out'"));
  CHECK(refused(*p, "files.write 'out'")->why == "file_write is not granted");
  CHECK(p->sandbox.read_write.empty());
  auto canon = fs::canonical(ws.path).string();
  CHECK(p->sandbox.read_only == std::vector<std::string>{canon + "/data", canon + "/notes/today.md"});
  CHECK(p->network.hosts.size() == 1);
}

TEST_CASE("profile: no network without the agent's network policy or hosts") {
  test::temp_dir ws("weft-ws");
  std::vector<host_function> all(host_function_names.size());
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<host_function>(i);
  auto p = derive_profile(sample(), {"main", ws.path.string(), /*network=*/false, all});
  REQUIRE(p);
  CHECK_FALSE(p->grants(host_function::http_fetch));
  REQUIRE(refused(*p, "http_fetch"));
  CHECK(refused(*p, "http_fetch")->why == "the tool policy of agent 'main' allows no network");
  CHECK(p->network.empty());
  REQUIRE(refused(*p, "network"));
  // Sockets are never the plugin's own, granted or not.
  CHECK(p->sandbox.deny_network);
  CHECK(p->sandbox.own_network);

  auto m = sample();
  m.permissions.network = {};
  auto q = derive_profile(m, {"main", ws.path.string(), /*network=*/true, all});
  REQUIRE(q);
  CHECK(refused(*q, "http_fetch")->why == "the manifest lists no network hosts");
  CHECK(q->sandbox.deny_network);
}

TEST_CASE("profile: paths beneath the workspace only") {
  test::temp_dir tmp("weft-ws");
  auto ws = tmp.path / "agents" / "main";
  fs::create_directories(ws / "data");
  fs::create_directories(tmp.path / "agents" / "other" / "secrets");
  fs::create_directories(tmp.path / "etc");
  // Symlinks inside the workspace that lead out of it, made by the test.
  fs::create_directory_symlink(tmp.path / "agents" / "other", ws / "link-other");
  fs::create_directory_symlink(tmp.path / "etc", ws / "out");
  fs::create_directory_symlink(ws / "data", ws / "data-link");  // leads within: fine

  std::vector<host_function> all(host_function_names.size());
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<host_function>(i);
  auto m = sample();
  m.permissions.files_read = {"data", "link-other/secrets", "data-link", "sessions"};
  m.permissions.files_write = {"out", "memory", ".", "SOUL.md", "skills/evil", "results"};
  auto p = derive_profile(m, {"main", ws.string(), true, all});
  REQUIRE(p);
  auto canon = fs::canonical(ws).string();
  CHECK(p->sandbox.read_only == std::vector<std::string>{canon + "/data", canon + "/sessions"});
  CHECK(p->sandbox.read_write == std::vector<std::string>{canon + "/results"});
  for (auto& path : p->sandbox.read_only) CHECK(path.rfind(canon + "/", 0) == 0);
  for (auto& path : p->sandbox.read_write) CHECK(path.rfind(canon + "/", 0) == 0);
  auto* other = refused(*p, "files.read 'link-other/secrets'");
  REQUIRE(other);
  CHECK(other->why == fmt::format("it leads out of the workspace (to '{}')",
                                  fs::canonical(tmp.path / "agents" / "other" / "secrets").string()));
  REQUIRE(refused(*p, "files.write 'out'"));
  CHECK(refused(*p, "files.write 'out'")->why.find("leads out of the workspace") != std::string::npos);
  for (auto what : {"files.write 'memory'", "files.write '.'", "files.write 'SOUL.md'", "files.write 'skills/evil'"}) {
    CAPTURE(what);
    REQUIRE(refused(*p, what));
    CHECK(refused(*p, what)->why.find("a plugin may not rewrite the agent") != std::string::npos);
  }
  // data-link resolves to data, already a rule: one rule, not two (the real path is used).
  CHECK(std::count(p->sandbox.read_only.begin(), p->sandbox.read_only.end(), canon + "/data") == 1);
}

TEST_CASE("profile: limits become rlimits, seccomp and no sockets") {
  test::temp_dir ws("weft-ws");
  auto p = derive_profile(sample(), {"main", ws.path.string(), false, {host_function::log}});
  REQUIRE(p);
  CHECK(p->sandbox.enabled);
  CHECK(p->sandbox.max_address_space == (100ull + 256) * 1024 * 1024);
  CHECK(p->cpu_seconds_per_call == 4);  // 2.5 s rounded up, plus one
  CHECK(p->no_core);
  CHECK(p->sandbox.max_open_files == 64);
  CHECK(p->seccomp_profile == "tool+deny_network");
  CHECK(p->limits.memory_mib == 100);
  CHECK(p->unsupported == std::vector{capability::voice});
  auto m = sample();
  m.permissions.limits.memory_mib = 2048;
  m.permissions.limits.time_ms = 1;
  auto big = derive_profile(m, {"main", ws.path.string(), false, {}});
  REQUIRE(big);
  CHECK(big->sandbox.max_address_space == (2048ull + 256) << 20);
  CHECK(big->cpu_seconds_per_call == 2);
  CHECK(big->granted.empty());
}

TEST_CASE("profile: the workspace must be absolute") {
  auto p = derive_profile(sample(), {"main", "relative/ws", false, {}});
  REQUIRE_FALSE(p);
  CHECK(p.err().message == "Failed to derive the profile of plugin 'weather': the workspace 'relative/ws' is not an absolute path");
}

TEST_CASE("profile: explain") {
  test::temp_dir ws("weft-ws");
  auto m = sample();
  m.permissions.network.allow_private = {*net::parse_prefix("10.20.0.0/16")};
  auto p = derive_profile(m, {"main", ws.path.string(), true,
                              {host_function::log, host_function::result, host_function::file_read, host_function::http_fetch}});
  REQUIRE(p);
  auto canon = fs::canonical(ws.path).string();
  auto text = explain(*p);
  CHECK(text == fmt::format(
                    "plugin          weather 1.0.0 for agent 'main'\n"
                    "capabilities    not supported by this build: voice\n"
                    "host functions  log, result, file_read, http_fetch\n"
                    "files           read        {0}/data\n"
                    "files           read        {0}/notes/today.md\n"
                    "sockets         none but AF_UNIX (seccomp), in a network namespace of its own where the system allows one\n"
                    "network         api.weather.example through weft's egress path\n"
                    "network         private block 10.20.0.0/16 declared\n"
                    "rlimits         AS 356 MiB (100 MiB memory + 256 MiB headroom), CPU 4 s per call, CORE 0, NOFILE 64\n"
                    "seccomp         tool+deny_network\n"
                    "limits          memory 100 MiB, 2500 ms and 1000000000 instructions per call, results up to 262144 bytes\n"
                    "environment     UNITS (from the manifest only)\n"
                    "refused         file_write: the admin does not grant it to the plugins of agent 'main'\n"
                    "refused         kv_put: the admin does not grant it to the plugins of agent 'main'\n"
                    "refused         files.write 'out': file_write is not granted\n",
                    canon));
}
