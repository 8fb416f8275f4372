#pragma once
/// Exit codes, mapped in one place: 0 ok, 1 failure, 2 usage or configuration error.

#include <string_view>

#include <fmt/core.h>

namespace weft::service {

enum class exit_code : int { ok = 0, failure = 1, usage = 2 };

inline int to_int(exit_code c) { return static_cast<int>(c); }

/// Prints "error: <what>" and "Try '<prog> --help'." to stderr; returns exit_code::usage.
inline int usage_error(std::string_view prog, std::string_view what) {
  fmt::print(stderr, "error: {}\nTry '{} --help'.\n", what, prog);
  return to_int(exit_code::usage);
}

}  // namespace weft::service
