// The llm service's runtime routing policy end to end (requirement H2.5): weftctl sets a
// per-agent tier override, the agent's next request goes to that tier's model (the fake
// provider records it), and after `weftctl restart llm` the override still applies because
// llm persisted it in $WEFT_HOME/llm/policy.json. Also: unknown tiers are refused, a corrupt
// policy file is reported and ignored, and an agent's own identity may not change the policy.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "proto/llm_v1.hh"
#include "tests/integration/fake_peer.hh"
#include "tests/integration/harness.hh"

using namespace weft;
using namespace std::chrono_literals;
namespace lv = weft::proto::llm_v1;
using json = nlohmann::json;

namespace {

std::string config_for(const std::string& url) {
  return fmt::format(R"(
[providers.oai]
style = "openai"
base_url = "{0}/v1"
api_key = "test-key"
model = "default-model"

[llm]
default_provider = "oai"
retries = 0
timeout_ms = 4000

[[llm.tiers]]
name = "smart"
provider = "oai"
model = "smart-model"

[[llm.tiers]]
name = "fast"
provider = "oai"
model = "fast-model"

[agents.main]
tier = "smart"
[agents.main.tools]
families = []

[services.llm]
exec = "{1}"
[services.agent-main]
exec = "/bin/true"
enabled = false
[services.router]
exec = "/bin/true"
enabled = false
)",
                     url, test::build_path("services/llm/weft-llm"));
}

/// One Complete for agent `main` (no tier, no model: routing decides); returns the model
/// the fake provider was asked for.
std::string routed_model(test::fake_peer& fake, ipc::bus_client& b, const std::string& tier = {}) {
  REQUIRE(fake.post("/_reset", "{}").status == 200);
  lv::complete c;
  c.agent = "main";
  c.tier = tier;
  c.messages.push_back({lv::role::user, "which model are you"});
  ipc::call_options co;
  co.timeout = 20s;
  auto r = b.call("llm", c, co);
  REQUIRE_MESSAGE(r, (r ? "" : r.err().to_string()));
  auto done = r->as<lv::completion>();
  REQUIRE(done);
  auto reqs = json::parse(fake.get("/_requests").body);
  REQUIRE(reqs.size() == 1);
  CHECK(done->model == reqs[0]["body"]["model"]);
  return reqs[0]["body"]["model"].get<std::string>();
}

}  // namespace

TEST_CASE("weftctl llm policy: an override routes the agent, survives a restart of llm, and is cleared") {
  test::fake_peer fake("fake_llm.py", {"--key", "test-key"});
  auto s = test::stack::start(config_for(fake.url()));
  auto b = s->bus_client();
  INFO(s->log());

  CHECK(routed_model(fake, *b) == "smart-model");  // the agent's configured tier

  auto shown = s->weftctl({"llm", "policy"});
  CHECK(shown.exit_code == 0);
  CHECK(shown.out.find("no routing overrides") != std::string::npos);

  auto set = s->weftctl({"llm", "policy", "set", "--agent", "main", "--tier", "fast"});
  REQUIRE_MESSAGE(set.exit_code == 0, set.err);
  CHECK(set.out.find("main") != std::string::npos);
  CHECK(set.out.find("fast") != std::string::npos);
  CHECK(routed_model(fake, *b) == "fast-model");
  CHECK(routed_model(fake, *b, "smart") == "smart-model");  // a request's own tier still wins

  auto policy_file = s->dir() + "/home/llm/policy.json";
  REQUIRE(std::filesystem::exists(policy_file));

  // An unknown tier is refused and changes nothing.
  auto bad = s->weftctl({"llm", "policy", "set", "--agent", "main", "--tier", "nope"});
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find("tier 'nope' is not configured") != std::string::npos);

  // Restart llm: the override is loaded from the file.
  auto rs = s->weftctl({"restart", "llm"});
  REQUIRE_MESSAGE(rs.exit_code == 0, rs.err);
  b = s->bus_client();
  CHECK(routed_model(fake, *b) == "fast-model");
  auto j = s->weftctl({"--json", "llm", "policy"});
  REQUIRE(j.exit_code == 0);
  auto p = json::parse(j.out);
  REQUIRE(p["overrides"].size() == 1);
  CHECK(p["overrides"][0]["agent"] == "main");
  CHECK(p["overrides"][0]["tier"] == "fast");
  CHECK(p["overrides"][0]["set_by"].get<std::string>().starts_with("ctl/"));
  CHECK(p["path"] == policy_file);
  CHECK(p["warnings"].empty());

  // Clear: back to the configuration, also after a restart.
  auto clr = s->weftctl({"llm", "policy", "clear", "--agent", "main"});
  REQUIRE_MESSAGE(clr.exit_code == 0, clr.err);
  CHECK(routed_model(fake, *b) == "smart-model");
  REQUIRE(s->weftctl({"restart", "llm"}).exit_code == 0);
  b = s->bus_client();
  CHECK(routed_model(fake, *b) == "smart-model");
}

TEST_CASE("weftctl llm policy: a corrupt policy file is reported and ignored, never a crash") {
  test::fake_peer fake("fake_llm.py", {"--key", "test-key"});
  auto s = test::stack::start(config_for(fake.url()));
  INFO(s->log());
  auto policy_file = s->dir() + "/home/llm/policy.json";
  std::filesystem::create_directories(s->dir() + "/home/llm");
  std::ofstream(policy_file) << "{\"version\": 1, \"overrides\": {\"main\": {\"tier\": \"fa";
  REQUIRE(s->weftctl({"restart", "llm"}).exit_code == 0);  // ready again: it did not crash
  auto b = s->bus_client();
  CHECK(routed_model(fake, *b) == "smart-model");
  auto shown = s->weftctl({"llm", "policy"});
  CHECK(shown.exit_code == 0);
  CHECK(shown.err.find("Failed to load routing policy '" + policy_file + "': not valid JSON") != std::string::npos);
  CHECK(s->log().find("Failed to load routing policy '" + policy_file + "'") != std::string::npos);
  // The next change keeps the bad file aside and writes a good one.
  REQUIRE(s->weftctl({"llm", "policy", "set", "--agent", "main", "--tier", "fast"}).exit_code == 0);
  CHECK(std::filesystem::exists(policy_file + ".corrupt"));
  CHECK(routed_model(fake, *b) == "fast-model");
}

TEST_CASE("weftctl llm policy: usage errors and help") {
  test::fake_peer fake("fake_llm.py", {"--key", "test-key"});
  auto s = test::stack::start(config_for(fake.url()));
  auto h = s->weftctl({"llm", "policy", "--help"});
  CHECK(h.exit_code == 0);
  CHECK(h.out.find("usage: weftctl llm policy") != std::string::npos);
  CHECK(s->weftctl({"llm", "policy", "set", "--tier", "fast"}).exit_code == 2);
  CHECK(s->weftctl({"llm", "policy", "set", "--agent", "main"}).exit_code == 2);
  CHECK(s->weftctl({"llm", "policy", "frob"}).exit_code == 2);
  CHECK(s->weftctl({"llm"}).exit_code == 2);
  auto unknown_agent = s->weftctl({"llm", "policy", "set", "--agent", "ghost", "--tier", "fast"});
  CHECK(unknown_agent.exit_code == 1);
  CHECK(unknown_agent.err.find("no such agent") != std::string::npos);
}
