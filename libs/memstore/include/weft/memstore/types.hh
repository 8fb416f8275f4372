#pragma once
/// The values the memory store keeps (entries, vectors, tombstones, wipes), where a record
/// lives, the visitor that replay and snapshot reading deliver them to, and the store's
/// error codes.

#include <compare>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <weft/base/result.hh>
#include <weft/base/time.hh>

namespace weft::memstore {

/// One memory entry as stored (the fields of io.weft.Memory.v1 Entry).
struct entry {
  std::string id;
  std::uint8_t kind = 0;  ///< proto::memory_v1::Kind value (1 note, 2 message, 3 summary)
  std::string text, session, role;
  std::vector<std::string> tags;
  utc_time created{};
  std::string key;  ///< idempotency key; empty: none
  bool operator==(const entry&) const = default;
};

/// Where a record starts: segment number (from 1) and byte offset in that segment file.
/// Ordered like the write order; `{}` is before every record.
struct location {
  std::uint32_t segment = 0;
  std::uint64_t offset = 0;
  auto operator<=>(const location&) const = default;
};

/// Receives records in write order (store::replay) or file order (read_snapshot).
class visitor {
 public:
  virtual ~visitor() = default;
  virtual void on_entry(const entry&, location) {}
  virtual void on_vector(std::string_view /*id*/, std::span<const float>, std::string_view /*model*/,
                         location) {}
  virtual void on_tombstone(std::string_view /*id*/) {}
  /// Everything before this record is deleted.
  virtual void on_wipe() {}
  /// A record failed its checksum or could not be decoded: it is skipped, never delivered.
  /// The error's message says which segment, which byte and why. Replay goes on with the next
  /// valid record (see docs/memory-format.md, "Recovery").
  virtual void on_corrupt(const error&) {}
};

/// Error codes of this library (domain "weft.memstore").
namespace errc {
inline constexpr std::string_view domain = "weft.memstore";
inline constexpr std::string_view io = "Io";                  ///< a system call failed (disk full, permissions)
inline constexpr std::string_view corrupt = "Corrupt";        ///< a checksum, magic or structure is wrong
inline constexpr std::string_view version = "UnsupportedVersion";  ///< written by a newer format version
inline constexpr std::string_view too_large = "TooLarge";     ///< a record over max_record_bytes
inline constexpr std::string_view locked = "Locked";          ///< another process has the store open
inline constexpr std::string_view invalid = "InvalidArgument";///< a bad location, empty id, mismatched namespace
}  // namespace errc

template <class... Args>
error fail(std::string_view code, fmt::format_string<Args...> f, Args&&... args) {
  return make_error(errc::domain, code, f, std::forward<Args>(args)...);
}

}  // namespace weft::memstore
