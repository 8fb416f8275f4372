#pragma once
/// RVF segment files: the append-only, checksummed container the memory store writes.
/// Layout (little-endian; full description in docs/memory-format.md):
///   header  "RVF1" u16 version u16 0 u32 len u32 crc32c msgpack{ns, created}
///   records [u32 length][u32 crc32c(length bytes + payload)][payload], length 1..max
///   footer  (sealed only) u32 0xFFFFFFFF u32 crc32c u64 count u64 offsets[count]
///           u64 footer_offset "RVFS"
/// A reader never hands out a record whose checksum fails.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <weft/base/fd.hh>
#include <weft/memstore/types.hh>

namespace weft::memstore::rvf {

inline constexpr std::uint16_t format_version = 1;
inline constexpr std::uint32_t frame_bytes = 8;  ///< length + crc before each payload

/// The self-description at the start of every segment.
struct header {
  std::uint16_t version = format_version;
  std::string ns;      ///< the namespace (agent id) the segment belongs to
  utc_time created{};  ///< when the segment file was created
};

struct open_options {
  std::uint32_t max_record_bytes = 16u << 20;  ///< a longer length field is corruption
  bool writable = false;  ///< unsealed: cut a torn tail off and allow appends
};

/// One segment file. Sealed segments are read through their footer; the unsealed one is
/// scanned at open (records located, a torn tail cut off when writable) and is appended to.
class segment {
 public:
  /// Creates an empty segment atomically: `<file>.tmp`, header, fsync, rename, fsync dir.
  static result<segment> create(const std::filesystem::path& file, const header& h,
                                std::uint32_t max_record_bytes);
  /// Opens an existing segment. Fails on a bad or newer header; never on a bad record.
  static result<segment> open(const std::filesystem::path& file, const open_options& o);

  segment(segment&&) noexcept;
  segment& operator=(segment&&) noexcept;
  ~segment();

  const header& head() const { return _head; }
  const std::filesystem::path& path() const { return _path; }
  bool sealed() const { return _sealed; }
  std::uint64_t begin() const { return _begin; }  ///< offset of the first record
  std::uint64_t end() const { return _end; }      ///< after the last whole record
  std::uint64_t file_bytes() const { return _file_bytes; }
  std::uint64_t records() const { return _records; }          ///< valid records
  std::uint64_t corrupt_records() const { return _corrupt.size(); }  ///< found at open (unsealed)
  std::uint64_t dropped_tail_bytes() const { return _dropped; }      ///< cut off at open

  /// Reads and verifies the record at `offset`: its payload, or Corrupt naming the file
  /// and byte.
  result<std::string> read(std::uint64_t offset) const;

  /// Calls `fn(offset, payload)` for every valid record in order; a corrupt record is
  /// reported to `on_corrupt` and skipped, and the next record is still delivered (found
  /// through the footer index when sealed, by the scan at open when not).
  status for_each(const std::function<status(std::uint64_t, std::string_view)>& fn,
                  const std::function<void(const error&)>& on_corrupt) const;

  /// Appends one record (not yet durable); returns its offset. The payload must be a
  /// msgpack map (recovery relies on it to find the next record after a damaged one). On a
  /// failed write the file is cut back so no partial record stays.
  result<std::uint64_t> append(std::string_view payload);
  /// fdatasync: everything appended so far is durable when this returns.
  status sync();
  /// Writes the footer and syncs; no appends after.
  status seal();

 private:
  segment() = default;
  status scan(const open_options& o);
  status load_footer(std::vector<std::uint64_t>& offsets) const;
  error corrupt_at(std::uint64_t offset, std::string_view why) const;

  std::filesystem::path _path;
  unique_fd _fd;
  header _head;
  bool _sealed = false;
  bool _failed = false;  ///< a failed write could not be cut back: no more appends
  std::uint32_t _max_record = 16u << 20;
  std::uint64_t _begin = 0, _end = 0, _file_bytes = 0, _records = 0, _dropped = 0;
  std::uint64_t _footer = 0;                  ///< sealed: footer offset
  std::vector<std::uint64_t> _offsets;        ///< unsealed: valid record offsets
  std::vector<std::pair<std::uint64_t, std::string>> _corrupt;  ///< unsealed: bad spans found
};

/// CRC-32C (Castagnoli), hardware-accelerated where the CPU has it.
std::uint32_t crc32c(std::string_view data, std::uint32_t crc = 0);


}  // namespace weft::memstore::rvf
