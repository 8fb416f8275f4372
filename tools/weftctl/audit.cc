// weftctl audit …: the witness chain (libs/witness), read straight from its files — no
// running weft needed, so it works offline, on a copy, or on another machine.
#include <cstdlib>
#include <filesystem>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <weft/base/time.hh>
#include <weft/service/exit.hh>
#include <weft/service/paths.hh>
#include <weft/witness/verify.hh>

#include "commands.hh"

namespace weft::ctl {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr const char* audit_help =
    "usage: weftctl audit COMMAND [OPTIONS]\n"
    "\n"
    "The witness chain: the tamper-evident record of agent actions (tool calls, routing\n"
    "decisions, memory writes, denials) that the memory service signs. Read from the files;\n"
    "weft need not be running.\n"
    "\n"
    "Commands:\n"
    "  verify              check every record's hash, every link and every signature; exit 0\n"
    "                      when intact, 1 with the first problem (segment, record, seq and\n"
    "                      what: altered, removed, reordered, bad signature, missing segment)\n"
    "  show [--last N]     print records: time, seq, actor, kind, subject, detail (default\n"
    "                      the last 20; 0 for all). Not verified: run verify to trust them.\n"
    "\n"
    "Options:\n"
    "  --dir DIR           the audit directory (default $WEFT_HOME/audit)\n"
    "  --key FILE          the public key to verify with (default DIR/witness.pub; a copy\n"
    "                      kept elsewhere is stronger: whoever can write DIR can replace it)\n"
    "  --json              machine-readable output (also as a global option)\n"
    "  -h, --help          this help\n"
    "\n"
    "Environment: WEFT_HOME (state directory; else $STATE_DIRECTORY, else ~/.clawft).\n"
    "Format and trust model: docs/audit.md.\n";

struct parsed {
  std::string verb;
  std::optional<fs::path> dir, key;
  std::size_t last = 20;
  bool json = false;
};

int usage(std::string_view what) { return service::usage_error("weftctl audit", what); }

json problem_json(const witness::problem& p) {
  return json{{"kind", std::string(witness::to_string(p.kind))}, {"segment", p.segment}, {"record", p.record},
              {"seq", p.seq}, {"detail", p.detail}, {"message", p.to_string()}};
}

int verify(const parsed& p, const fs::path& dir) {
  auto key = p.key ? *p.key : dir / witness::public_key_name;
  auto r = witness::verify(dir, key);
  if (!r) return failure(r.err().message);
  if (p.json) {
    json j{{"ok", r->ok()}, {"dir", dir.string()}, {"key", key.string()}, {"key_id", r->key_id},
           {"segments", r->segments}, {"records", r->records}, {"signatures", r->signatures},
           {"first_seq", r->first_seq}, {"last_seq", r->last_seq}, {"unsigned_tail", r->unsigned_tail},
           {"head", r->head}, {"notes", r->notes}};
    if (r->first_problem) j["problem"] = problem_json(*r->first_problem);
    fmt::print("{}\n", j.dump(2));
    if (r->first_problem) fmt::print(stderr, "{}\n", r->first_problem->to_string());
    return r->ok() ? 0 : 1;
  }
  if (r->ok()) {
    fmt::print("{}", r->to_string());
    return 0;
  }
  fmt::print(stderr, "{}", r->to_string());
  return 1;
}

int show(const parsed& p, const fs::path& dir) {
  auto recs = witness::read_records(dir, p.last);
  if (!recs) return failure(recs.err().message);
  if (p.json) {
    json a = json::array();
    for (auto& r : *recs)
      a.push_back(json{{"seq", r.seq}, {"time", to_rfc3339(r.time)}, {"actor", r.actor}, {"kind", r.kind},
                       {"subject", r.subject}, {"detail", r.detail}});
    fmt::print("{}\n", a.dump(2));
    return 0;
  }
  std::size_t wa = 5, wk = 4;
  for (auto& r : *recs) {
    wa = std::max(wa, r.actor.size());
    wk = std::max(wk, r.kind.size());
  }
  fmt::print("{:<24}  {:>8}  {:<{}}  {:<{}}  {}\n", "TIME", "SEQ", "ACTOR", wa, "KIND", wk, "SUBJECT");
  for (auto& r : *recs) {
    fmt::print("{:<24}  {:>8}  {:<{}}  {:<{}}  {}", to_rfc3339(r.time), r.seq, r.actor, wa, r.kind, wk, r.subject);
    if (!r.detail.empty()) fmt::print("  {}", r.detail.size() > 120 ? r.detail.substr(0, 117) + "…" : r.detail);
    fmt::print("\n");
  }
  return 0;
}

}  // namespace

int cmd_audit(const options& o, const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    fmt::print("{}", audit_help);
    return args.empty() ? service::to_int(service::exit_code::usage) : 0;
  }
  parsed p;
  p.verb = args[0];
  p.json = o.json;
  if (p.verb != "verify" && p.verb != "show") return usage(fmt::format("unknown audit command '{}'", p.verb));
  for (std::size_t i = 1; i < args.size(); ++i) {
    const auto& a = args[i];
    auto value = [&]() -> const std::string* { return i + 1 < args.size() ? &args[++i] : nullptr; };
    if (a == "--help" || a == "-h") {
      fmt::print("{}", audit_help);
      return 0;
    } else if (a == "--json") {
      p.json = true;
    } else if (a == "--dir") {
      auto v = value();
      if (!v || v->empty()) return usage("--dir needs a directory");
      p.dir = *v;
    } else if (a == "--key" && p.verb == "verify") {
      auto v = value();
      if (!v || v->empty()) return usage("--key needs a public key file");
      p.key = *v;
    } else if (a == "--last" && p.verb == "show") {
      auto v = value();
      char* end = nullptr;
      long n = v ? std::strtol(v->c_str(), &end, 10) : -1;
      if (!v || v->empty() || *end != '\0' || n < 0) return usage("--last needs a number of records (0 for all)");
      p.last = static_cast<std::size_t>(n);
    } else {
      return usage(fmt::format("unknown argument '{}' for 'audit {}'", a, p.verb));
    }
  }
  auto dir = p.dir ? *p.dir : fs::path(service::home_dir()) / "audit";
  return p.verb == "verify" ? verify(p, dir) : show(p, dir);
}

}  // namespace weft::ctl
