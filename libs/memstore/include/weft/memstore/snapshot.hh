#pragma once
/// Snapshot files (`.wmem`): a namespace exported as one self-describing, checksummed file,
/// for `weftctl memory export/import`. Layout (docs/memory-format.md):
///   "WMEM" u16 version u16 0 u32 len u32 crc32c msgpack{agent, created, embedder, dims,
///   entries, vectors}, then RVF-framed records (entries, vectors), then the trailer:
///   sha256(everything before it) and "WEND".
/// Reading validates everything before success; read_snapshot verifies the whole file
/// before delivering the first record, so a caller can apply what it receives.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <weft/base/fd.hh>
#include <weft/base/io.hh>
#include <weft/memstore/types.hh>

namespace weft::memstore {

inline constexpr std::uint16_t snapshot_version = 1;

/// What a snapshot says about itself.
struct snapshot_meta {
  std::uint16_t version = snapshot_version;
  std::string agent;        ///< the namespace it was exported from
  utc_time created{};       ///< when it was written
  std::string embedder;     ///< provider/model of its vectors; empty: none
  std::uint32_t dims = 0;   ///< vector dimensions; 0: no vectors
  std::uint64_t entries = 0, vectors = 0;  ///< counted by the writer
  std::uint64_t bytes = 0;  ///< file size (filled in by finish/verify)
  std::string sha256;       ///< hex SHA-256 of the whole file (filled in by finish/verify)
};

struct snapshot_limits {
  std::uint32_t max_record_bytes = 16u << 20;
  std::uint64_t max_bytes = 64ull << 30;
};

/// Writes a snapshot to `<path>.tmp` and renames it into place at finish(), so `path`
/// is either absent or whole. Destroying an unfinished writer removes the temp file.
class snapshot_writer {
 public:
  static result<std::unique_ptr<snapshot_writer>> create(const std::filesystem::path& path,
                                                         snapshot_meta meta);
  ~snapshot_writer();
  status add(const entry&);
  /// `v.size()` must equal meta.dims (the first vector sets dims when it was 0).
  status add_vector(std::string_view id, std::span<const float> v, std::string_view model);
  /// Counts into the header, hash into the trailer, fsync, rename, fsync dir.
  result<snapshot_meta> finish();

 private:
  snapshot_writer() = default;
  std::filesystem::path _path;
  snapshot_meta _meta;
  std::optional<atomic_file> _file;  // the snapshot until finish() commits it
  int fd() const { return _file->fd(); }
  std::uint64_t _size = 0;
  std::uint32_t _header_len = 0;
  bool _done = false;
};

/// Convenience: create, let `source` add records, finish.
result<snapshot_meta> write_snapshot(const std::filesystem::path& path, snapshot_meta meta,
                                     const std::function<status(snapshot_writer&)>& source);

/// Checks magic, version, header, every record's checksum and decoding, the counts and the
/// trailer hash, reading in bounded chunks. Errors (code Corrupt or UnsupportedVersion)
/// read "Failed to import snapshot '<path>': <what> (…at byte N)".
result<snapshot_meta> verify_snapshot(const std::filesystem::path& path, snapshot_limits = {});

/// verify_snapshot, then delivers every record to `v` (location = {0, byte offset}). If the
/// file changes between the two passes the error is returned after the records that were
/// delivered: import into a staging area and keep it only on success.
result<snapshot_meta> read_snapshot(const std::filesystem::path& path, visitor& v,
                                    snapshot_limits = {});

}  // namespace weft::memstore
