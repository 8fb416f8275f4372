#include "services/llm/runtime_policy.hh"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <nlohmann/json.hpp>

#include <weft/base/fd.hh>
#include <weft/base/io.hh>

namespace weft::llm {

using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

bool has_tier(const service::config& cfg, const std::string& name) {
  return std::any_of(cfg.llm.tiers.begin(), cfg.llm.tiers.end(), [&](auto& t) { return t.name == name; });
}

std::string tier_list(const service::config& cfg) {
  std::string out;
  for (auto& t : cfg.llm.tiers) out += (out.empty() ? "'" : ", '") + t.name + "'";
  return out.empty() ? "none" : out;
}

// The reason a file cannot be used, or the overrides in it (entries that are malformed on
// their own are skipped and named in `skipped`).
result<std::map<std::string, lv::tier_override>> parse_file(const std::string& text, std::vector<std::string>& skipped) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return fail(errc::malformed, "not valid JSON");
  if (!j.is_object()) return fail(errc::malformed, "not a JSON object");
  auto v = j.find("version");
  if (v == j.end() || !v->is_number_unsigned()) return fail(errc::malformed, "no \"version\"");
  if (v->get<std::uint64_t>() != 1) return fail(errc::malformed, "unknown version {} (this weft reads version 1)", v->dump());
  auto o = j.find("overrides");
  if (o == j.end() || !o->is_object()) return fail(errc::malformed, "no \"overrides\" object");
  std::map<std::string, lv::tier_override> out;
  for (auto& [agent, e] : o->items()) {
    if (out.size() >= max_policy_overrides) {
      skipped.push_back(fmt::format("more than {} overrides; the rest are ignored", max_policy_overrides));
      break;
    }
    lv::tier_override ov;
    ov.agent = agent;
    bool ok = !agent.empty() && e.is_object();
    if (ok && e.contains("tier")) {
      ok = e["tier"].is_string();
      if (ok) ov.tier = e["tier"].get<std::string>();
    }
    if (ok && e.contains("disabled_tiers")) {
      ok = e["disabled_tiers"].is_array();
      for (auto& t : ok ? e["disabled_tiers"] : json::array()) {
        if (!t.is_string()) ok = false;
        else ov.disabled_tiers.push_back(t.get<std::string>());
      }
    }
    if (ok && e.contains("set_by") && e["set_by"].is_string()) ov.set_by = e["set_by"].get<std::string>();
    if (ok && e.contains("set_at") && e["set_at"].is_string())
      if (auto t = parse_rfc3339(e["set_at"].get<std::string>())) ov.set_at = *t;
    if (!ok) {
      skipped.push_back(fmt::format("the entry for agent '{}' is malformed", agent));
      continue;
    }
    out.emplace(agent, std::move(ov));
  }
  return out;
}


}  // namespace

runtime_policy::runtime_policy(std::string path) : _path(std::move(path)) {}

