#include "services/llm/budget.hh"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include <weft/base/io.hh>

#include "proto/llm_v1.hh"

namespace weft::llm {

namespace lv = weft::proto::llm_v1;
using json = nlohmann::json;

std::string spend_ledger::day_of(utc_time now) {
  auto t = std::chrono::system_clock::to_time_t(std::chrono::time_point_cast<std::chrono::system_clock::duration>(now));
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

status spend_ledger::load() {
  if (_path.empty()) return {};
  std::ifstream in(_path);
  if (!in) {
    if (errno == ENOENT) return {};
    return fail(errc::io, "Failed to read spend ledger '{}': {}", _path, std::strerror(errno));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  json j = json::parse(ss.str(), nullptr, false);
  if (!j.is_object() || !j.contains("day") || !j["day"].is_string())
    return fail(errc::malformed, "Failed to read spend ledger '{}': not a weft spend file", _path);
  _day = j["day"].get<std::string>();
  _spent.clear();
  if (auto a = j.find("agents"); a != j.end() && a->is_object())
    for (auto& [k, v] : a->items())
      if (v.is_number()) _spent[k] = v.get<double>();
  return {};
}

void spend_ledger::roll(utc_time now) {
  auto d = day_of(now);
  if (d != _day) {
    _day = d;
    _spent.clear();
  }
}

double spend_ledger::spent(const std::string& agent, utc_time now) {
  roll(now);
  auto it = _spent.find(agent);
  return it == _spent.end() ? 0.0 : it->second;
}

status spend_ledger::add(const std::string& agent, double usd, utc_time now) {
  roll(now);
  if (usd <= 0) return {};
  _spent[agent] += usd;
  return save();
}

status spend_ledger::check(const std::string& agent, double budget_usd, utc_time now) {
  if (budget_usd <= 0) return {};
  auto s = spent(agent, now);
  if (s >= budget_usd)
    return lv::make(lv::error_code::budget_exceeded,
                    "Agent '{}' spent ${:.4f} of its ${:.4f} budget for {} (UTC); no request was sent. Raise "
                    "[agents.{}] budget_usd or wait for the next UTC day.",
                    agent, s, budget_usd, _day, agent);
  return {};
}

status spend_ledger::save() {
  if (_path.empty()) return {};
  json j{{"day", _day}, {"agents", json::object()}};
  for (auto& [k, v] : _spent) j["agents"][k] = v;
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(_path).parent_path(), ec);
  if (auto s = write_file_atomic(_path, j.dump(2) + "\n", 0600); !s)
    return fail(errc::io, "Failed to write spend ledger '{}': {}", _path, s.err().message);
  return {};
}

}  // namespace weft::llm
