// Unit tests of the agent's side of memory: when a session is due a summary and what it
// covers, summary lines in the session file, the context assembler replacing summarised
// messages by the summary, the memory tools' arguments and results, the witness hash.
#include <doctest/doctest.h>

#include "services/agent/context.hh"
#include "services/agent/durable_writer.hh"
#include "services/agent/memory.hh"
#include "services/agent/session.hh"
#include "tests/temp_dir.hh"

#include <filesystem>
#include <fstream>

using namespace weft;
using namespace weft::agent;
namespace llm = weft::proto::llm_v1;
namespace mem = weft::proto::memory_v1;

namespace {

entry msg(llm::role r, std::string text, std::string turn_id, std::string ts = "2026-01-01T00:00:00.000Z") {
  entry e;
  e.role = r;
  e.content = std::move(text);
  e.turn_id = std::move(turn_id);
  e.ts = std::move(ts);
  return e;
}

/// n turns of user + final assistant (2 messages each), turn ids t0, t1, …
std::vector<entry> turns(int n, std::size_t chars = 10) {
  std::vector<entry> out;
  for (int i = 0; i < n; ++i) {
    auto id = "t" + std::to_string(i);
    out.push_back(msg(llm::role::user, std::string(chars, 'u'), id, fmt::format("2026-01-01T00:00:{:02}.000Z", i)));
    out.push_back(msg(llm::role::assistant, std::string(chars, 'a'), id, fmt::format("2026-01-01T00:00:{:02}.500Z", i)));
  }
  return out;
}

}  // namespace

TEST_CASE("summary plan: due only past the threshold; covers the oldest up to a turn boundary before the kept tail") {
  auto h = turns(5);  // 10 messages
  CHECK_FALSE(plan_summary(h, 0, 0, 10, 4, 1 << 20));  // 10 uncovered, not more than 10
  CHECK_FALSE(plan_summary(h, 0, 0, 0, 4, 1 << 20));   // 0: never
  auto p = plan_summary(h, 0, 0, 8, 4, 1 << 20);
  REQUIRE(p);
  CHECK(*p == summary_plan{0, 6});  // keep the 4 newest (2 turns)
  // keep = 3 cuts inside a turn: back to the boundary before it.
  p = plan_summary(h, 0, 0, 8, 3, 1 << 20);
  REQUIRE(p);
  CHECK(*p == summary_plan{0, 6});
  // Already covered up to 6: 4 uncovered, not due.
  CHECK_FALSE(plan_summary(h, 0, 6, 4, 2, 1 << 20));
  // With a lower threshold, the next piece starts where the last ended.
  p = plan_summary(h, 0, 6, 2, 2, 1 << 20);
  REQUIRE(p);
  CHECK(*p == summary_plan{6, 8});
}

TEST_CASE("summary plan: a trimmed in-memory history (base > 0) and the size cap") {
  auto h = turns(10, 100);  // 20 messages of 100 chars
  // The history in memory starts at ordinal 4; covered 4.
  std::vector<entry> tail(h.begin() + 4, h.end());
  auto p = plan_summary(tail, 4, 4, 10, 4, 1 << 20);
  REQUIRE(p);
  CHECK(*p == summary_plan{4, 16});
  // Covered before the in-memory start: the caller must load the file.
  CHECK_FALSE(plan_summary(tail, 4, 2, 10, 4, 1 << 20));
  // At most 450 chars: two turns (400 chars) fit, a third would not.
  p = plan_summary(h, 0, 0, 10, 4, 450);
  REQUIRE(p);
  CHECK(*p == summary_plan{0, 4});
  // A cap below one turn still covers one whole turn.
  p = plan_summary(h, 0, 0, 10, 4, 10);
  REQUIRE(p);
  CHECK(*p == summary_plan{0, 2});
}

TEST_CASE("summary plan: tool calls and results stay with their turn") {
  std::vector<entry> h;
  for (int i = 0; i < 4; ++i) {
    auto id = "t" + std::to_string(i);
    h.push_back(msg(llm::role::user, "q", id));
    auto call = msg(llm::role::assistant, "", id);
    call.tool_calls.push_back({"c" + std::to_string(i), "read_file", "{}"});
    h.push_back(call);
    auto res = msg(llm::role::tool, "r", id);
    res.tool_call_id = "c" + std::to_string(i);
    h.push_back(res);
    h.push_back(msg(llm::role::assistant, "done", id));
  }
  // 16 messages, keep 6: the boundary at or before 10 is 8 (turn t2 starts there).
  auto p = plan_summary(h, 0, 0, 10, 6, 1 << 20);
  REQUIRE(p);
  CHECK(*p == summary_plan{0, 8});
  auto text = summary_transcript(h, 0, 4);
  CHECK(text.find("user: q") != std::string::npos);
  CHECK(text.find("(called read_file {})") != std::string::npos);
  CHECK(text.find("tool result (") == std::string::npos);  // no tool name recorded
  CHECK(text.find("tool result: r") != std::string::npos);
}

