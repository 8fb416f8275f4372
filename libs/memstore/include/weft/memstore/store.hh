#pragma once
/// The durable store of one memory namespace: a directory of RVF segment files whose
/// active (last, unsealed) segment is the write-ahead log. A write is appended, then made
/// durable by sync(); only then may the caller change its indexes and acknowledge it.
/// One writer per directory (an flock on `<dir>/lock` refuses a second).

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <weft/base/fd.hh>
#include <weft/memstore/rvf.hh>
#include <weft/memstore/types.hh>

namespace weft::memstore {

struct store_options {
  std::uint64_t segment_bytes = 64ull << 20;   ///< seal the active segment at this size
  bool sync = true;                            ///< false: sync() does nothing (tests, benches)
  std::uint32_t max_record_bytes = 16u << 20;  ///< longer records are refused / corrupt
};

class store {
 public:
  /// Opens (creating if needed) the store in `dir` for namespace `ns`: takes the writer
  /// lock, opens sealed segments through their footers, scans the active one and cuts off
  /// a torn tail. Fails on a segment of another namespace or a newer format version.
  static result<std::unique_ptr<store>> open(const std::filesystem::path& dir, std::string ns,
                                             store_options = {});
  ~store();

  /// Delivers every valid record in write order; on_vector only for records at or after
  /// `vectors_from` (a checkpoint's end()). Corrupt records go to on_corrupt, never to
  /// on_entry/on_vector.
  result<void> replay(visitor&, location vectors_from = {});

  result<location> append(const entry&);
  result<location> append_vector(std::string_view id, std::span<const float>, std::string_view model);
  result<void> append_tombstone(std::string_view id);
  result<void> append_wipe();
  /// Group commit: one fdatasync covers everything appended since the last sync.
  /// After a failed sync the store refuses further writes (reopen it to recover).
  result<void> sync();

  /// The position after the last appended record (a checkpoint position).
  location end() const;
  /// Re-reads a vector written by append_vector; checksum verified.
  result<std::vector<float>> read_vector(location) const;

  struct stats {
    std::uint32_t segments;
    std::uint64_t bytes;               ///< size of all segment files
    std::uint64_t records;             ///< valid records
    std::uint64_t dropped_tail_bytes;  ///< torn tail cut off at open
    std::uint64_t corrupt_records = 0; ///< corrupt records (skipped, kept on disk) seen at open or by the last replay
  };
  stats statistics() const;

  /// Rewrites sealed segments without records deleted by a later tombstone or wipe.
  /// Locations inside rewritten segments change: replay afterwards (and drop checkpoints
  /// taken before) instead of using old locations there. Returns bytes reclaimed.
  result<std::uint64_t> compact();

  const std::string& ns() const { return _ns; }
  const std::filesystem::path& dir() const { return _dir; }

 private:
  store() = default;
  result<location> write(std::string_view payload);
  status next_segment();

  std::filesystem::path _dir;
  std::string _ns;
  store_options _opt;
  unique_fd _lock_fd;
  std::vector<rvf::segment> _segments;  ///< by number order; back() is active
  std::vector<std::uint32_t> _numbers;  ///< segment numbers, parallel to _segments
  bool _dirty = false;                  ///< appended since the last sync
  std::optional<error> _broken;         ///< a failed sync: writes refused until reopened
  std::uint64_t _corrupt = 0;           ///< corrupt records seen at open / by the last replay
};

}  // namespace weft::memstore
