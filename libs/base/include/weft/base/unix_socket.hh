#pragma once
/// A listening UNIX stream socket at a path: how a service offers something to processes
/// that cannot reach the host's network (a tool in its own network namespace reaches a
/// socket file, not 127.0.0.1). Used by the egress proxy and the llm's messages endpoint.

#include <sys/types.h>

#include <string>

#include <weft/base/fd.hh>
#include <weft/base/result.hh>

namespace weft {

/// Creates the parent directories, replaces a socket file left at `path` by an earlier run,
/// binds, sets `mode` on the file and listens; non-blocking, close-on-exec.
/// errc::invalid_argument when the path is too long for a socket address ("Failed to listen
/// on '<path>': the path is longer than 107 bytes"), errc::io otherwise.
result<unique_fd> listen_unix(const std::string& path, mode_t mode);

}  // namespace weft
