#pragma once
/// Offline verification of the witness chain straight from its files: every record's hash,
/// the links between records and between segments, every signature. Reports the chain as
/// intact with counts, or the first problem located to its segment, record and seq.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <weft/base/result.hh>
#include <weft/witness/record.hh>

namespace weft::witness {

/// What is wrong at the first problem found.
enum class problem_kind : std::uint8_t {
  altered = 1,          ///< a record's content does not match its hash (or the signed chain)
  removed = 2,          ///< a record is missing: the sequence has a gap
  reordered = 3,        ///< records are out of order
  duplicated = 4,       ///< a record appears twice
  bad_signature = 5,    ///< a checkpoint or seal signature fails (or another key signed)
  missing_segment = 6,  ///< a segment file is absent
  chain_broken = 7,     ///< a link fails in a way none of the above explains
  malformed = 8,        ///< not a witness segment, or bytes that are no frame
};

/// "altered", "removed", …
std::string_view to_string(problem_kind k);

struct problem {
  problem_kind kind{};
  std::string segment;           ///< "witness-000003.seg"
  std::uint64_t record = 0;      ///< 1-based position in the segment; 0 for the segment itself
  std::uint64_t seq = 0;         ///< the seq found at that position (0 when none)
  std::string detail;            ///< "hash mismatch", "seq 2016 missing; chain broken", …
  /// "segment witness-000003.seg, record 17 (seq 2017): altered (hash mismatch)"
  std::string to_string() const;
};

struct report {
  std::optional<problem> first_problem;  ///< empty when the chain is intact
  std::uint64_t segments = 0;            ///< segment files read
  std::uint64_t records = 0;             ///< records checked before the first problem
  std::uint64_t signatures = 0;          ///< checkpoint and seal signatures verified
  std::uint64_t first_seq = 0;
  std::uint64_t last_seq = 0;
  std::uint64_t unsigned_tail = 0;       ///< records after the last signature (not tampering)
  std::string head;                      ///< hex hash of the last record checked
  std::string key_id;                    ///< of the public key used
  std::vector<std::string> notes;        ///< things that are not tampering: a torn tail, …
  bool ok() const { return !first_problem; }
  /// Several lines for people: "OK: 3 segments, 2500 records (seq 1–2500), …" or the problem.
  std::string to_string() const;
};

/// Verifies the chain in `audit_dir` with the public key in `public_key_file`. Errors only
/// when verification cannot start (no such directory, unreadable or malformed public key);
/// tampering is reported in the report, not as an error.
result<report> verify(const std::filesystem::path& audit_dir,
                      const std::filesystem::path& public_key_file);

/// The last `n` records in chain order (all when n is 0), decoded without verification —
/// for showing; run verify() to trust them. Undecodable frames are skipped.
result<std::vector<record>> read_records(const std::filesystem::path& audit_dir, std::size_t n = 0);

}  // namespace weft::witness
