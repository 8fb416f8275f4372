// Unit tests of the memory service's parts that need no bus: who may touch which
// namespace, which embedder is configured, and a namespace's write → commit → index
// order, checkpoints, tiers and snapshots.
#include <doctest/doctest.h>

#include <fstream>

#include <weft/witness/verify.hh>

#include "services/memory/memory_service.hh"
#include "services/memory/namespace.hh"
#include "services/memory/witness_log.hh"
#include "proto/bus_v1.hh"
#include "proto/monitor_v1.hh"
#include "tests/temp_dir.hh"

using namespace weft;
using namespace weft::memory;
namespace mem = weft::proto::memory_v1;
namespace fs = std::filesystem;

namespace {

service::config three_agents() {
  service::config c;
  for (auto id : {"a", "b", "c"}) c.agents[id].id = id;
  c.memory.shares.push_back({"a", {"c"}, ""});
  return c;
}

mem::put note(std::string text, std::string key = {}, std::string session = {}) {
  mem::put p;
  p.kind = mem::kind::note;
  p.text = std::move(text);
  p.key = std::move(key);
  p.session = std::move(session);
  return p;
}

std::vector<std::string> texts(const mem::results& r) {
  std::vector<std::string> out;
  for (auto& h : r.hits) out.push_back(h.entry.text);
  return out;
}

search_request query(std::string q, std::optional<std::vector<float>> v = std::nullopt) {
  search_request s;
  s.req.query = std::move(q);
  s.req.k = 10;
  s.query_vector = std::move(v);
  return s;
}

/// A unit vector along axis `i` of `dims`, slightly tilted towards axis `j`.
std::vector<float> axis(std::size_t dims, std::size_t i, std::size_t j = 0, float tilt = 0) {
  std::vector<float> v(dims, 0.f);
  v[i] = 1.f;
  v[j] += tilt;
  return v;
}

}  // namespace

TEST_CASE("authorize: own namespace from the authenticated sender, shares read-only, admins name one") {
  auto c = three_agents();
  CHECK(authorize(c, "agent/a", "", true)->agent == "a");
  CHECK(authorize(c, "agent/a", "a", true)->agent == "a");
  CHECK_FALSE(authorize(c, "agent/a", "", true)->admin);
  auto denied = authorize(c, "agent/b", "a", false);
  REQUIRE_FALSE(denied);
  CHECK(mem::is(denied.err(), mem::error_code::denied));
  CHECK(denied.err().message ==
        "agent 'b' may not read the memory of agent 'a' (no [[memory.shares]] entry names it as a reader)");
  CHECK(authorize(c, "agent/c", "a", false)->agent == "a");  // the share
  CHECK_FALSE(authorize(c, "agent/c", "a", true));           // read-only
  CHECK_FALSE(authorize(c, "agent/a", "c", false));          // shares are one-way
  for (auto from : {"chan/web", "tool/fs/a", "router", "agent/a/x", "agent/", "agents/a"})
    CHECK_MESSAGE(mem::is(authorize(c, from, "", false).err(), mem::error_code::denied), from);
  auto admin = authorize(c, "ctl/4242", "b", true);
  REQUIRE(admin);
  CHECK(admin->admin);
  CHECK(authorize(c, "weftd", "c", true)->agent == "c");
  CHECK(mem::is(authorize(c, "ctl/1", "", false).err(), mem::error_code::bad_request));
  CHECK(authorize(c, "ctl/1", "zed", false).err().message == "agent 'zed' is not in [agents]");
}

TEST_CASE("configured_embedder: the provider and model llm would use, or why there is none") {
  service::config c;
  CHECK(configured_embedder(c).err().message == "no embedding provider is configured");
  service::provider_settings openai;
  openai.name = "openai";
  openai.enabled = true;
  openai.embedding_model = "text-embedding-3-small";
  service::provider_settings claude;
  claude.name = "anthropic";
  claude.enabled = true;
  claude.style = service::api_style::anthropic;
  c.providers["anthropic"] = claude;
  c.llm.default_provider = "anthropic";
  CHECK(configured_embedder(c).err().message.find("has no embedding model") != std::string::npos);
  c.llm.embedding_model = "m";
  CHECK(configured_embedder(c).err().message.find("Anthropic API") != std::string::npos);
  c.providers["openai"] = openai;
  c.llm.embedding_provider = "openai";
  CHECK(*configured_embedder(c) == "openai/m");
  c.llm.embedding_model.clear();
  CHECK(*configured_embedder(c) == "openai/text-embedding-3-small");
  c.providers["openai"].enabled = false;  // no key
  CHECK(configured_embedder(c).err().message == "embedding provider 'openai' is not configured or has no API key");
}

