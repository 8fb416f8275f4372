#include "context.hh"

#include <algorithm>

#include "services/agent/memory.hh"

namespace weft::agent {

namespace llm = proto::llm_v1;

namespace {

constexpr std::size_t per_message = 4;

std::size_t chars_of(const llm::turn& t) {
  std::size_t n = t.text.size() + t.tool_call_id.size();
  for (auto& c : t.tool_calls) n += c.id.size() + c.name.size() + c.arguments.size();
  return n;
}

llm::turn to_turn(const entry& e) {
  llm::turn t;
  t.role = e.role;
  t.text = e.content;
  t.tool_calls = e.tool_calls;
  t.tool_call_id = e.tool_call_id;
  t.is_error = e.is_error;
  return t;
}

/// One history turn: entries [begin, end) of the history.
struct group {
  std::size_t begin = 0, end = 0;
  std::size_t tokens = 0;
};

std::size_t chars_of(const entry& e) {
  std::size_t n = e.content.size() + e.tool_call_id.size();
  for (auto& c : e.tool_calls) n += c.id.size() + c.name.size() + c.arguments.size();
  return n;
}

std::size_t tokens_of(const entry& e) { return (chars_of(e) + 3) / 4 + per_message; }

/// True when every tool call has a result in the group and every result a call.
bool consistent(const std::vector<entry>& h, const group& g) {
  std::vector<std::string_view> calls, results;
  for (auto i = g.begin; i < g.end; ++i) {
    for (auto& c : h[i].tool_calls) calls.push_back(c.id);
    if (h[i].role == llm::role::tool) results.push_back(h[i].tool_call_id);
  }
  if (calls.size() != results.size()) return false;
  std::sort(calls.begin(), calls.end());
  std::sort(results.begin(), results.end());
  return calls == results;
}

/// Replaces a tool result's text by the stub; returns the tokens saved.
std::size_t stub(llm::turn& t) {
  if (t.role != llm::role::tool || t.text.size() <= dropped_result_stub.size()) return 0;
  auto before = estimate_tokens(t);
  t.text = std::string(dropped_result_stub);
  return before - estimate_tokens(t);
}

/// The longest prefix of `s` of at most `n` bytes that does not split a UTF-8 sequence.
std::string utf8_prefix(const std::string& s, std::size_t n) {
  if (n >= s.size()) return s;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

}  // namespace

std::size_t estimate_tokens(const llm::turn& t) { return (chars_of(t) + 3) / 4 + per_message; }

std::size_t estimate_tokens(std::string_view text) {
  return text.empty() ? 0 : (text.size() + 3) / 4 + per_message;
}

context_output assemble_context(const context_input& in) {
  context_output out;
  static const std::vector<entry> none;
  const auto& h = in.history ? *in.history : none;

  // History → groups of one turn each (a turn_id; messages without one start a new group
  // at every user message). Nothing is copied until the end: decisions are made on
  // indexes, so a long history costs one pass and one copy of what is kept.
  // Messages covered by a summary are replaced by it.
  auto covered = in.summaries ? covered_until(*in.summaries) : 0;
  std::size_t skip = covered > in.history_base ? static_cast<std::size_t>(std::min<std::uint64_t>(
                                                     covered - in.history_base, h.size()))
                                               : 0;
  out.summarised_messages = skip;
  std::vector<std::string> notes;
  std::vector<std::size_t> note_tokens;
  if (in.summaries && in.max_summaries) {
    auto& all = *in.summaries;
    auto from = all.size() > in.max_summaries ? all.size() - in.max_summaries : 0;
    for (auto i = from; i < all.size(); ++i) {
      notes.push_back(summary_note(all[i]));
      note_tokens.push_back((summary_separator.size() + notes.back().size() + 3) / 4);
    }
  }
  std::vector<group> groups;
  for (std::size_t i = skip; i < h.size(); ++i) {
    auto& e = h[i];
    bool same = false;
    if (!groups.empty()) {
      auto& id = h[groups.back().begin].turn_id;
      same = e.turn_id.empty() ? e.role != llm::role::user && id.empty() : e.turn_id == id;
    }
    if (!same) groups.push_back({i, i, 0});
    groups.back().end = i + 1;
    groups.back().tokens += tokens_of(e);
  }
  std::vector<group> kept;
  kept.reserve(groups.size());
  for (auto& g : groups) {
    if (consistent(h, g)) kept.push_back(g);
    else ++out.skipped_turns;
  }

  llm::turn current;
  current.role = llm::role::user;
  current.text = in.current;
  std::vector<llm::turn> steps = in.steps;

  std::size_t total = in.fixed_tokens + estimate_tokens(in.system) + estimate_tokens(current);
  for (auto& g : kept) total += g.tokens;
  for (auto& s : steps) total += estimate_tokens(s);
  for (auto n : note_tokens) total += n;
  std::size_t first_note = 0;
  auto over = [&] { return total > in.budget_tokens; };

  // 1. History tool results, oldest first (remembered by index, applied when copying).
  std::vector<bool> stubbed(h.size(), false);
  for (auto& g : kept) {
    for (auto i = g.begin; i < g.end && over(); ++i) {
      auto& e = h[i];
      if (e.role != llm::role::tool || e.content.size() <= dropped_result_stub.size()) continue;
      auto saved = tokens_of(e) - ((dropped_result_stub.size() + e.tool_call_id.size() + 3) / 4 + per_message);
      stubbed[i] = true;
      total -= saved;
      g.tokens -= saved;
      ++out.stubbed_results;
    }
    if (!over()) break;
  }
  // 2. Summaries but the newest, oldest first.
  while (over() && first_note + 1 < notes.size()) {
    total -= note_tokens[first_note++];
    ++out.dropped_summaries;
  }
  // 3. Whole history turns, oldest first.
  std::size_t first = 0;
  while (over() && first < kept.size()) {
    total -= kept[first].tokens;
    ++first;
    ++out.dropped_turns;
  }
  // 4. The newest summary.
  if (over() && first_note < notes.size()) {
    total -= note_tokens[first_note++];
    ++out.dropped_summaries;
  }
  // 5. This turn's tool results, oldest first.
  for (auto& s : steps) {
    if (!over()) break;
    if (auto saved = stub(s)) {
      total -= saved;
      ++out.stubbed_results;
    }
  }
  // 6. The current message itself.
  if (over()) {
    auto others = total - estimate_tokens(current);
    auto room_tokens = in.budget_tokens > others + per_message ? in.budget_tokens - others - per_message : 0;
    auto room_chars = room_tokens * 4;
    auto keep = room_chars > truncated_marker.size() ? room_chars - truncated_marker.size() : 0;
    current.text = utf8_prefix(current.text, keep) + std::string(truncated_marker);
    total = others + estimate_tokens(current);
    out.truncated = true;
  }

  for (auto i = first_note; i < notes.size(); ++i) {
    if (!out.summary_note.empty()) out.summary_note += summary_separator;
    out.summary_note += notes[i];
    ++out.summaries;
  }
  std::size_t count = 1 + steps.size();
  for (auto k = first; k < kept.size(); ++k) count += kept[k].end - kept[k].begin;
  out.messages.reserve(count);
  for (auto k = first; k < kept.size(); ++k)
    for (auto i = kept[k].begin; i < kept[k].end; ++i) {
      auto t = to_turn(h[i]);
      if (stubbed[i]) t.text = std::string(dropped_result_stub);
      out.messages.push_back(std::move(t));
    }
  out.messages.push_back(std::move(current));
  for (auto& s : steps) out.messages.push_back(std::move(s));
  out.tokens = total;
  return out;
}

}  // namespace weft::agent
