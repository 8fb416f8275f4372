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

/// Replaces `file` with `data` so that it is either the old or the new content after a
/// crash: writes `<file>.tmp` (created with `mode`, exactly, whatever the umask), fsyncs
/// it, renames it over `file` and syncs the directory. The temporary file is removed on
/// failure. errc::io "Failed to <create|write|sync|rename> '<path>': <reason>".
status write_file_atomic(const std::filesystem::path& file, std::string_view data, unsigned mode = 0600);

/// The same inside an open directory, for callers that must not resolve a path again (a
/// directory opened beneath a confinement root): `name` is one entry of `dir_fd`, a
/// directory opened for reading (not O_PATH: it is synced). The temporary file has a name
/// of its own (`.<name>.<random>.tmp`) and is created with O_EXCL | O_NOFOLLOW, so nothing
/// placed in the directory beforehand (a file, a symlink pointing elsewhere) is written
/// through. The same rule: written with `mode` exactly, fsynced, renamed over `name`, the
/// directory synced. errc::io "<step>: <reason>" ("sync: No space left on device") for the
/// caller's own "Failed to write '<path>': …", as only the caller knows the path.
status write_file_atomic_at(int dir_fd, std::string_view name, std::string_view data, unsigned mode = 0600);

/// posix_spawn attributes for a child that is a process group of its own (so it and what
/// it starts can be signalled together), with no blocked signals and the default action
/// for the ones a service catches (TERM, INT, PIPE, HUP, QUIT, CHLD). Destroy with
/// posix_spawnattr_destroy.
void init_child_spawnattr(posix_spawnattr_t& attr);

/// Lower-case hex of `bytes`, two digits per byte.
std::string to_hex(std::string_view bytes);

}  // namespace weft
