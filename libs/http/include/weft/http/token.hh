#pragma once
/// Bearer tokens for weft's loopback HTTP servers (web chat, MCP): random, kept in a 0600
/// file that only the user weft runs as can read, so a local client (a test, weftctl, a
/// browser opening the printed URL) proves it is that user.

#include <cstddef>
#include <string>

#include <weft/base/result.hh>

namespace weft::http {

/// `bytes` random bytes from the kernel (getrandom), as lower-case hex; empty when the
/// kernel gave none.
std::string random_hex(std::size_t bytes);

/// The token in `file` (trimmed) when it holds one; else a new one (32 random bytes as 64
/// hex digits) written there with mode 0600, creating the directory (0700) first.
/// errc::io when the file cannot be written.
result<std::string> ensure_token(const std::string& file);

}  // namespace weft::http