TEST_CASE("a namespace: writes reach the indexes only after commit; keys make a Put idempotent") {
  test::temp_dir dir{"memory-ns"};
  service::memory_settings s;
  auto ns = memory_namespace::open(dir.path, "a", s);
  REQUIRE_MESSAGE(ns, (ns ? "" : ns.err().message));
  auto& m = **ns;
  auto now = utc_now();
  auto first = m.put(note("the deploy key rotates on mondays", "k1"), now);
  REQUIRE(first);
  CHECK_FALSE(first->duplicate);
  CHECK(m.search(query("deploy key"), now).hits.empty());  // appended, not yet durable
  REQUIRE(m.commit());
  CHECK(texts(m.search(query("deploy key"), now)) == std::vector<std::string>{"the deploy key rotates on mondays"});
  auto again = m.put(note("a different text, same key", "k1"), now);
  REQUIRE(again);
  CHECK(again->duplicate);
  CHECK(again->id == first->id);
  CHECK(m.put(note(std::string(s.max_text_bytes + 1, 'x')), now).err().message.find("max_text_bytes") !=
        std::string::npos);
  CHECK(mem::is(m.put(note(""), now).err(), mem::error_code::bad_request));

  REQUIRE(m.put(note("lunch is at noon", "", "tg:1"), now));
  REQUIRE(m.put(note("the deploy happens at noon", "", "tg:2"), now));
  REQUIRE(m.commit());
  auto r = query("noon");
  r.req.session = "tg:2";
  CHECK(texts(m.search(r, now)) == std::vector<std::string>{"the deploy happens at noon"});
  REQUIRE(m.forget({first->id, "m-999"}).value() == 1);
  REQUIRE(m.commit());
  CHECK(texts(m.search(query("deploy"), now)) == std::vector<std::string>{"the deploy happens at noon"});
  CHECK(m.statistics("x").entries == 2);
  // The forgotten key is free again.
  CHECK_FALSE(m.put(note("new owner of k1", "k1"), now)->duplicate);
  REQUIRE(m.wipe().value() == 3);
  REQUIRE(m.commit());
  CHECK(m.search(query("noon"), now).hits.empty());
  CHECK(m.statistics("x").entries == 0);
}

