#pragma once
#include <spawn.h>
/// Small file-descriptor helpers shared by the tiers above.

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include <weft/base/result.hh>

namespace weft {

/// Reads `fd` to its end (retrying EINTR); the fd stays open. Errors carry only the reason,
/// for the caller to put in its own "Failed to read …" message: errc::io with the system's
/// text, or errc::invalid_argument "larger than N bytes" once more than `max_bytes` arrived.
result<std::string> read_to_end(int fd, std::size_t max_bytes);

/// Writes all of `bytes` to `fd` (retrying short writes and EINTR); no sync. Errors carry
/// only the reason (errc::io with the system's text), for the caller's "Failed to …".
status write_all(int fd, std::string_view bytes);

/// fsync of a directory: makes a file created, renamed or removed in it durable.
/// errc::io "Failed to sync directory '<dir>': <reason>" (or "Failed to open directory …").
status sync_dir(const std::filesystem::path& dir);

/// A file that appears under its name only complete and durable: the one rule by which weft
/// replaces a file. It is written as a temporary file beside its target (its own name,
/// `.<name>.<random>.tmp`, created with O_EXCL | O_NOFOLLOW and exactly `mode`, whatever the
/// umask), so nothing placed there beforehand is written through; commit() fsyncs it, renames
/// it over the target and fsyncs the directory. Readers see the old or the new content, also
/// after a crash. Destroyed before commit(), it leaves nothing behind.
///
/// Errors: for a file named by path, errc::io "Failed to <step> '<path>': <reason>"; for an
/// entry of an open directory (create_at), "<step>: <reason>" for the caller's own
/// "Failed to write '<path>': …", as only the caller knows the path.
class atomic_file {
 public:
  /// The file `file` (its directory must exist).
  static result<atomic_file> create(const std::filesystem::path& file, unsigned mode = 0600);
  /// Entry `name` of the open directory `dir_fd` (opened for reading, not O_PATH: it is
  /// synced; it must stay open until commit()), for callers that must not resolve a path
  /// again (a directory opened beneath a confinement root).
  static result<atomic_file> create_at(int dir_fd, std::string_view name, unsigned mode = 0600);
  atomic_file(atomic_file&& o) noexcept;
  atomic_file& operator=(atomic_file&&) = delete;
  ~atomic_file();

  status write(std::string_view bytes);
  /// The temporary file's descriptor (open for reading and writing), for writers that need
  /// one (pwrite, reading back what they wrote).
  int fd() const { return _fd; }
  /// Durable under its name: fsync, rename over the target, fsync the directory.
  status commit();
  /// Under its name, not synced (write_file_volatile).
  status commit_volatile();

 private:
  atomic_file() = default;
  error failed(std::string_view step, int err);
  status finish(bool durable);
  void discard();
  int _dir = -1;            // the directory (owned when _own_dir)
  bool _own_dir = false;
  int _fd = -1;
  std::string _tmp, _name;  // entries of _dir
  std::string _path;        // the target as the caller named it; empty for create_at
};

/// Replaces `file` with `data` by the rule of atomic_file.
status write_file_atomic(const std::filesystem::path& file, std::string_view data, unsigned mode = 0600);
/// The same replacement without the two fsyncs, for files weft makes again when they are
/// lost: those of the runtime directory ($WEFT_RUNTIME_DIR: port files), which mean nothing
/// after a reboot (/run is tmpfs under systemd), and generated tokens (a lost one is
/// replaced at the next start). Readers still see the old or the new content, never a part;
/// a crash may take the new one back. Measured: on ext4 the fsyncs of the web chat's token
/// and port file cost 2 ms of a cold start of the default stack (docs/benchmarks.md).
status write_file_volatile(const std::filesystem::path& file, std::string_view data, unsigned mode = 0600);
/// The same for entry `name` of the open directory `dir_fd` (atomic_file::create_at).
status write_file_atomic_at(int dir_fd, std::string_view name, std::string_view data, unsigned mode = 0600);

/// posix_spawn attributes for a child that is a process group of its own (so it and what
/// it starts can be signalled together), with no blocked signals and the default action
/// for the ones a service catches (TERM, INT, PIPE, HUP, QUIT, CHLD). Destroy with
/// posix_spawnattr_destroy.
void init_child_spawnattr(posix_spawnattr_t& attr);

/// Lower-case hex of `bytes`, two digits per byte.
std::string to_hex(std::string_view bytes);

}  // namespace weft
