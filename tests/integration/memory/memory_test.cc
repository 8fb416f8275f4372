// The memory service under a real weftd: per-agent isolation decided from the sender the
// bus authenticated, kill -9 during 10,000 writes, export → wipe → import, a corrupt
// snapshot refused, keyword and hybrid search, and the witness chain it keeps.
//
// Agents are stood in for by tests/integration/memory/probe.cc ([services.agent-<id>]
// replaces the derived agent): a request sent to agent/<id> is forwarded to memory as
// agent/<id>.
#include <doctest/doctest.h>

#include <signal.h>

#include <algorithm>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <weft/memstore/snapshot.hh>
#include <weft/service/paths.hh>

#include "proto/bus_v1.hh"
#include "proto/memory_v1.hh"
#include "tests/integration/fake_peer.hh"
#include "tests/integration/harness.hh"

using namespace weft;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace mem = weft::proto::memory_v1;

namespace {

std::string probes(const std::vector<std::string>& ids) {
  std::string out;
  for (auto& id : ids)
    out += fmt::format("[agents.{0}.tools]\nfamilies = []\n[services.agent-{0}]\nexec = \"{1}\"\naddress = \"agent/{0}\"\n"
                       "after = [\"memory\"]\n",
                       id, WEFT_MEMORY_PROBE);
  return out;
}

std::string base_config(const std::string& extra) {
  return fmt::format(R"([supervisor]
restart_backoff_initial_ms = 50
restart_intensity = 100

[providers]

{}
)",
                     extra);
}

/// The fake provider as default provider, embedding with "fake-bow" (64-d bag of words).
/// Its key comes from weftd's environment, as in a real deployment: only llm holds it, and
/// memory learns from weftd that the provider is usable (WEFT_PROVIDERS_READY).
std::string fake_embedder(const test::fake_peer& llm, const std::string& llm_extra = {}) {
  ::setenv("WEFT_TEST_MEMORY_KEY", "mem-key", 1);
  return fmt::format("[providers.fake]\nstyle = \"openai\"\nbase_url = \"{}/v1\"\nmodel = \"fake-model\"\n"
                     "api_key = \"${{WEFT_TEST_MEMORY_KEY}}\"\n"
                     "embedding_model = \"fake-bow\"\n[llm]\ndefault_provider = \"fake\"\n{}",
                     llm.url(), llm_extra);
}

ipc::call_options patient() {
  ipc::call_options co;
  co.timeout = 20s;
  co.attempt_timeout = 20s;
  return co;
}

/// Sends `req` to `to` and decodes the reply as R; the error when it failed.
template <class R, class Req>
result<R> ask(ipc::bus_client& b, const std::string& to, const Req& req) {
  auto r = b.call(to, req, patient());
  if (!r) return r.take_error();
  return r->template as<R>();
}

/// The statistics of `agent`'s memory once `done` holds for them, or after 30 s (the
/// caller's checks then say what was missing).
template <class Done>
mem::statistics wait_stats(ipc::bus_client& ctl, const std::string& agent, Done done) {
  mem::statistics st;
  auto until = std::chrono::steady_clock::now() + 30s;
  do {
    auto r = ask<mem::statistics>(ctl, "memory", mem::stats{agent});
    REQUIRE(r);
    st = *r;
    if (done(st)) break;
    std::this_thread::sleep_for(100ms);
  } while (std::chrono::steady_clock::now() < until);
  return st;
}

mem::put note(std::string text, std::vector<std::string> tags = {}, std::string key = {}) {
  mem::put p;
  p.kind = mem::kind::note;
  p.text = std::move(text);
  p.tags = std::move(tags);
  p.key = std::move(key);
  return p;
}

