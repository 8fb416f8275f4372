#pragma once
/// One entry of the witness chain: who did what to what, and when. The chain makes
/// later edits, deletions and reorderings of these entries evident (docs/audit.md).

#include <array>
#include <cstdint>
#include <string>

#include <weft/base/time.hh>

namespace weft::witness {

/// What the writer is asked to record; the writer assigns the sequence number.
struct entry {
  utc_time time{};      ///< when it happened; the epoch (default) means "now" at append
  std::string actor;    ///< bus-authenticated sender: "agent/main", "router", "memory", …
  std::string kind;     ///< "tool_call", "route", "memory_write", "access_denied", …
  std::string subject;  ///< what was acted on: a tool address, an agent, an entry id
  std::string detail;   ///< free text or JSON with the particulars (bounded by the writer)
  bool operator==(const entry&) const = default;
};

/// A stored entry with its place in the chain.
struct record {
  std::uint64_t seq = 0;  ///< 1, 2, 3, … across all segments, without gaps
  utc_time time{};
  std::string actor;
  std::string kind;
  std::string subject;
  std::string detail;
  bool operator==(const record&) const = default;
};

/// SHA-256 digest: the chain's link from one record to the next.
using digest = std::array<std::uint8_t, 32>;

/// Lower-case hex of `d` (64 characters).
std::string to_hex(const digest& d);

/// File names inside the audit directory.
inline constexpr const char* public_key_name = "witness.pub";
/// "witness-000001.seg" for segment 1.
std::string segment_name(std::uint64_t number);

}  // namespace weft::witness