void runtime_policy::load(const service::config& cfg) {
  _stored.clear();
  _warnings.clear();
  _keep_corrupt = false;
  if (!_path.empty()) {
    unique_fd fd(::open(_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd && errno != ENOENT) {
      _warnings.push_back(fmt::format("Failed to read routing policy '{}': {}; starting without overrides, ignoring.",
                                      _path, std::strerror(errno)));
    } else if (fd) {
      auto text = read_to_end(fd.get(), max_policy_file_bytes);
      fd.reset();
      std::vector<std::string> skipped;
      auto parsed = text ? parse_file(*text, skipped) : result<std::map<std::string, lv::tier_override>>(text.err());
      if (!parsed) {
        _keep_corrupt = true;
        _warnings.push_back(fmt::format(
            "Failed to load routing policy '{}': {}; starting without overrides (the file is kept as '{}.corrupt' "
            "when the policy is next changed), ignoring.",
            _path, parsed.err().message, _path));
      } else {
        _stored = std::move(*parsed);
        for (auto& s : skipped) _warnings.push_back(fmt::format("Routing policy '{}': {}, ignoring.", _path, s));
      }
    }
  }
  recheck(cfg);
}

void runtime_policy::recheck(const service::config& cfg) {
  _applied.clear();
  // Keep load-time warnings; replace the per-override ones.
  std::erase_if(_warnings, [](const std::string& w) { return w.find(" is no longer configured") != std::string::npos; });
  for (auto& [agent, ov] : _stored) {
    std::vector<std::string> problems;
    lv::tier_override a = ov;
    a.problem.clear();
    if (!a.tier.empty() && !has_tier(cfg, a.tier)) {
      problems.push_back(fmt::format("tier '{}' is no longer configured", a.tier));
      a.tier.clear();
    }
    std::erase_if(a.disabled_tiers, [&](const std::string& t) {
      if (has_tier(cfg, t)) return false;
      problems.push_back(fmt::format("disabled tier '{}' is no longer configured", t));
      return true;
    });
    if (!cfg.agents.contains(agent)) problems.push_back(fmt::format("agent '{}' is no longer configured", agent));
    std::string problem;
    for (auto& p : problems) problem += (problem.empty() ? "" : "; ") + p;
    ov.problem = problem;
    if (!problem.empty())
      _warnings.push_back(fmt::format("Routing policy '{}': agent '{}': {} (configured tiers: {}), ignoring.",
                                      _path.empty() ? "(memory)" : _path, agent, problem, tier_list(cfg)));
    if (!a.tier.empty() || !a.disabled_tiers.empty()) _applied.emplace(agent, std::move(a));
  }
}

const lv::tier_override* runtime_policy::applied(const std::string& agent) const {
  auto it = _applied.find(agent);
  return it == _applied.end() ? nullptr : &it->second;
}

status runtime_policy::set(const lv::set_policy& req, const std::string& set_by, utc_time now,
                           const service::config& cfg) {
  if (req.agent.empty()) return lv::make(lv::error_code::bad_request, "Failed to set the routing policy: no agent given.");
  auto next = _stored;
  if (req.clear) {
    if (next.erase(req.agent) == 0) return {};  // nothing to clear: nothing to write
  } else {
    if (!cfg.agents.contains(req.agent))
      return lv::make(lv::error_code::bad_request, "Failed to set the routing policy for agent '{}': no such agent is configured.", req.agent);
    if (req.tier.empty() && req.disabled_tiers.empty())
      return lv::make(lv::error_code::bad_request, "Failed to set the routing policy for agent '{}': give a tier or disabled tiers (or clear it).",
                 req.agent);
    if (!req.tier.empty() && !has_tier(cfg, req.tier))
      return lv::make(lv::error_code::bad_request, "Failed to set the routing policy for agent '{}': tier '{}' is not configured (configured tiers: {}).",
                 req.agent, req.tier, tier_list(cfg));
    for (auto& t : req.disabled_tiers) {
      if (!has_tier(cfg, t))
        return lv::make(lv::error_code::bad_request, "Failed to set the routing policy for agent '{}': tier '{}' is not configured (configured tiers: {}).",
                   req.agent, t, tier_list(cfg));
      if (t == req.tier)
        return lv::make(lv::error_code::bad_request, "Failed to set the routing policy for agent '{}': tier '{}' cannot be both chosen and disabled.",
                   req.agent, t);
    }
    if (!next.contains(req.agent) && next.size() >= max_policy_overrides)
      return lv::make(lv::error_code::bad_request, "Failed to set the routing policy for agent '{}': at most {} agents can have an override.", req.agent,
                 max_policy_overrides);
    lv::tier_override ov;
    ov.agent = req.agent;
    ov.tier = req.tier;
    ov.disabled_tiers = req.disabled_tiers;
    std::sort(ov.disabled_tiers.begin(), ov.disabled_tiers.end());
    ov.disabled_tiers.erase(std::unique(ov.disabled_tiers.begin(), ov.disabled_tiers.end()), ov.disabled_tiers.end());
    ov.set_by = set_by;
    ov.set_at = now;
    next[req.agent] = std::move(ov);
  }
  if (auto s = save(next); !s) return s;
  _stored = std::move(next);
  recheck(cfg);
  return {};
}

status runtime_policy::save(const std::map<std::string, lv::tier_override>& all) {
  if (_path.empty()) return {};
  auto storage = [&](std::string_view what, int err) {
    return lv::make(lv::error_code::storage, "Failed to write routing policy '{}': {}: {}; nothing was changed.", _path,
                    what, std::strerror(err));
  };
  json overrides = json::object();
  for (auto& [agent, ov] : all) {
    json e = json::object();
    if (!ov.tier.empty()) e["tier"] = ov.tier;
    if (!ov.disabled_tiers.empty()) e["disabled_tiers"] = ov.disabled_tiers;
    if (!ov.set_by.empty()) e["set_by"] = ov.set_by;
    if (ov.set_at) e["set_at"] = to_rfc3339(*ov.set_at);
    overrides[agent] = std::move(e);
  }
  auto text = json{{"version", 1}, {"overrides", std::move(overrides)}}.dump(2) + "\n";

  auto dir = fs::path(_path).parent_path().string();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return storage("create directory", ec.value());
  if (_keep_corrupt) {
    // Never overwrite what a person may want to repair by hand.
    if (::rename(_path.c_str(), (_path + ".corrupt").c_str()) != 0 && errno != ENOENT)
      return storage("keep the corrupt file", errno);
    _keep_corrupt = false;
  }
  if (auto s = write_file_atomic(_path, text, 0600); !s)
    return lv::make(lv::error_code::storage, "Failed to write routing policy '{}': {}", _path, s.err().message);
  return {};
}

lv::policy runtime_policy::to_proto() const {
  lv::policy p;
  p.path = _path;
  for (auto& [agent, ov] : _stored) p.overrides.push_back(ov);
  p.warnings = _warnings;
  return p;
}

}  // namespace weft::llm
