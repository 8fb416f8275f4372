#pragma once
/// The only writer of the witness chain (run inside the memory process, which alone holds
/// the signing key). Appends records to the open segment, signs a checkpoint every
/// `checkpoint_records` records or when asked to sync after `checkpoint_interval`, and
/// seals the segment with a signature when it is full. Not for concurrent use by two
/// processes; calls from several threads of one process are serialised.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include <weft/base/result.hh>
#include <weft/witness/record.hh>

namespace weft::witness {

struct writer_options {
  std::uint64_t segment_records = 100000;     ///< seal and roll over after this many records
  std::uint64_t segment_bytes = 64u << 20;    ///< … or once the segment file is this large
  std::uint32_t checkpoint_records = 256;     ///< sign a checkpoint at least this often
  /// append() and sync() sign a checkpoint when the last one is older than this and
  /// records are unsigned; zero makes every sync() sign.
  std::chrono::milliseconds checkpoint_interval{1000};
  std::uint32_t max_record_bytes = 64u << 10;  ///< an entry encoding larger is refused
  bool sync_every_append = false;              ///< fdatasync after each append
};

/// What open() found and did; for the caller to log.
struct recovery {
  std::uint64_t torn_bytes = 0;       ///< cut off the open segment (an interrupted write)
  std::uint64_t torn_records = 0;     ///< whole-looking but damaged records cut off with them
  bool key_generated = false;         ///< the key file was created by this open
  bool segment_created = false;       ///< a new segment was started by this open
  bool checkpoint_written = false;    ///< an unsigned tail found at open was signed
};

struct writer_stats {
  std::uint64_t last_seq = 0;           ///< 0 while the chain is empty
  std::uint64_t segment = 0;            ///< number of the open segment
  std::uint64_t segment_records = 0;    ///< records in the open segment
  std::uint64_t segment_bytes = 0;      ///< size of the open segment file
  std::uint64_t unsigned_records = 0;   ///< records after the last checkpoint
  std::uint64_t appended = 0;           ///< by this writer since open
  std::uint64_t checkpoints = 0;        ///< signed by this writer since open
  std::uint64_t segments_sealed = 0;    ///< by this writer since open
  std::string key_id;                   ///< hex, 16 characters
  std::string head;                     ///< hex hash of the last record
};

class writer {
 public:
  /// Opens (creating as needed) the chain in `audit_dir` and the signing key in
  /// `key_file`. A missing key is generated (file 0600, directory 0700) and its public
  /// half written to `<audit_dir>/witness.pub`. A torn tail left by a crash is cut back
  /// to the last whole record (see recovery()) and the chain continues from there.
  /// Fails, naming the file, on: a key file of the wrong size or readable by others, a
  /// public key file that does not match the key, a chain signed by another key, or
  /// damage before the tail (which `weftctl audit verify` locates).
  static result<std::unique_ptr<writer>> open(const std::filesystem::path& audit_dir,
                                              const std::filesystem::path& key_file,
                                              writer_options options = {});
  ~writer();
  writer(const writer&) = delete;
  writer& operator=(const writer&) = delete;

  /// Appends one record; returns its sequence number. Durable after the next sync()
  /// (or at once with sync_every_append).
  result<std::uint64_t> append(const entry& e);
  /// fdatasync of the open segment, after signing a checkpoint when records are unsigned
  /// and the last checkpoint is older than checkpoint_interval.
  status sync();
  /// Signs a checkpoint now if any record is unsigned, and syncs.
  status checkpoint();

  writer_stats stats() const;
  const struct recovery& recovery() const { return _recovery; }

  struct state;  // defined in writer.cc

 private:
  writer() = default;
  status roll_over_locked();
  status checkpoint_locked(bool seal);
  mutable std::mutex _mu;
  std::unique_ptr<state> _s;
  struct recovery _recovery;
};

}  // namespace weft::witness
