#include "memory.hh"

#include <algorithm>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <sodium.h>

#include <weft/base/io.hh>

namespace weft::agent {

namespace llm = proto::llm_v1;
namespace mem = proto::memory_v1;
using json = nlohmann::json;

namespace {

constexpr std::size_t transcript_message_bytes = 4000;
constexpr std::size_t transcript_tool_bytes = 600;

/// One line: newlines and tabs become spaces, runs of spaces one.
std::string one_line(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    if (c == ' ' && (out.empty() || out.back() == ' ')) continue;
    out += c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

result<std::vector<std::string>> string_list(const json& j, const char* field) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) return std::vector<std::string>{};
  if (!it->is_array()) return fail(errc::invalid_argument, "'{}' must be a list of strings", field);
  std::vector<std::string> out;
  for (auto& v : *it) {
    if (!v.is_string()) return fail(errc::invalid_argument, "'{}' must be a list of strings", field);
    out.push_back(v.get<std::string>());
  }
  if (out.size() > 32) return fail(errc::invalid_argument, "'{}' has {} entries; at most 32", field, out.size());
  return out;
}

result<std::optional<utc_time>> time_field(const json& j, const char* field) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) return std::optional<utc_time>{};
  if (!it->is_string()) return fail(errc::invalid_argument, "'{}' must be an RFC 3339 time, e.g. 2026-01-31T12:00:00Z", field);
  auto t = parse_rfc3339(it->get<std::string>());
  if (!t)
    return fail(errc::invalid_argument, "'{}' is not an RFC 3339 time (e.g. 2026-01-31T12:00:00Z): {}", field,
                t.err().message);
  return std::optional<utc_time>{*t};
}

result<json> object_of(std::string_view text) {
  auto j = json::parse(text.empty() ? std::string_view("{}") : text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return fail(errc::invalid_argument, "the arguments must be a JSON object");
  return j;
}

/// True when entry i starts a new turn (the grouping of context.cc).
bool turn_start(const std::vector<entry>& m, std::size_t i) {
  if (i == 0) return true;
  auto& e = m[i];
  auto& id = m[i - 1].turn_id;
  bool same = e.turn_id.empty() ? e.role != llm::role::user && id.empty() : e.turn_id == id;
  return !same;
}

}  // namespace

llm::tool_spec memory_search_spec() {
  return {std::string(memory_search_name),
          "Search your long-term memory: earlier conversations (all sessions), notes you stored and summaries. "
          "Returns the best matches with their time, session and role.",
          R"j({"type":"object","properties":{)j"
          R"j("query":{"type":"string","description":"What to look for (words or a question)"},)j"
          R"j("k":{"type":"integer","minimum":1,"maximum":100,"description":"How many results (default 10)"},)j"
          R"j("session":{"type":"string","description":"Only this session key"},)j"
          R"j("since":{"type":"string","description":"Only entries at or after this RFC 3339 time"},)j"
          R"j("until":{"type":"string","description":"Only entries before this RFC 3339 time"},)j"
          R"j("tags":{"type":"array","items":{"type":"string"},"description":"Only entries with all these tags"}},)j"
          R"j("required":["query"]})j"};
}

llm::tool_spec memory_store_spec() {
  return {std::string(memory_store_name),
          "Remember a fact or note for later conversations (found again with memory_search).",
          R"j({"type":"object","properties":{)j"
          R"j("text":{"type":"string","description":"What to remember, self-contained"},)j"
          R"j("tags":{"type":"array","items":{"type":"string"},"description":"Tags to find it by"}},)j"
          R"j("required":["text"]})j"};
}

result<mem::search> parse_search_arguments(std::string_view text) {
  auto j = object_of(text);
  if (!j) return j.take_error();
  mem::search s;
  auto q = j->find("query");
  if (q == j->end() || !q->is_string() || one_line(q->get<std::string>()).empty())
    return fail(errc::invalid_argument, "'query' is required: the words or question to search for");
  s.query = q->get<std::string>();
  if (auto k = j->find("k"); k != j->end() && !k->is_null()) {
    if (!k->is_number_integer() || k->get<std::int64_t>() < 1 || k->get<std::int64_t>() > 100)
      return fail(errc::invalid_argument, "'k' must be a whole number from 1 to 100");
    s.k = static_cast<std::uint32_t>(k->get<std::int64_t>());
  }
  if (auto v = j->find("session"); v != j->end() && !v->is_null()) {
    if (!v->is_string()) return fail(errc::invalid_argument, "'session' must be a string (a session key)");
    s.session = v->get<std::string>();
  }
  auto since = time_field(*j, "since");
  if (!since) return since.take_error();
  auto until = time_field(*j, "until");
  if (!until) return until.take_error();
  s.since = *since;
  s.until = *until;
  auto tags = string_list(*j, "tags");
  if (!tags) return tags.take_error();
  s.tags = std::move(*tags);
  return s;
}

result<mem::put> parse_store_arguments(std::string_view text, std::uint32_t max_text_bytes) {
  auto j = object_of(text);
  if (!j) return j.take_error();
  auto t = j->find("text");
  if (t == j->end() || !t->is_string() || one_line(t->get<std::string>()).empty())
    return fail(errc::invalid_argument, "'text' is required: what to remember");
  mem::put p;
  p.kind = mem::kind::note;
  p.text = t->get<std::string>();
  if (p.text.size() > max_text_bytes)
    return fail(errc::invalid_argument, "'text' has {} bytes; at most {} can be stored", p.text.size(), max_text_bytes);
  auto tags = string_list(*j, "tags");
  if (!tags) return tags.take_error();
  p.tags = std::move(*tags);
  p.created = utc_now();
  return p;
}

