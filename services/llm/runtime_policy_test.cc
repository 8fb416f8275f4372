#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "services/llm/policy.hh"
#include "services/llm/runtime_policy.hh"

using namespace weft;
using namespace weft::llm;
namespace fs = std::filesystem;

namespace {

service::config tiers_config() {
  service::config c;
  service::provider_settings o;
  o.name = "openai";
  o.model = "gpt-default";
  c.providers["openai"] = o;
  c.llm.tiers = {{"fast", "openai", "gpt-fast", 100000, 0.1, 0.4, ""},
                 {"smart", "openai", "gpt-smart", 200000, 3, 15, ""},
                 {"cheap", "openai", "gpt-cheap", 100000, 0.05, 0.2, ""}};
  c.agents["main"].tier = "smart";
  c.agents["ops"].tier = "smart";
  return c;
}

lv::complete req(std::string agent = "main") {
  lv::complete c;
  c.agent = std::move(agent);
  c.messages.push_back({lv::role::user, "hi"});
  return c;
}

lv::set_policy set(std::string agent, std::string tier, std::vector<std::string> disabled = {}) {
  lv::set_policy s;
  s.agent = std::move(agent);
  s.tier = std::move(tier);
  s.disabled_tiers = std::move(disabled);
  return s;
}

struct temp_home {
  fs::path dir = fs::temp_directory_path() / ("weft-llm-policy-" + std::to_string(::getpid()));
  temp_home() { fs::remove_all(dir); }
  ~temp_home() { fs::remove_all(dir); }
  std::string path() const { return (dir / "llm" / "policy.json").string(); }
};

std::string read(const std::string& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write(const std::string& p, const std::string& text) {
  fs::create_directories(fs::path(p).parent_path());
  std::ofstream(p) << text;
}

const utc_time now = *parse_rfc3339("2026-11-24T07:20:31.123Z");

}  // namespace

TEST_CASE("routing policy: an override beats the agent's tier and model, not the request's") {
  auto c = tiers_config();
  lv::tier_override ov;
  ov.agent = "main";
  ov.tier = "fast";
  CHECK(choose_route(c, req())->tier == "smart");
  CHECK(choose_route(c, req(), &ov)->tier == "fast");
  CHECK(choose_route(c, req(), &ov)->model == "gpt-fast");
  // Above the agent's configured model, too.
  c.agents["main"].model = "openai/gpt-pinned";
  CHECK(choose_route(c, req())->model == "gpt-pinned");
  CHECK(choose_route(c, req(), &ov)->model == "gpt-fast");
  // A request's own tier or model wins over the override.
  auto x = req();
  x.tier = "cheap";
  CHECK(choose_route(c, x, &ov)->tier == "cheap");
  x.tier.clear();
  x.model = "openai/explicit";
  CHECK(choose_route(c, x, &ov)->model == "explicit");
  // An override naming an unknown tier is ignored by the decision.
  ov.tier = "gone";
  CHECK(choose_route(c, req(), &ov)->model == "gpt-pinned");
}

TEST_CASE("routing policy: disabled tiers are never chosen by configuration or fallback") {
  auto c = tiers_config();
  lv::tier_override ov;
  ov.agent = "main";
  ov.disabled_tiers = {"smart"};
  // The agent's tier is disabled: the cheapest enabled tier that fits instead.
  auto r = choose_route(c, req(), &ov);
  REQUIRE(r);
  CHECK(r->tier == "cheap");
  ov.disabled_tiers = {"smart", "cheap"};
  CHECK(choose_route(c, req(), &ov)->tier == "fast");
  // Context fallback skips disabled tiers: 150K tokens fit only 'smart', which is disabled,
  // so the largest remaining tier is used.
  auto big = req();
  big.messages[0].text = std::string(150000 * 4, 'x');
  ov.disabled_tiers = {"smart"};
  c.agents["main"].tier = "cheap";
  CHECK(choose_route(c, big)->tier == "smart");
  auto rb = choose_route(c, big, &ov);
  REQUIRE(rb);
  CHECK(rb->tier != "smart");
  // Everything disabled: a clear error, not a silent pick.
  ov.disabled_tiers = {"smart", "cheap", "fast"};
  auto none = choose_route(c, req(), &ov);
  REQUIRE(!none);
  CHECK(lv::is(none.err(), lv::error_code::not_configured));
  CHECK(none.err().message.find("disables every usable tier") != std::string::npos);
  // A tier named in the request is honoured even when disabled.
  auto x = req();
  x.tier = "smart";
  CHECK(choose_route(c, x, &ov)->tier == "smart");
}

TEST_CASE("runtime policy: set, persist, load again, clear") {
  temp_home h;
  auto c = tiers_config();
  {
    runtime_policy p(h.path());
    p.load(c);
    CHECK(p.warnings().empty());
    CHECK(p.applied("main") == nullptr);
    REQUIRE(p.set(set("main", "fast", {"smart"}), "ctl/42", now, c));
    REQUIRE(p.applied("main"));
    CHECK(p.applied("main")->tier == "fast");
  }
  auto text = read(h.path());
  CHECK(text.find("\"version\": 1") != std::string::npos);
  CHECK(text.find("\"fast\"") != std::string::npos);
  CHECK(fs::status(h.path()).permissions() == (fs::perms::owner_read | fs::perms::owner_write));
  CHECK_FALSE(fs::exists(h.path() + ".tmp"));
  {
    runtime_policy p(h.path());  // a restart
    p.load(c);
    CHECK(p.warnings().empty());
    auto a = p.applied("main");
    REQUIRE(a);
    CHECK(a->tier == "fast");
    CHECK(a->disabled_tiers == std::vector<std::string>{"smart"});
    CHECK(a->set_by == "ctl/42");
    CHECK(a->set_at == now);
    CHECK(choose_route(c, req(), a)->tier == "fast");
    auto pr = p.to_proto();
    CHECK(pr.path == h.path());
    REQUIRE(pr.overrides.size() == 1);
    lv::set_policy clr;
    clr.agent = "main";
    clr.clear = true;
    REQUIRE(p.set(clr, "weftd", now, c));
    CHECK(p.applied("main") == nullptr);
  }
  runtime_policy p(h.path());
  p.load(c);
  CHECK(p.to_proto().overrides.empty());
}

TEST_CASE("runtime policy: bad requests change nothing") {
  temp_home h;
  auto c = tiers_config();
  runtime_policy p(h.path());
  p.load(c);
  REQUIRE(p.set(set("main", "fast"), "ctl/1", now, c));
  auto before = read(h.path());
  auto bad = [&](const lv::set_policy& s) {
    auto r = p.set(s, "ctl/1", now, c);
    REQUIRE(!r);
    CHECK(lv::is(r.err(), lv::error_code::bad_request));
    return r.err().message;
  };
  CHECK(bad(set("main", "nope")).find("tier 'nope' is not configured (configured tiers: 'fast', 'smart', 'cheap')") !=
        std::string::npos);
  CHECK(bad(set("nobody", "fast")).find("no such agent") != std::string::npos);
  CHECK(bad(set("main", "")).find("give a tier") != std::string::npos);
  CHECK(bad(set("main", "fast", {"fast"})).find("both chosen and disabled") != std::string::npos);
  CHECK(bad(set("main", "fast", {"nope"})).find("'nope'") != std::string::npos);
  CHECK(bad(set("", "fast")).find("no agent") != std::string::npos);
  CHECK(read(h.path()) == before);
  CHECK(p.applied("main")->tier == "fast");
}

TEST_CASE("runtime policy: a corrupt file is reported and ignored, and kept aside on the next write") {
  temp_home h;
  auto c = tiers_config();
  for (auto text : {std::string("{\"version\": 1, \"overrides\": {\"main\": {\"tier\": \"fa"), std::string("[]"),
                    std::string("{\"version\": 7, \"overrides\": {}}"), std::string("\x00\x01garbage", 9),
                    std::string(max_policy_file_bytes + 10, ' ')}) {
    write(h.path(), text);
    runtime_policy p(h.path());
    p.load(c);
    REQUIRE(p.warnings().size() == 1);
    CHECK(p.warnings()[0].find("Failed to load routing policy '" + h.path() + "'") == 0);
    CHECK(p.applied("main") == nullptr);
    CHECK(p.to_proto().warnings == p.warnings());
  }
  write(h.path(), "not json");
  runtime_policy p(h.path());
  p.load(c);
  REQUIRE(p.set(set("ops", "cheap"), "ctl/1", now, c));
  CHECK(read(h.path() + ".corrupt") == "not json");
  runtime_policy again(h.path());
  again.load(c);
  CHECK(again.warnings().empty());
  CHECK(again.applied("ops")->tier == "cheap");
  // One malformed entry is skipped, the others apply.
  write(h.path(), R"({"version": 1, "overrides": {"main": {"tier": 5}, "ops": {"tier": "fast"}}})");
  runtime_policy partial(h.path());
  partial.load(c);
  REQUIRE(partial.warnings().size() == 1);
  CHECK(partial.warnings()[0].find("agent 'main' is malformed") != std::string::npos);
  CHECK(partial.applied("main") == nullptr);
  CHECK(partial.applied("ops")->tier == "fast");
}

TEST_CASE("runtime policy: an override naming a tier no longer configured is reported and not applied") {
  temp_home h;
  auto c = tiers_config();
  {
    runtime_policy p(h.path());
    p.load(c);
    REQUIRE(p.set(set("main", "fast", {"cheap"}), "ctl/1", now, c));
    REQUIRE(p.set(set("ops", "cheap"), "ctl/1", now, c));
  }
  c.llm.tiers.erase(c.llm.tiers.begin() + 2);  // 'cheap' removed from the config
  runtime_policy p(h.path());
  p.load(c);
  REQUIRE(p.warnings().size() == 2);
  CHECK(p.warnings()[0].find("agent 'main': disabled tier 'cheap' is no longer configured") != std::string::npos);
  CHECK(p.warnings()[1].find("agent 'ops': tier 'cheap' is no longer configured") != std::string::npos);
  CHECK(p.warnings()[1].find(h.path()) != std::string::npos);
  // main keeps what still applies; ops has nothing left.
  REQUIRE(p.applied("main"));
  CHECK(p.applied("main")->tier == "fast");
  CHECK(p.applied("main")->disabled_tiers.empty());
  CHECK(p.applied("ops") == nullptr);
  CHECK(choose_route(c, req("ops"), p.applied("ops"))->tier == "smart");
  // Both are still listed (with their problem) and still in the file.
  auto pr = p.to_proto();
  REQUIRE(pr.overrides.size() == 2);
  CHECK(pr.overrides[1].problem.find("no longer configured") != std::string::npos);
  CHECK(read(h.path()).find("\"cheap\"") != std::string::npos);
}

TEST_CASE("runtime policy: a failed write is an error and changes nothing") {
  temp_home h;
  auto c = tiers_config();
  fs::create_directories(h.dir);
  write((h.dir / "llm").string(), "a file where the directory should be");
  runtime_policy p(h.path());
  p.load(c);
  auto r = p.set(set("main", "fast"), "ctl/1", now, c);
  REQUIRE(!r);
  CHECK(lv::is(r.err(), lv::error_code::storage));
  CHECK(r.err().message.find("Failed to write routing policy '" + h.path() + "'") == 0);
  CHECK(p.applied("main") == nullptr);
}
