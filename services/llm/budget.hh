#pragma once
/// Per-agent daily spend, so a runaway tool loop stops at [agents.<id>] budget_usd instead
/// of at the provider's invoice. Kept in one JSON file, replaced with write_file_atomic, so
/// neither a restart nor a crash resets the day's spend.

#include <map>
#include <string>

#include <weft/base/result.hh>
#include <weft/base/time.hh>

namespace weft::llm {

class spend_ledger {
 public:
  /// `path` is $WEFT_HOME/llm/spend.json; an empty path keeps the ledger in memory only.
  explicit spend_ledger(std::string path) : _path(std::move(path)) {}

  /// Reads the file; a missing file is an empty ledger, an unreadable one an error (the
  /// service then starts with an empty ledger and says so).
  status load();

  /// USD spent by `agent` on the UTC day of `now`.
  double spent(const std::string& agent, utc_time now);

  /// Adds `usd` to today's spend of `agent` and writes the file.
  status add(const std::string& agent, double usd, utc_time now);

  /// BudgetExceeded (with the figures) when `agent` has a budget and spent it already.
  status check(const std::string& agent, double budget_usd, utc_time now);

  /// "2026-11-24" for `now`.
  static std::string day_of(utc_time now);

 private:
  void roll(utc_time now);
  status save();
  std::string _path;
  std::string _day;
  std::map<std::string, double> _spent;
};

}  // namespace weft::llm
