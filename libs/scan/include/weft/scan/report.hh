#pragma once
/// How findings are shown: a table for people, JSON for scripts (schema in
/// docs/guides/security.md), and the rule table as Markdown for the guide.

#include <string>
#include <vector>

#include <weft/scan/scanner.hh>

namespace weft::scan {

/// One change --fix makes (or, in a dry run, would make).
struct fix {
  std::string rule;    ///< the finding's rule id
  std::string path;
  std::string action;  ///< "chmod 0600 (was 0644)"
  int mode = -1;            ///< the mode to set, or -1
  unsigned clear = 0;       ///< permission bits to clear (with `recursive`: in the whole tree)
  bool recursive = false;
  bool applied = false;
  std::string error;   ///< why it could not be applied
  std::string diff;    ///< moving a secret: the unified diff, the value masked
};

/// Everything one `weftctl security scan` saw.
struct report {
  std::vector<std::string> paths;  ///< skill paths scanned
  std::string config;              ///< the config audited ("" when not)
  std::string home;                ///< the $WEFT_HOME audited ("" when not)
  std::string runtime;             ///< the running weftd checked: its runtime directory ("" when not)
  std::uint64_t files = 0, bytes = 0;
  severity threshold = severity::high;
  std::vector<finding> findings;   ///< sorted: severity (worst first), file, line, id
  std::vector<std::string> errors;
  std::vector<fix> fixes;
  bool fix_requested = false, fix_applied = false;

  bool passed() const { return !any_at_or_above(findings, threshold); }
  void sort();
};

/// The JSON document (version 1).
std::string to_json(const report& r);
/// Lines for a terminal: one per finding, then a summary (errors are the caller's to print).
std::string to_text(const report& r);
/// `weftctl security explain ID`.
std::string explain(const rule& r);
/// Every rule as Markdown tables by family (docs/guides/security.md holds this text).
std::string rules_markdown();

}  // namespace weft::scan
