#pragma once
/// Reading what cargo prints: its --message-format=json compiler messages and libtest's
/// lines, from a crate the model may have written — outside input, fuzzed
/// (tests/fuzz/fuzz_cargo_output.cc). Plain data, no process.

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weft::tools::cargo {

/// One compiler message.
struct diagnostic {
  std::string level, code, message, file;
  unsigned line = 0, column = 0;
  std::string replacement;  ///< a suggested replacement, when the compiler gave one
};

/// What one cargo run found: its diagnostics (deduplicated) and test outcomes.
struct run_report {
  std::vector<diagnostic> diagnostics;
  std::vector<std::string> passed, ignored;
  std::vector<std::pair<std::string, std::string>> failed;  ///< test name, its output
  std::string other;  ///< output that was neither (cargo's own errors, fmt's diff)
};

struct output_limits {
  std::size_t max_diagnostics = 200;
  std::size_t max_output_bytes = 64 * 1024;  ///< of a failed test's output, of `other`
};

/// Reads cargo's stdout (JSON messages and libtest's lines) into a report.
run_report parse_output(std::string_view out, const output_limits& lim);

/// What `cargo package` printed (human form: it has no JSON messages): the compiler's
/// `error[E…]: …` / `warning: …` headers with their `--> file:line:col`, cargo's own
/// `error:`/`warning:` lines, and the "Packaged N files, …" summary.
struct package_report {
  std::vector<diagnostic> diagnostics;
  std::string summary;  ///< "Packaged 4 files, 1.1KiB (788B compressed)", or ""
};
package_report parse_package_output(std::string_view out, const output_limits& lim);

}  // namespace weft::tools::cargo