TEST_CASE("session: summary lines round-trip and do not count as messages") {
  summary_record r{0, 6, "2026-01-01T00:00:00.000Z", "2026-01-01T00:00:02.500Z", "memory/summaries/web%3As1-001.md",
                   "2026-01-02T00:00:00.000Z", "They talked about arm64.\nAnd CI."};
  auto h = turns(2);
  std::string text = encode_session_header("web:s1", "main", "2026-01-01T00:00:00.000Z");
  for (auto& e : h) text += encode_entry(e);
  text += encode_summary(r);
  text += encode_entry(msg(llm::role::user, "after", "t9"));
  text += R"({"type":"summary","from":5,"to":2})" "\n";  // from > to: skipped with a warning
  auto l = parse_session(text, "s.jsonl");
  CHECK(l.entries.size() == 5);
  REQUIRE(l.summaries.size() == 1);
  CHECK(l.summaries[0] == r);
  REQUIRE(l.warnings.size() == 1);
  CHECK(l.warnings[0].find("s.jsonl:8:") == 0);
  CHECK(covered_until(l.summaries) == 6);
  CHECK(covered_until({}) == 0);
}

TEST_CASE("context: summarised messages are replaced by the summary note") {
  auto h = turns(4);  // t0..t3
  std::vector<summary_record> sums{{0, 4, "2026-01-01T00:00:00.000Z", "2026-01-01T00:00:01.500Z", "f", "c", "EARLY"}};
  context_input in;
  in.system = "sys";
  in.history = &h;
  in.summaries = &sums;
  in.current = "now";
  in.budget_tokens = 100000;
  auto out = assemble_context(in);
  CHECK(out.summarised_messages == 4);
  CHECK(out.summaries == 1);
  CHECK(out.summary_note.find("Summary of earlier conversation (4 messages, 2026-01-01T00:00:00.000Z to "
                              "2026-01-01T00:00:01.500Z):\nEARLY") == 0);
  REQUIRE(out.messages.size() == 5);  // t2, t3 and the current message
  CHECK(out.messages[0].text == std::string(10, 'u'));
  CHECK(out.messages[4].text == "now");

  // The in-memory history starts at ordinal 2 (t0 trimmed): only t1 is skipped.
  std::vector<entry> tail(h.begin() + 2, h.end());
  in.history = &tail;
  in.history_base = 2;
  out = assemble_context(in);
  CHECK(out.summarised_messages == 2);
  CHECK(out.messages.size() == 5);

  // No summaries: everything is sent.
  in.history = &h;
  in.history_base = 0;
  in.summaries = nullptr;
  out = assemble_context(in);
  CHECK(out.summary_note.empty());
  CHECK(out.messages.size() == 9);
}

TEST_CASE("context: drop order — older summaries, then history turns, then the newest summary") {
  auto h = turns(4, 400);  // 8 messages of ~104 tokens
  std::vector<summary_record> sums{{0, 0, "a", "b", "f1", "c", std::string(400, 'x')},
                                   {0, 0, "a", "b", "f2", "c", std::string(400, 'y')},
                                   {0, 0, "a", "b", "f3", "c", std::string(400, 'z')}};
  context_input in;
  in.history = &h;
  in.summaries = &sums;
  in.current = "now";
  in.max_summaries = 2;  // f1 is never sent
  in.budget_tokens = 100000;
  auto out = assemble_context(in);
  CHECK(out.summaries == 2);
  CHECK(out.summary_note.find('x') == std::string::npos);
  CHECK(out.summary_note.find("yyy") < out.summary_note.find("zzz"));
  auto full = out.tokens;

  // Room for all but ~100 tokens: the older summary (y) goes, history stays whole.
  in.budget_tokens = full - 50;
  out = assemble_context(in);
  CHECK(out.dropped_summaries == 1);
  CHECK(out.dropped_turns == 0);
  CHECK(out.summary_note.find("zzz") != std::string::npos);
  CHECK(out.summary_note.find("yyy") == std::string::npos);

  // Much less: history turns go next, the newest summary stays while the budget allows.
  in.budget_tokens = full - 500;
  out = assemble_context(in);
  CHECK(out.dropped_summaries == 1);
  CHECK(out.dropped_turns >= 2);
  CHECK(out.summary_note.find("zzz") != std::string::npos);

  // Nothing of the history fits: the newest summary goes too.
  in.budget_tokens = 20;
  out = assemble_context(in);
  CHECK(out.summary_note.empty());
  CHECK(out.dropped_summaries == 2);
  CHECK(out.dropped_turns == 4);
}

