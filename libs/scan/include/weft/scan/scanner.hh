#pragma once
/// The scanner: reads skill and plugin folders as data (never runs, never expands, never
/// follows anything in them) and reports what the rule table finds, with limits so that a
/// hostile folder (a 1 GB file, a zip bomb, a symlink loop, 10,000 nested directories,
/// invalid UTF-8) costs bounded time and memory and is itself reported.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <weft/scan/rules.hh>

namespace weft::scan {

/// One thing a rule found.
struct finding {
  const rule* r = nullptr;
  std::string file;         ///< path as scanned (or the config file, the home directory)
  std::uint32_t line = 0;   ///< 1-based; 0: the file as a whole
  std::string message;      ///< one line: the rule's title and what was seen
  std::uint32_t more = 0;   ///< further matches of the same rule in the same file
};

/// What one scan may cost; every limit reached is a finding, not an error.
struct limits {
  std::uint64_t max_file_bytes = 4u << 20;      ///< larger files are not read (SKL-073)
  std::uint64_t max_total_bytes = 512u << 20;   ///< files past this are not read (SKL-078)
  std::uint32_t max_files = 20000;              ///< entries past this are not visited (SKL-078)
  std::uint32_t max_depth = 24;                 ///< directories deeper are not entered (SKL-076)
  std::uint64_t max_archive_uncompressed = 100u << 20;  ///< an archive claiming more is a bomb (SKL-079)
  std::uint32_t max_archive_ratio = 100;        ///< or compressing better than this
};

/// Findings of the content rules (line, block and the text detectors) in one file's text.
/// `name` decides whether it is a script, Markdown or a manifest.
std::vector<finding> scan_text(std::string_view name, std::string_view text, const limits& lim = {});

/// What an archive's directory claims, read without expanding anything.
struct archive_info {
  std::string kind;           ///< zip, gzip, tar, 7z, rar, xz, bzip2
  std::uint64_t entries = 0;
  std::uint64_t compressed = 0, uncompressed = 0;  ///< zip: sums of the central directory
  bool encrypted = false;     ///< zip: an entry with the encryption flag
  bool nested = false;        ///< zip: an entry that is itself an archive
  bool truncated = false;     ///< zip: the directory is damaged or cut short
};

/// The archive format of `head` (the first bytes of a file), or "".
std::string_view archive_kind(std::string_view head);
/// Reads a zip file's central directory from its bytes (the file's tail is enough when it
/// holds the whole directory); never decompresses.
archive_info inspect_zip(std::string_view bytes);

/// Scans files and folders (each PATH a skill folder, a tree of them, or one file).
struct tree_report {
  std::vector<finding> findings;
  std::uint64_t files = 0, bytes = 0;  ///< files read and their bytes
  std::vector<std::string> errors;      ///< "Failed to read '<path>': reason" (scan goes on)
};
tree_report scan_paths(const std::vector<std::string>& paths, const limits& lim = {});

/// Worst severity in `f`, or nullopt when empty.
bool any_at_or_above(const std::vector<finding>& f, severity s);

}  // namespace weft::scan
