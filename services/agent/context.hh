#pragma once
/// Fits a conversation into the model's context window: the system prompt, the session's
/// history, the current message and the current turn's tool steps, within a token budget.
///
/// Tokens are estimated as ceil(chars / 4) + 4 per message (a message's chars: its text,
/// its tool calls' id, name and arguments, and the tool_call_id); the system prompt counts
/// the same way, plus `fixed_tokens` for what else the request carries (tool schemas).
///
/// Messages covered by a summary (auto-summarisation, docs/turn.md "Memory") are never
/// sent; instead the summaries (at most `max_summaries`, the newest) are sent as a note
/// after the system prompt, "Summary of earlier conversation (…)", oldest first.
///
/// When the estimate exceeds the budget, in this order until it fits:
///   1. the contents of the history's tool results, oldest first, become a short stub;
///   2. the summaries but the newest are dropped, oldest first;
///   3. whole history turns (all messages of one turn_id: the user message, tool calls
///      and their results, the answer) are dropped, oldest first;
///   4. the newest summary is dropped;
///   5. the contents of the current turn's tool results, oldest first, become the stub;
///   6. the current message is cut (at a UTF-8 boundary) and ends with a marker.
/// The system prompt is never changed. A history turn whose tool calls and results do not
/// pair up (a hand-edited file) is left out whole, so providers never see a dangling call.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "proto/llm_v1.hh"
#include "services/agent/session.hh"

namespace weft::agent {

inline constexpr std::string_view dropped_result_stub = "[tool result removed to fit the context window]";
inline constexpr std::string_view summary_separator = "\n\n---\n\n";
inline constexpr std::string_view truncated_marker = "\n[… message truncated to fit the context window]";

/// Estimated tokens of one model message.
std::size_t estimate_tokens(const proto::llm_v1::turn& t);
/// Estimated tokens of a text sent as its own message (the system prompt).
std::size_t estimate_tokens(std::string_view text);

struct context_input {
  std::string_view system;                    ///< never dropped
  const std::vector<entry>* history = nullptr;  ///< the session so far, oldest first
  std::uint64_t history_base = 0;             ///< ordinal (in the session file) of history[0]
  const std::vector<summary_record>* summaries = nullptr;  ///< the session's summaries
  std::size_t max_summaries = 4;              ///< at most this many (the newest) are sent
  std::string current;                        ///< what the person said now
  std::vector<proto::llm_v1::turn> steps;      ///< this turn's tool calls and results so far
  std::size_t budget_tokens = 0;
  std::size_t fixed_tokens = 0;               ///< tool schemas etc.
};

struct context_output {
  std::string summary_note;                   ///< goes after the system prompt ("" when none)
  std::vector<proto::llm_v1::turn> messages;  ///< history, current message, steps
  std::size_t tokens = 0;                     ///< estimate of the whole request
  std::size_t stubbed_results = 0;            ///< tool results replaced by the stub
  std::size_t dropped_turns = 0;              ///< history turns left out for the budget
  std::size_t summarised_messages = 0;        ///< history messages replaced by summaries
  std::size_t summaries = 0;                  ///< summaries in the note
  std::size_t dropped_summaries = 0;          ///< summaries left out for the budget
  std::size_t skipped_turns = 0;              ///< history turns left out as inconsistent
  bool truncated = false;                     ///< the current message was cut
};

/// Pure: builds the messages of a model request within the budget.
context_output assemble_context(const context_input& in);

}  // namespace weft::agent
