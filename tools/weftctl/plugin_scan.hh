#pragma once
/// The scan of a WASM plugin folder (plugin.toml and its module): what `weftctl security scan
/// DIR` and `weftctl plugin install` report beyond the scanner's rules over the folder's
/// files — the manifest's descriptions read as the prose they are (the model reads a tool's
/// description as prompt text, where a quoted TOML string would pass as a mention), and the
/// host functions asked for that the module never imports (SKL-079, which needs libs/wasm).

#include <string>
#include <vector>

#include <weft/plugin/manifest.hh>
#include <weft/scan/report.hh>
#include <weft/scan/scanner.hh>

namespace weft::ctl {

/// Findings of `m`'s descriptions and host functions for the folder `dir`, named in findings
/// as `shown` (the folder the admin named; the staged copy's path otherwise). A description's
/// finding of a rule the file scan (`already`) found in <shown>/plugin.toml is left out: one
/// finding per rule there is enough. An error when the module cannot be loaded goes to `errors`.
std::vector<scan::finding> plugin_findings(const std::string& dir, const plugin::manifest& m, const std::string& shown,
                                           const std::vector<scan::finding>& already, std::vector<std::string>& errors);

/// What skill and plugin install share around the scan's verdict.
/// The OS user, as far as this process can tell (the bus vouches only for ctl/<pid>).
std::string os_user();
/// Shows findings under the path the admin named instead of the staged copy's.
void relocate(std::vector<scan::finding>& findings, const std::string& from, const std::string& to);
/// The ids of the findings at or above the report's threshold, each once, worst first.
std::vector<std::string> blocking_ids(const scan::report& r);
/// Why an install without --force stops at `blocking` findings (at or above `threshold`).
std::string blocking_refusal(const std::vector<std::string>& blocking, scan::severity threshold);

}  // namespace weft::ctl