/// Every entry of a snapshot file, by id, and its vectors.
struct snapshot_contents : memstore::visitor {
  std::map<std::string, memstore::entry> entries;
  std::map<std::string, std::vector<float>> vectors;
  std::uint64_t corrupt = 0;
  void on_entry(const memstore::entry& e, memstore::location) override { entries[e.id] = e; }
  void on_vector(std::string_view id, std::span<const float> v, std::string_view, memstore::location) override {
    vectors[std::string(id)] = std::vector<float>(v.begin(), v.end());
  }
  void on_corrupt(const error&) override { ++corrupt; }
};

snapshot_contents read_all(const std::string& path) {
  snapshot_contents c;
  auto r = memstore::read_snapshot(path, c);
  REQUIRE_MESSAGE(r, (r ? "" : r.err().message));
  return c;
}

}  // namespace

TEST_CASE("three agents: each sees only its own memory; a share is read-only; denials are audited") {
  auto s = test::stack::start(base_config(probes({"a", "b", "c"}) + R"(
[[memory.shares]]
owner = "a"
readers = ["c"]
)"));
  REQUIRE(s);
  auto ctl = s->bus_client();
  auto events = ipc::event_subscriber::connect(s->ctx(), service::events_endpoint(s->runtime()),
                                               {std::string(proto::bus_v1::access_denied::type_name)});
  REQUIRE(events);

  std::map<std::string, std::string> ids;
  for (std::string id : {"a", "b", "c"}) {
    auto r = ask<mem::stored>(*ctl, "agent/" + id, note("the launch code of agent " + id + " is zebra-" + id));
    REQUIRE_MESSAGE(r, (r ? "" : r.err().message));
    ids[id] = r->id;
  }

  // Own namespace: the caller's, whatever the payload leaves out.
  for (std::string id : {"a", "b", "c"}) {
    mem::search q;
    q.query = "launch code zebra";
    auto r = ask<mem::results>(*ctl, "agent/" + id, q);
    REQUIRE_MESSAGE(r, (r ? "" : r.err().message));
    REQUIRE(r->hits.size() == 1);
    CHECK(r->hits[0].entry.text == "the launch code of agent " + id + " is zebra-" + id);
    CHECK(r->mode == mem::mode::keyword);
    CHECK(r->note.find("no embedding provider") != std::string::npos);
  }

  // Naming another agent: search, stats, export, forget, put, wipe — all refused for b.
  auto denied = [&](const std::string& who, auto req) {
    auto r = ctl->call("agent/" + who, req, patient());
    REQUIRE_FALSE(r);
    CHECK_MESSAGE(mem::is(r.err(), mem::error_code::denied), r.err().to_string());
    return r.err().message;
  };
  mem::search sq;
  sq.agent = "a";
  sq.query = "launch code";
  CHECK(denied("b", sq).find("may not read the memory of agent 'a'") != std::string::npos);
  CHECK(denied("b", mem::stats{"a"}).size() > 0);
  CHECK(denied("b", mem::export_begin{"a"}).size() > 0);
  CHECK(denied("b", mem::forget{"a", {ids["a"]}}).find("may not change") != std::string::npos);
  auto bad_put = note("planted");
  bad_put.agent = "a";
  denied("b", bad_put);
  denied("b", mem::wipe{"a"});  // wipe is for weftd and weftctl only, even of one's own
  denied("a", mem::wipe{"a"});
  denied("b", mem::import_begin{"a", 10});

  // The share: c may search a's memory but not change it.
  sq.query = "zebra";
  auto shared = ask<mem::results>(*ctl, "agent/c", sq);
  REQUIRE_MESSAGE(shared, (shared ? "" : shared.err().message));
  REQUIRE(shared->hits.size() == 1);
  CHECK(shared->hits[0].entry.text.find("agent a") != std::string::npos);
  denied("c", mem::forget{"a", {ids["a"]}});
  denied("c", mem::export_begin{"a"});  // a share is for searching, not for taking it all

  // Nothing was planted, deleted or wiped: every namespace still holds exactly its entry.
  for (std::string id : {"a", "b", "c"}) {
    auto st = ask<mem::statistics>(*ctl, "memory", mem::stats{id});
    REQUIRE_MESSAGE(st, (st ? "" : st.err().message));
    CHECK(st->entries == 1);
  }

  // Each denial was published as an audit event naming the authenticated sender.
  std::set<std::string> from;
  auto until = std::chrono::steady_clock::now() + 10s;
  while (from.size() < 3 && std::chrono::steady_clock::now() < until)
    if (auto ev = (*events)->next(200ms))
      if (auto d = ev->second.as<proto::bus_v1::access_denied>()) from.insert(d->from);
  CHECK(from == std::set<std::string>{"agent/a", "agent/b", "agent/c"});

  // weftctl names the namespace; without --agent it says so.
  auto out = s->weftctl({"memory", "search", "--agent", "b", "zebra"});
  CHECK(out.exit_code == 0);
  CHECK(out.out.find("zebra-b") != std::string::npos);
  CHECK(out.out.find("zebra-a") == std::string::npos);
  auto usage = s->weftctl({"memory", "search", "zebra"});
  CHECK(usage.exit_code == 2);
  CHECK(usage.err.find("needs --agent") != std::string::npos);

  // The witness chain holds the denials and the writes, and verifies.
  auto verify = s->weftctl({"audit", "verify", "--dir", s->dir() + "/home/audit"});
  CHECK_MESSAGE(verify.exit_code == 0, (verify.out + verify.err));
  auto shown = s->weftctl({"audit", "show", "--dir", s->dir() + "/home/audit", "--last", "100"});
  CHECK_MESSAGE(shown.exit_code == 0, shown.err);
  CHECK(shown.out.find("access_denied") != std::string::npos);
  CHECK(shown.out.find("memory_write") != std::string::npos);
  CHECK(shown.out.find("agent/b") != std::string::npos);
}

TEST_CASE("kill -9 of memory during 10,000 writes: every acknowledged write is there, once") {
  auto s = test::stack::start(base_config(probes({"a"})));
  REQUIRE(s);
  auto ctl = s->bus_client();
  constexpr int total = 10000;
  constexpr std::size_t window = 32;
  struct sent {
    int n;
    std::chrono::steady_clock::time_point at;
  };
  std::map<std::uint64_t, sent> in_flight;  // request id → write number
  std::set<int> acked;
  std::map<int, std::string> acked_id;
  std::deque<int> retry;
  int next = 0, kills = 0;
  std::mt19937 rng(20261124);
  std::uniform_int_distribution<int> kill_gap(800, 2500);
  int next_kill = kill_gap(rng);
  auto send = [&](int n) {
    mem::put p = note(fmt::format("write {} of the crash test, {}", n, n % 7 == 0 ? "seventh" : "plain"),
                      {n % 2 ? "odd" : "even"}, fmt::format("crash-{}", n));
    p.agent = "a";
    auto id = ctl->send_request("memory", p);
    REQUIRE(id);
    in_flight[*id] = {n, std::chrono::steady_clock::now()};
  };
  auto deadline = std::chrono::steady_clock::now() + 240s;
  while (static_cast<int>(acked.size()) < total && std::chrono::steady_clock::now() < deadline) {
    while (in_flight.size() < window && (!retry.empty() || next < total)) {
      int n = next;
      if (retry.empty()) ++next;
      else n = retry.front(), retry.pop_front();
      send(n);
    }
    if (kills < 5 && static_cast<int>(acked.size()) >= next_kill) {
      auto pid = s->service_pid("memory");
      REQUIRE(pid > 0);
      REQUIRE(::kill(pid, SIGKILL) == 0);
      ++kills;
      next_kill += kill_gap(rng);
    }
    // A request the killed process took but never answered is sent again (same key).
    auto now = std::chrono::steady_clock::now();
    for (auto it = in_flight.begin(); it != in_flight.end();) {
      if (now - it->second.at < 3s) {
        ++it;
        continue;
      }
      ctl->forget(it->first);
      retry.push_back(it->second.n);
      it = in_flight.erase(it);
    }
    auto m = ctl->next(100ms);
    if (!m) continue;
    auto it = in_flight.find(m->env.id);
    if (it == in_flight.end()) continue;
    int n = it->second.n;
    in_flight.erase(it);
    if (m->is_error()) {
      retry.push_back(n);  // memory was down (NoSuchAddress) or restarting: same key again
      std::this_thread::sleep_for(5ms);
      continue;
    }
    auto st = m->as<mem::stored>();
    REQUIRE(st);
    if (acked.insert(n).second) acked_id[n] = st->id;
    else CHECK(acked_id[n] == st->id);  // a resend is answered with the first id
  }
  CHECK(kills == 5);
  REQUIRE(static_cast<int>(acked.size()) == total);

  auto file = s->dir() + "/crash.wmem";
  auto ex = s->weftctl({"memory", "export", "--agent", "a", "-o", file});
  REQUIRE_MESSAGE(ex.exit_code == 0, ex.err);
  auto c = read_all(file);
  CHECK(c.corrupt == 0);
  std::map<std::string, int> by_key;
  for (auto& [id, e] : c.entries) by_key[e.key]++;
  int missing = 0, doubled = 0;
  for (int n = 0; n < total; ++n) {
    auto k = fmt::format("crash-{}", n);
    if (!by_key.count(k)) ++missing;
    else if (by_key[k] > 1) ++doubled;
    else CHECK(c.entries[acked_id[n]].key == k);
  }
  CHECK(missing == 0);
  CHECK(doubled == 0);
  CHECK(c.entries.size() == static_cast<std::size_t>(total));
  auto st = ask<mem::statistics>(*ctl, "memory", mem::stats{"a"});
  REQUIRE(st);
  CHECK(st->entries == static_cast<std::uint64_t>(total));
  MESSAGE("memory was killed ", kills, " times during ", total, " acknowledged writes");
}

TEST_CASE("export, wipe, import: equal entry by entry; a flipped byte or a cut file is refused and changes nothing") {
  test::fake_peer llm("fake_llm.py", {"--key", "mem-key"});
  auto s = test::stack::start(base_config(probes({"a"}) + fake_embedder(llm)));
  REQUIRE(s);
  auto ctl = s->bus_client();
  std::vector<std::string> topics = {"rust borrow checker lifetimes", "garden tomatoes watering schedule",
                                     "kubernetes pod eviction", "sourdough starter feeding", "tax return deadline"};
  for (int i = 0; i < 200; ++i) {
    mem::put p;
    p.agent = "a";
    p.kind = i % 3 == 0 ? mem::kind::summary : i % 3 == 1 ? mem::kind::message : mem::kind::note;
    p.text = fmt::format("{} #{} — naïve café ✓", topics[i % topics.size()], i);
    p.session = fmt::format("telegram:{}", i % 4);
    p.role = i % 3 == 1 ? "user" : "";
    p.tags = {topics[i % topics.size()].substr(0, topics[i % topics.size()].find(' ')), i % 2 ? "odd" : "even"};
    p.key = fmt::format("k{}", i);
    p.created = utc_time(std::chrono::milliseconds(1763900000000LL + i * 3600000LL));
    auto r = ask<mem::stored>(*ctl, "memory", p);
    REQUIRE_MESSAGE(r, (r ? "" : r.err().message));
  }
  // Embeddings arrive in the background; wait until every entry has its vector.
  auto st = wait_stats(*ctl, "a", [](const mem::statistics& s) { return s.vectors == 200; });
  CHECK(st.vectors == 200);
  CHECK(st.dims == 64);
  CHECK(st.search.find("hybrid") != std::string::npos);

  // Hybrid search: the words of a topic find that topic first.
  mem::search q;
  q.agent = "a";
  q.query = "sourdough starter";
  q.k = 5;
  auto hits = ask<mem::results>(*ctl, "memory", q);
  REQUIRE_MESSAGE(hits, (hits ? "" : hits.err().message));
  CHECK(hits->mode == mem::mode::hybrid);
  REQUIRE(hits->hits.size() == 5);
  for (auto& h : hits->hits) CHECK(h.entry.text.find("sourdough") != std::string::npos);
  q.tags = {"even"};
  q.session = "telegram:1";
  hits = ask<mem::results>(*ctl, "memory", q);
  REQUIRE(hits);
  for (auto& h : hits->hits) {
    CHECK(h.entry.session == "telegram:1");
    CHECK(std::find(h.entry.tags.begin(), h.entry.tags.end(), "even") != h.entry.tags.end());
  }

  auto a = s->dir() + "/a.wmem";
  auto ex = s->weftctl({"memory", "export", "--agent", "a", "-o", a});
  REQUIRE_MESSAGE(ex.exit_code == 0, ex.err);
  auto before = read_all(a);
  CHECK(before.entries.size() == 200);
  CHECK(before.vectors.size() == 200);

  auto wipe = s->weftctl({"memory", "wipe", "--agent", "a", "--yes"});
  REQUIRE_MESSAGE(wipe.exit_code == 0, wipe.err);
  CHECK(ask<mem::statistics>(*ctl, "memory", mem::stats{"a"})->entries == 0);

  // A flipped byte, then a cut file: refused, and nothing is imported.
  std::string bytes;
  {
    std::ifstream in(a, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto flipped = s->dir() + "/flipped.wmem";
  {
    auto copy = bytes;
    copy[copy.size() / 2] ^= 0x10;
    std::ofstream(flipped, std::ios::binary) << copy;
  }
  auto bad = s->weftctl({"memory", "import", flipped});
  CHECK(bad.exit_code == 1);
  CHECK_MESSAGE(bad.err.find("nothing was changed") != std::string::npos, bad.err);
  auto cut = s->dir() + "/cut.wmem";
  std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() - 100);
  bad = s->weftctl({"memory", "import", cut});
  CHECK(bad.exit_code == 1);
  CHECK_MESSAGE(bad.err.find("Failed to import") != std::string::npos, bad.err);
  CHECK(ask<mem::statistics>(*ctl, "memory", mem::stats{"a"})->entries == 0);

  auto in = s->weftctl({"memory", "import", a});
  REQUIRE_MESSAGE(in.exit_code == 0, in.err);
  CHECK(in.out.find("imported 200 entries into agent 'a'") != std::string::npos);
  auto b = s->dir() + "/b.wmem";
  ex = s->weftctl({"memory", "export", "--agent", "a", "-o", b});
  REQUIRE_MESSAGE(ex.exit_code == 0, ex.err);
  auto after = read_all(b);
  CHECK(after.entries == before.entries);  // id, kind, text, session, role, tags, created, key
  CHECK(after.vectors == before.vectors);  // bit for bit
  // Importing again merges nothing new.
  in = s->weftctl({"memory", "import", a});
  CHECK(in.out.find("imported 0 entries") != std::string::npos);
  CHECK(in.out.find("200 already present") != std::string::npos);

  // Still searchable after the import (the vector index was rebuilt from the snapshot).
  q.tags.clear();
  q.session.clear();
  hits = ask<mem::results>(*ctl, "memory", q);
  REQUIRE(hits);
  CHECK(hits->mode == mem::mode::hybrid);
  REQUIRE_FALSE(hits->hits.empty());
  CHECK(hits->hits[0].entry.text.find("sourdough") != std::string::npos);
}

TEST_CASE("a real agent: its messages are indexed, memory_search finds them, its tool calls are witnessed") {
  test::fake_peer llm("fake_llm.py", {"--key", "mem-key"});
  auto s = test::stack::start(base_config("[agents.main.tools]\nfamilies = []\n" + fake_embedder(llm)));
  REQUIRE(s);
  auto ctl = s->bus_client();
  auto said = s->weftctl({"chat", "--agent", "main", "-m", "note that the wifi password is hunter2"});
  REQUIRE_MESSAGE(said.exit_code == 0, said.err);
  // The agent indexes the user's message and its reply once they are on disk.
  auto st = wait_stats(*ctl, "main", [](const mem::statistics& s) { return s.entries >= 2 && s.vectors >= 2; });
  CHECK(st.entries >= 2);
  CHECK(st.vectors >= 2);

  // The model calls memory_search (fake_llm: "call_tool:<name> <json>"); the tool result,
  // which the fake echoes as "Tool said: …", holds the remembered message.
  auto found = s->weftctl({"chat", "--agent", "main", "-m", R"(call_tool:memory_search {"query":"wifi password"})"});
  REQUIRE_MESSAGE(found.exit_code == 0, found.err);
  CHECK_MESSAGE(found.out.find("hunter2") != std::string::npos, found.out);

  auto search = s->weftctl({"memory", "search", "--agent", "main", "wifi"});
  CHECK(search.exit_code == 0);
  CHECK(search.out.find("(user)") != std::string::npos);

  // The tool call is in the witness chain, attributed to the agent by the bus.
  bool witnessed = false;
  auto until = std::chrono::steady_clock::now() + 10s;
  while (!witnessed && std::chrono::steady_clock::now() < until) {
    auto shown = s->weftctl({"audit", "show", "--dir", s->dir() + "/home/audit", "--last", "50"});
    witnessed = shown.out.find("tool_call") != std::string::npos && shown.out.find("agent/main") != std::string::npos &&
                shown.out.find("memory_search") != std::string::npos;
    if (!witnessed) std::this_thread::sleep_for(200ms);
  }
  CHECK(witnessed);
  auto verify = s->weftctl({"audit", "verify", "--dir", s->dir() + "/home/audit"});
  CHECK_MESSAGE(verify.exit_code == 0, (verify.out + verify.err));
}

TEST_CASE("texts the embedding provider refuses do not hold up the others") {
  test::fake_peer llm("fake_llm.py", {"--key", "mem-key"});
  auto s = test::stack::start(base_config(probes({"a"}) + fake_embedder(llm, "retries = 0\n")));
  REQUIRE(s);
  // The first Embed request is answered 400, as a provider does for an input over its
  // token limit.
  REQUIRE(llm.post("/_script", R"([{"status":400,"message":"input too long"}])").status == 200);
  auto ctl = s->bus_client();
  std::vector<std::uint64_t> sent;
  for (int i = 0; i < 6; ++i) {
    auto p = note(fmt::format("entry {} about gardening", i));
    p.agent = "a";
    auto id = ctl->send_request("memory", p);
    REQUIRE(id);
    sent.push_back(*id);
  }
  for (std::size_t got = 0; got < sent.size();) {
    auto m = ctl->next(20s);
    REQUIRE(m);
    REQUIRE_FALSE(m->is_error());
    ++got;
  }
  auto st = wait_stats(*ctl, "a", [](const mem::statistics& s) { return s.pending_embeddings == 0 && s.vectors >= 5; });
  CHECK(st.pending_embeddings == 0);
  auto reqs = nlohmann::json::parse(llm.get("/_requests").body);
  std::vector<std::size_t> batches;
  for (auto& r : reqs)
    if (r["path"].get<std::string>().find("embeddings") != std::string::npos) batches.push_back(r["body"]["input"].size());
  REQUIRE_FALSE(batches.empty());
  if (batches[0] == 1) {
    // A text refused on its own stays keyword-only; the others are embedded.
    CHECK(st.vectors == 5);
  } else {
    // A refused batch is retried one text at a time: all get their vectors.
    CHECK(st.vectors == 6);
    CHECK(std::count(batches.begin() + 1, batches.end(), 1u) >= 1);
  }
  // Every entry is found either way.
  mem::search q;
  q.agent = "a";
  q.query = "gardening";
  auto hits = ask<mem::results>(*ctl, "memory", q);
  REQUIRE(hits);
  CHECK(hits->hits.size() == 6);
  MESSAGE("embedding batches: ", fmt::format("{}", fmt::join(batches, ",")));
}