std::string format_hits(const mem::results& r, std::string_view query, std::size_t snippet_bytes) {
  std::string out;
  if (r.hits.empty()) {
    out = fmt::format("No memories found for '{}'.", query);
  } else {
    out = fmt::format("{} memor{} found for '{}' ({} search), best first:", r.hits.size(),
                      r.hits.size() == 1 ? "y" : "ies", query, r.mode == mem::mode::keyword ? "keyword"
                                                                : r.mode == mem::mode::vector ? "vector"
                                                                                              : "hybrid");
    std::size_t n = 0;
    for (auto& h : r.hits) {
      auto& e = h.entry;
      auto text = one_line(e.text);
      auto cut = utf8_cut(text, snippet_bytes);
      if (cut.size() < text.size()) cut += " …";
      out += fmt::format("\n{}. [{}] {}", ++n, to_rfc3339(e.created), mem::to_string(e.kind));
      if (!e.session.empty()) out += fmt::format(" session={}", e.session);
      if (!e.role.empty()) out += fmt::format(" role={}", e.role);
      if (!e.tags.empty()) out += fmt::format(" tags={}", fmt::join(e.tags, ","));
      out += fmt::format(" score={:.3f}: {}", h.score, cut);
    }
  }
  if (!r.note.empty()) out += fmt::format("\n(note: {})", r.note);
  return out;
}

std::string sha256_hex(std::string_view text) {
  unsigned char h[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(h, reinterpret_cast<const unsigned char*>(text.data()), text.size());
  return to_hex(std::string_view(reinterpret_cast<const char*>(h), sizeof h));
}

std::string utf8_cut(std::string_view s, std::size_t n) {
  if (n >= s.size()) return std::string(s);
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return std::string(s.substr(0, n));
}

std::uint64_t covered_until(const std::vector<summary_record>& s) {
  std::uint64_t c = 0;
  for (auto& r : s) c = std::max(c, r.to);
  return c;
}

std::optional<summary_plan> plan_summary(const std::vector<entry>& m, std::uint64_t base, std::uint64_t covered,
                                         std::uint32_t after, std::uint32_t keep, std::size_t max_chars) {
  if (after == 0 || covered < base) return std::nullopt;
  auto total = base + m.size();
  if (covered >= total || total - covered <= after) return std::nullopt;
  if (total <= keep) return std::nullopt;
  auto limit = total - keep;
  std::optional<std::uint64_t> best, smallest;
  std::size_t chars = 0;
  for (auto o = covered; o < limit; ++o) {
    chars += m[o - base].content.size();
    auto next = o + 1;
    if (!turn_start(m, static_cast<std::size_t>(next - base))) continue;
    if (!smallest) smallest = next;
    if (chars <= max_chars) best = next;
    else break;
  }
  // The last message before `limit` ends a turn only when `limit` starts one; checked above
  // for next < total (turn_start of index next - base), and limit < total since keep >= 1.
  if (best) return summary_plan{covered, *best};
  if (smallest) return summary_plan{covered, *smallest};
  return std::nullopt;
}

std::string_view summary_instruction() {
  return "You summarise part of a conversation between a person and an AI assistant, so the assistant can "
         "continue it without the full transcript. Write a concise summary in the language of the "
         "conversation: the facts, decisions, preferences and open questions, names, numbers, file names and "
         "commands that matter, and what the assistant did with tools. Leave out greetings and small talk. "
         "Write plain prose or short bullet points, at most about 300 words, and nothing else.";
}

std::string summary_transcript(const std::vector<entry>& m, std::size_t begin, std::size_t end) {
  std::string out = "Summarise this part of the conversation:\n";
  for (auto i = begin; i < end && i < m.size(); ++i) {
    auto& e = m[i];
    auto limit = e.role == llm::role::tool ? transcript_tool_bytes : transcript_message_bytes;
    auto text = utf8_cut(e.content, limit);
    if (text.size() < e.content.size()) text += " […]";
    out += fmt::format("\n[{}] {}", e.ts, e.role == llm::role::tool ? "tool result" : llm::to_string(e.role));
    if (e.role == llm::role::tool && !e.tool_name.empty()) out += fmt::format(" ({})", e.tool_name);
    out += ": " + text;
    for (auto& c : e.tool_calls) out += fmt::format("\n  (called {} {})", c.name, utf8_cut(c.arguments, 200));
    out += "\n";
  }
  return out;
}

std::string summary_markdown(std::string_view session, std::string_view agent, const summary_record& r) {
  return fmt::format(
      "# Summary of session {}\n\n"
      "- session: {}\n- agent: {}\n- messages: {} to {} ({} messages)\n- first message: {}\n- last message: {}\n"
      "- created: {}\n\n{}\n",
      session, session, agent, r.from, r.to == 0 ? 0 : r.to - 1, r.to - r.from, r.first_ts, r.last_ts, r.created,
      r.text);
}

std::string summary_file_path(std::string_view stem, std::size_t n) {
  return fmt::format("memory/summaries/{}-{:03}.md", stem, n);
}

std::string summary_note(const summary_record& r) {
  return fmt::format("Summary of earlier conversation ({} messages, {} to {}):\n{}", r.to - r.from, r.first_ts,
                     r.last_ts, r.text);
}

}  // namespace weft::agent