TEST_CASE("a namespace reopens to the same state; the vector checkpoint is used, or rebuilt when it does not fit") {
  test::temp_dir dir{"memory-ckpt"};
  service::memory_settings s;
  auto now = utc_now();
  std::vector<std::string> words = {"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"};
  {
    auto ns = memory_namespace::open(dir.path, "a", s);
    REQUIRE(ns);
    for (auto& w : words) REQUIRE((*ns)->put(note("entry " + w), now));
    REQUIRE((*ns)->commit());
    auto pending = (*ns)->take_unembedded(100);
    REQUIRE(pending.size() == words.size());
    (*ns)->embedded(pending.size());
    for (std::size_t i = 0; i < pending.size(); ++i)
      REQUIRE((*ns)->add_vector(pending[i].label, axis(8, i), "test/axis"));
    REQUIRE((*ns)->commit());
    CHECK((*ns)->statistics("").vectors == words.size());
    REQUIRE((*ns)->checkpoint(now));
    // One more after the checkpoint: replayed from the segment files on reopen.
    REQUIRE((*ns)->put(note("entry india"), now));
    REQUIRE((*ns)->commit());
    auto p = (*ns)->take_unembedded(10);
    REQUIRE(p.size() == 1);
    (*ns)->embedded(1);
    REQUIRE((*ns)->add_vector(p[0].label, axis(8, 7, 0, 0.5f), "test/axis"));
    REQUIRE((*ns)->commit());
  }
  auto check = [&](memory_namespace& m) {
    auto st = m.statistics("");
    CHECK(st.entries == 9);
    CHECK(st.vectors == 9);
    CHECK(st.dims == 8);
    CHECK(st.embedder == "test/axis");
    CHECK(m.unembedded() == 0);
    auto q = query("zzz-no-keyword", axis(8, 3));
    q.req.mode = mem::mode::vector;
    auto r = m.search(q, now);
    REQUIRE_FALSE(r.hits.empty());
    CHECK(r.hits[0].entry.text == "entry delta");
    q.query_vector = axis(8, 7, 0, 0.6f);
    CHECK(m.search(q, now).hits[0].entry.text == "entry india");
  };
  {
    auto ns = memory_namespace::open(dir.path, "a", s);
    REQUIRE(ns);
    check(**ns);
  }
  // A checkpoint naming fewer entries than the files hold before its position (e.g. the
  // segment files were restored from elsewhere) is not trusted: rebuilt, same answers.
  auto cp = dir.path / "checkpoint.json";
  std::string text;
  {
    std::ifstream in(cp);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto at = text.find("\"labels\":8");
  REQUIRE(at != std::string::npos);
  std::ofstream(cp) << text.replace(at, 10, "\"labels\":7");
  {
    auto ns = memory_namespace::open(dir.path, "a", s);
    REQUIRE(ns);
    check(**ns);
  }
  // A damaged index file: rebuilt from the vector records.
  for (auto& d : fs::directory_iterator(dir.path))
    if (d.path().filename().string().rfind("vectors-", 0) == 0)
      for (auto& f : fs::directory_iterator(d.path())) fs::resize_file(f.path(), fs::file_size(f.path()) / 2);
  {
    auto ns = memory_namespace::open(dir.path, "a", s);
    REQUIRE(ns);
    check(**ns);
  }
}

TEST_CASE("a namespace exports and imports: merge skips what is there, replace starts afresh, dims must agree") {
  test::temp_dir dir{"memory-snap"};
  service::memory_settings s;
  auto now = utc_now();
  auto a = memory_namespace::open(dir.path / "a", "a", s);
  REQUIRE(a);
  for (int i = 0; i < 20; ++i) REQUIRE((*a)->put(note(fmt::format("fact number {}", i), fmt::format("k{}", i)), now));
  REQUIRE((*a)->commit());
  auto pending = (*a)->take_unembedded(100);
  (*a)->embedded(pending.size());
  for (auto& p : pending) REQUIRE((*a)->add_vector(p.label, axis(4, p.label % 4, (p.label + 1) % 4, 0.25f), "t/m"));
  REQUIRE((*a)->commit());
  auto file = dir.path / "a.wmem";
  auto meta = (*a)->export_to(file);
  REQUIRE(meta);
  CHECK(meta->entries == 20);
  CHECK(meta->vectors == 20);

  auto b = memory_namespace::open(dir.path / "b", "b", s);
  REQUIRE(b);
  REQUIRE((*b)->put(note("b's own"), now));
  REQUIRE((*b)->commit());
  auto merged = (*b)->import_from(file, *meta, false);
  REQUIRE_MESSAGE(merged, (merged ? "" : merged.err().message));
  CHECK(merged->added == 20);
  CHECK((*b)->statistics("").entries == 21);
  CHECK((*b)->statistics("").vectors == 20);
  auto twice = (*b)->import_from(file, *meta, false);
  REQUIRE(twice);
  CHECK(twice->added == 0);
  CHECK(twice->skipped == 20);
  // b's own m-1 and a's m-1 are different entries: both kept, a's under a new id.
  auto own = (*b)->search(query("own"), now);
  REQUIRE(own.hits.size() == 1);
  CHECK(own.hits[0].entry.id == "m-1");
  auto zero = (*b)->search(query("number 0"), now);
  REQUIRE_FALSE(zero.hits.empty());
  CHECK(zero.hits[0].entry.text == "fact number 0");
  CHECK(zero.hits[0].entry.id != "m-1");

  auto c = memory_namespace::open(dir.path / "c", "c", s);
  REQUIRE(c);
  REQUIRE((*c)->put(note("c has 3 dims"), now));
  REQUIRE((*c)->commit());
  auto pc = (*c)->take_unembedded(1);
  (*c)->embedded(1);
  REQUIRE((*c)->add_vector(pc[0].label, {1, 0, 0}, "t/other"));
  REQUIRE((*c)->commit());
  auto clash = (*c)->import_from(file, *meta, false);
  REQUIRE_FALSE(clash);
  CHECK(clash.err().message.find("4 dimensions") != std::string::npos);
  auto fresh = (*c)->import_from(file, *meta, true);
  REQUIRE(fresh);
  CHECK((*c)->statistics("").entries == 20);
  CHECK((*c)->statistics("").dims == 4);

  // A snapshot with one byte changed changes nothing.
  std::string bytes;
  {
    std::ifstream in(file, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  bytes[bytes.size() / 3] ^= 1;
  std::ofstream(dir.path / "bad.wmem", std::ios::binary) << bytes;
  auto bad_meta = memstore::verify_snapshot(dir.path / "bad.wmem");
  REQUIRE_FALSE(bad_meta);  // refused before anything could be applied
  // Even when told it was verified, reading the changed file delivers nothing.
  auto bad = (*b)->import_from(dir.path / "bad.wmem", *meta, false);
  REQUIRE_FALSE(bad);
  CHECK(mem::is(bad.err(), mem::error_code::corrupt));
  CHECK((*b)->statistics("").entries == 21);
}

TEST_CASE("witness: a skill install is recorded from ctl/* only, durable before it is acknowledged") {
  test::temp_dir home{"weft-memory-witness"};
  mem::skill_installed e;
  e.skill = "weather-pro";
  e.hash = "sha256:00ff";
  e.target = "/srv/weft/skills/weather-pro";
  e.forced = true;
  e.severity = "high";
  e.findings = {"SKL-029", "SKL-022"};
  e.reason = "reviewed the installer";
  e.os_user = "ann";
  {
    auto w = witness_log::open(home.path);
    REQUIRE_MESSAGE(w, (w ? "" : w.err().message));
    // Nobody but an admin tool decides installs: an agent, a tool, weftd itself are Denied.
    for (auto from : {"agent/main", "tool/fs/main", "weftd", "ctl", "router"}) {
      auto r = (*w)->record_skill_installed(from, e);
      INFO(from);
      REQUIRE_FALSE(r);
      CHECK(mem::is(r.err(), mem::error_code::denied));
    }
    auto empty = e;
    empty.hash.clear();
    auto bad = (*w)->record_skill_installed("ctl/7", empty);
    REQUIRE_FALSE(bad);
    CHECK(mem::is(bad.err(), mem::error_code::bad_request));
    auto big = e;
    big.reason.assign(20000, 'x');
    auto large = (*w)->record_skill_installed("ctl/7", big);
    REQUIRE_FALSE(large);
    CHECK(mem::is(large.err(), mem::error_code::too_large));

    auto seq = (*w)->record_skill_installed("ctl/4242", e);
    REQUIRE_MESSAGE(seq, (seq ? "" : seq.err().message));
    CHECK_FALSE((*w)->dirty());  // synced before the answer
  }
  auto recs = witness::read_records(home.path / "audit");
  REQUIRE_MESSAGE(recs, (recs ? "" : recs.err().message));
  REQUIRE(recs->size() == 1);  // the refused ones left nothing
  auto& r = recs->front();
  CHECK(r.actor == "ctl/4242");
  CHECK(r.kind == "skill_installed");
  CHECK(r.subject == "skill/weather-pro");
  CHECK(r.detail ==
        "forced install into '/srv/weft/skills/weather-pro', sha256:00ff; findings at or above high: SKL-029, "
        "SKL-022; reason: 'reviewed the installer'; OS user 'ann'");
}

TEST_CASE("witness: a plugin install is recorded from ctl/* only, durable before it is acknowledged") {
  test::temp_dir home{"weft-memory-witness-plugin"};
  mem::plugin_installed e;
  e.plugin = "word-count";
  e.agent = "main";
  e.version = "1.2.0";
  e.hash = "sha256:00ff";
  e.target = "/srv/weft/plugins/main/word-count";
  e.forced = true;
  e.severity = "high";
  e.findings = {"SKL-001", "SKL-080"};
  e.reason = "the README quotes the attack";
  e.os_user = "ann";
  {
    auto w = witness_log::open(home.path);
    REQUIRE_MESSAGE(w, (w ? "" : w.err().message));
    // The plugin host itself, an agent, weftd: none of them decides what is installed.
    for (auto from : {"tool/plugins/main", "agent/main", "weftd", "ctl", "monitor"}) {
      auto r = (*w)->record_plugin_installed(from, e);
      INFO(from);
      REQUIRE_FALSE(r);
      CHECK(mem::is(r.err(), mem::error_code::denied));
      CHECK(r.err().message.find("plugin installs") != std::string::npos);
    }
    auto no_agent = e;
    no_agent.agent.clear();
    auto bad = (*w)->record_plugin_installed("ctl/7", no_agent);
    REQUIRE_FALSE(bad);
    CHECK(mem::is(bad.err(), mem::error_code::bad_request));
    auto big = e;
    big.reason.assign(20000, 'x');
    auto large = (*w)->record_plugin_installed("ctl/7", big);
    REQUIRE_FALSE(large);
    CHECK(mem::is(large.err(), mem::error_code::too_large));

    auto seq = (*w)->record_plugin_installed("ctl/4242", e);
    REQUIRE_MESSAGE(seq, (seq ? "" : seq.err().message));
    CHECK_FALSE((*w)->dirty());
  }
  auto recs = witness::read_records(home.path / "audit");
  REQUIRE_MESSAGE(recs, (recs ? "" : recs.err().message));
  REQUIRE(recs->size() == 1);
  auto& r = recs->front();
  CHECK(r.actor == "ctl/4242");
  CHECK(r.kind == "plugin_installed");
  CHECK(r.subject == "plugin/main/word-count@1.2.0");
  CHECK(r.detail ==
        "forced install into '/srv/weft/plugins/main/word-count', sha256:00ff; findings at or above high: SKL-001, "
        "SKL-080; reason: 'the README quotes the attack'; OS user 'ann'");
}

TEST_CASE("witness: the monitor's alerts from 'monitor' only, releases from the bus only") {
  test::temp_dir home{"weft-memory-witness-monitor"};
  namespace mon = proto::monitor_v1;
  namespace bus = proto::bus_v1;
  auto event = [](std::string from, std::string_view type, std::string payload) {
    bus::envelope env;
    env.v = 1;
    env.kind = bus::kind::event;
    env.type = std::string(type);
    env.from = std::move(from);
    return ipc::message{env, std::move(payload)};
  };
  mon::alert a{"main", "sensitive_path", "quarantine", "read_file named '/h/keys/k' (under '/h/keys')", utc_now()};
  {
    auto w = witness_log::open(home.path);
    REQUIRE_MESSAGE(w, (w ? "" : w.err().message));
    auto topics = witness_log::topics();
    CHECK(std::find(topics.begin(), topics.end(), mon::alert::type_name) != topics.end());
    // Anyone may publish an Alert; only the monitor's is the monitor's word.
    for (auto from : {"agent/main", "tool/fs/main", "ctl/7", "bus"})
      (*w)->on_event(event(from, mon::alert::type_name, wire::encode(a)));
    (*w)->on_event(event("monitor", mon::alert::type_name, wire::encode(a)));
    for (auto from : {"monitor", "agent/main", "ctl/7"})
      (*w)->on_event(event(from, bus::agent_released::type_name, wire::encode(bus::agent_released{"main", "ctl/7"})));
    (*w)->on_event(event("bus", bus::agent_released::type_name, wire::encode(bus::agent_released{"main", "ctl/7"})));
    (*w)->on_event(event("monitor", mon::alert::type_name, "\xc1"));  // malformed: nothing, no crash
    (*w)->sync();
  }
  auto recs = witness::read_records(home.path / "audit");
  REQUIRE_MESSAGE(recs, (recs ? "" : recs.err().message));
  REQUIRE(recs->size() == 2);
  CHECK((*recs)[0].actor == "monitor");
  CHECK((*recs)[0].kind == "monitor_quarantine");
  CHECK((*recs)[0].subject == "agent/main");
  CHECK((*recs)[0].detail == "sensitive_path: read_file named '/h/keys/k' (under '/h/keys')");
  CHECK((*recs)[1].actor == "ctl/7");
  CHECK((*recs)[1].kind == "quarantine_released");
  CHECK((*recs)[1].subject == "agent/main");
}

TEST_CASE("witness_log: plugin events are recorded only from a plugin host, for its own agent") {
  namespace mem = proto::memory_v1;
  namespace bus = proto::bus_v1;
  test::temp_dir home{"weft-witness-plugin"};
  auto event = [](std::string from, std::string payload) {
    bus::envelope env;
    env.v = 1;
    env.kind = bus::kind::event;
    env.type = std::string(mem::plugin_event::type_name);
    env.from = std::move(from);
    return ipc::message{env, std::move(payload)};
  };
  mem::plugin_event e{"hostile-oob-load", "read_far", "trap", "TrapOutOfBounds", "out of bounds memory access"};
  {
    auto w = witness_log::open(home.path);
    REQUIRE_MESSAGE(w, (w ? "" : w.err().message));
    auto topics = witness_log::topics();
    CHECK(std::find(topics.begin(), topics.end(), mem::plugin_event::type_name) != topics.end());
    // An agent, another tool, a malformed address: not a plugin host's word.
    for (auto from : {"agent/main", "tool/fs/main", "tool/plugins/", "tool/plugins/a/b", "ctl/3"})
      (*w)->on_event(event(from, wire::encode(e)));
    (*w)->on_event(event("tool/plugins/main", wire::encode(e)));
    (*w)->on_event(event("tool/plugins/main", "\xc1"));  // malformed: nothing, no crash
    (*w)->sync();
  }
  auto recs = witness::read_records(home.path / "audit");
  REQUIRE_MESSAGE(recs, (recs ? "" : recs.err().message));
  REQUIRE(recs->size() == 1);
  CHECK((*recs)[0].actor == "tool/plugins/main");
  CHECK((*recs)[0].kind == "plugin_trap");
  CHECK((*recs)[0].subject == "plugin/main/hostile-oob-load");
  CHECK((*recs)[0].detail == "tool read_far: TrapOutOfBounds: out of bounds memory access");
}
