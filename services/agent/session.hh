#pragma once
/// A conversation's durable record: one JSONL file per session in <workspace>/sessions/,
/// so an agent restart loses nothing and a redelivered Turn is answered from the file.
///
/// Line 1: {"type":"session","key":…,"agent":…,"created":"<RFC 3339 ms Z>"}
/// Then one message per line, written together at the end of each turn:
///   {"type":"message","role":"user","content":…,"ts":…,"turn_id":…}
///   {"type":"message","role":"assistant","content":…,"tool_calls":[{"id","name","arguments"}],…}
///   {"type":"message","role":"tool","tool_call_id":…,"name":…,"content":…,"is_error":false,…}
///   {"type":"message","role":"assistant","content":…,"final":true,"iterations":N,"tool_call_count":M,…}
/// and, after an auto-summary (docs/turn.md "Memory"), one metadata line naming the
/// messages it covers by ordinal (the n-th message line of the file, from 0; end exclusive):
///   {"type":"summary","from":0,"to":48,"first_ts":…,"last_ts":…,"file":"memory/summaries/….md",
///    "created":…,"text":…}
/// Lines of other types are kept for forward compatibility (ignored).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <weft/base/result.hh>

#include "proto/llm_v1.hh"

namespace weft::agent {

/// One message of a session.
struct entry {
  proto::llm_v1::role role = proto::llm_v1::role::user;
  std::string content;
  std::vector<proto::llm_v1::tool_call> tool_calls;  ///< assistant: calls it made
  std::string tool_call_id;                          ///< tool: the call it answers
  std::string tool_name;                             ///< tool: the tool's name
  bool is_error = false;                             ///< tool: the call failed
  std::string structured;                            ///< tool: its structured result (JSON object text), if any
  std::string turn_id;
  std::string ts;                  ///< RFC 3339 as written
  bool final = false;              ///< assistant: the turn's answer
  std::uint32_t iterations = 0;    ///< final: model calls the turn made
  std::uint32_t tool_call_count = 0;  ///< final: tool calls the turn made
  bool operator==(const entry&) const = default;
};

/// A summary of messages [from, to) of a session (ordinals of its message lines).
struct summary_record {
  std::uint64_t from = 0, to = 0;
  std::string first_ts, last_ts;  ///< times of the first and last message covered
  std::string file;               ///< workspace-relative path of the markdown file
  std::string created;
  std::string text;
  bool operator==(const summary_record&) const = default;
};

/// The file name of a session key: every byte but [A-Za-z0-9_-] percent-encoded (so
/// "telegram:42" is "telegram%3A42.jsonl"); keys whose encoding would pass 200 bytes are
/// cut and suffixed with a hash of the whole key. An empty key is "%00".
std::string session_file_name(std::string_view key);

/// The metadata line (with '\n').
std::string encode_session_header(std::string_view key, std::string_view agent, std::string_view created);
/// One message line (with '\n').
std::string encode_entry(const entry& e);
/// One summary line (with '\n').
std::string encode_summary(const summary_record& r);

/// What a session file held.
struct loaded_session {
  std::vector<entry> entries;
  std::vector<summary_record> summaries;  ///< in file order
  std::vector<std::string> warnings;  ///< "<file>:<line>: …", one per skipped line
  bool has_header = false;
  bool needs_newline = false;  ///< the file ends in a partial line: start the next append with '\n'
};

/// Parses a session file's text; a malformed line is skipped with a warning naming
/// `file_name`:line, and everything after it is still read.
loaded_session parse_session(std::string_view text, std::string_view file_name);

/// Reads and parses a session file; a missing file is an empty session.
result<loaded_session> load_session(const std::string& path);

}  // namespace weft::agent
