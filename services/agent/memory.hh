#pragma once
/// The agent's side of memory (docs/turn.md "Memory"), as pure functions the event loop
/// uses: which messages a session's next summary covers, the text the model summarises,
/// the markdown file written for it, the memory_search / memory_store tools (their
/// schemas, arguments and results) and the witness hash of a tool call's arguments.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <weft/base/result.hh>

#include "proto/llm_v1.hh"
#include "proto/memory_v1.hh"
#include "services/agent/session.hh"

namespace weft::agent {

inline constexpr std::string_view memory_search_name = "memory_search";
inline constexpr std::string_view memory_store_name = "memory_store";

proto::llm_v1::tool_spec memory_search_spec();
proto::llm_v1::tool_spec memory_store_spec();

/// memory_search's arguments → a Search for the agent's own namespace (agent left empty:
/// the memory service uses the sender the bus authenticated). BadArguments-style errors
/// (errc::invalid_argument) name the field.
result<proto::memory_v1::search> parse_search_arguments(std::string_view json_text);
/// memory_store's arguments → a Put of kind note (agent empty, created now).
result<proto::memory_v1::put> parse_store_arguments(std::string_view json_text, std::uint32_t max_text_bytes);

/// Search results as compact text for the model: one line per hit with its time (RFC 3339),
/// kind, session, role, score and a one-line snippet of at most `snippet_bytes`.
std::string format_hits(const proto::memory_v1::results& r, std::string_view query, std::size_t snippet_bytes = 400);

/// Lowercase hex SHA-256 of `text` (libsodium).
std::string sha256_hex(std::string_view text);

/// The longest prefix of `s` of at most `n` bytes that does not split a UTF-8 sequence.
std::string utf8_cut(std::string_view s, std::size_t n);

/// Messages [from, to) of a session (ordinals of its message lines) to summarise next.
struct summary_plan {
  std::uint64_t from = 0, to = 0;
  bool operator==(const summary_plan&) const = default;
};

/// The first message ordinal not covered by any summary (0: none).
std::uint64_t covered_until(const std::vector<summary_record>& s);

/// Decides whether a session is due a summary. `messages` are the session's messages from
/// ordinal `base` on (the whole tail, at least from `covered`: the caller loads the file
/// when its in-memory history starts later). Due when more than `after` messages are not
/// covered; the plan covers the oldest uncovered messages up to the last turn boundary
/// (a user message starting a new turn_id) at or before `total - keep`, and — so the
/// summarisation request fits the model — at most `max_chars` of message text (but always
/// at least one whole turn). nullopt: not due, or no turn boundary to cut at.
std::optional<summary_plan> plan_summary(const std::vector<entry>& messages, std::uint64_t base,
                                         std::uint64_t covered, std::uint32_t after, std::uint32_t keep,
                                         std::size_t max_chars);

/// The fixed instruction the model is given to summarise.
std::string_view summary_instruction();

/// The transcript the model summarises: one paragraph per message, "[ts] role: text"
/// (tool calls named, tool results and long messages cut).
std::string summary_transcript(const std::vector<entry>& messages, std::size_t begin, std::size_t end);

/// The markdown file of a summary: a header (session, agent, messages, first and last
/// message time, created) and the text.
std::string summary_markdown(std::string_view session, std::string_view agent, const summary_record& r);

/// "memory/summaries/<stem>-<NNN>.md" for the n-th (1-based) summary of a session file stem.
std::string summary_file_path(std::string_view session_stem, std::size_t n);

/// The note the context assembler puts in front of the history for a summary.
std::string summary_note(const summary_record& r);

}  // namespace weft::agent