TEST_CASE("memory tools: arguments, refusals naming the field, results as text") {
  auto s = parse_search_arguments(
      R"({"query":"arm64 build","k":5,"session":"telegram:1","since":"2026-11-01T00:00:00Z","tags":["ci"]})");
  REQUIRE(s);
  CHECK(s->agent.empty());  // the memory service uses the authenticated sender
  CHECK(s->query == "arm64 build");
  CHECK(s->k == 5);
  CHECK(s->session == "telegram:1");
  CHECK(s->since.has_value());
  CHECK_FALSE(s->until.has_value());
  CHECK(s->tags == std::vector<std::string>{"ci"});
  CHECK(parse_search_arguments(R"({"query":"x"})")->k == 10);
  CHECK(parse_search_arguments(R"({"k":3})").err().message.find("'query'") != std::string::npos);
  CHECK(parse_search_arguments(R"({"query":"x","k":0})").err().message.find("'k'") != std::string::npos);
  CHECK(parse_search_arguments(R"({"query":"x","since":"yesterday"})").err().message.find("'since'") !=
        std::string::npos);
  CHECK(parse_search_arguments(R"({"query":"x","tags":"ci"})").err().message.find("'tags'") != std::string::npos);
  CHECK_FALSE(parse_search_arguments("not json"));

  auto p = parse_store_arguments(R"({"text":"prefers short answers","tags":["style"]})", 1000);
  REQUIRE(p);
  CHECK(p->kind == mem::kind::note);
  CHECK(p->agent.empty());
  CHECK(p->tags == std::vector<std::string>{"style"});
  CHECK(p->created.has_value());
  CHECK(parse_store_arguments(R"({"text":"   "})", 1000).err().message.find("'text'") != std::string::npos);
  CHECK(parse_store_arguments(R"({"text":"0123456789"})", 5).err().message.find("at most 5") != std::string::npos);

  mem::results r;
  r.mode = mem::mode::keyword;
  r.note = "no embedding provider is configured: keyword search only";
  mem::hit h;
  h.entry.kind = mem::kind::message;
  h.entry.text = "the build\nbroke on arm64";
  h.entry.session = "telegram:1";
  h.entry.role = "user";
  h.entry.created = *parse_rfc3339("2026-11-24T07:20:31.123Z");
  h.score = 0.8123;
  r.hits.push_back(h);
  auto text = format_hits(r, "arm64");
  CHECK(text.find("1 memory found for 'arm64' (keyword search)") == 0);
  CHECK(text.find("1. [2026-11-24T07:20:31.123Z] message session=telegram:1 role=user score=0.812: the build broke on "
                  "arm64") != std::string::npos);
  CHECK(text.find("(note: no embedding provider") != std::string::npos);
  h.entry.text = std::string(1000, 'x');
  r.hits = {h};
  CHECK(format_hits(r, "x", 100).find(std::string(100, 'x') + " …") != std::string::npos);
  r.hits.clear();
  r.note.clear();
  CHECK(format_hits(r, "nothing") == "No memories found for 'nothing'.");
}

TEST_CASE("witness hash and summary files") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(utf8_cut("h\xc3\xa9llo", 2) == "h");
  CHECK(summary_file_path("web%3As1", 7) == "memory/summaries/web%3As1-007.md");
  summary_record r{10, 20, "2026-01-01T00:00:00.000Z", "2026-01-01T01:00:00.000Z", "", "2026-01-02T00:00:00.000Z",
                   "TEXT"};
  auto md = summary_markdown("web:s1", "main", r);
  CHECK(md.find("# Summary of session web:s1\n") == 0);
  CHECK(md.find("- messages: 10 to 19 (10 messages)") != std::string::npos);
  CHECK(md.find("- first message: 2026-01-01T00:00:00.000Z") != std::string::npos);
  CHECK(md.find("- created: 2026-01-02T00:00:00.000Z") != std::string::npos);
  CHECK(md.ends_with("\nTEXT\n"));

  weft::test::temp_dir d{"weft-agent-mem"};
  auto path = d.path.string() + "/memory/summaries/x-001.md";
  REQUIRE(write_file_atomically(path, "one"));
  REQUIRE(write_file_atomically(path, "two"));
  std::ifstream f(path);
  std::string got((std::istreambuf_iterator<char>(f)), {});
  CHECK(got == "two");
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
}
