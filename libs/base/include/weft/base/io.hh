#pragma once
/// Small file-descriptor helpers shared by the tiers above.

#include <cstddef>
#include <string>

#include <weft/base/result.hh>

namespace weft {

/// Reads `fd` to its end (retrying EINTR); the fd stays open. Errors carry only the reason,
/// for the caller to put in its own "Failed to read …" message: errc::io with the system's
/// text, or errc::invalid_argument "larger than N bytes" once more than `max_bytes` arrived.
result<std::string> read_to_end(int fd, std::size_t max_bytes);

}  // namespace weft
