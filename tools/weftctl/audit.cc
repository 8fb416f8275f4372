// weftctl audit …: the witness chain (libs/witness), read straight from its files — no
// running weft needed, so it works offline, on a copy, or on another machine.
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <weft/base/time.hh>
#include <weft/service/paths.hh>
#include <weft/witness/verify.hh>

#include "commands.hh"

namespace weft::ctl {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

json problem_json(const witness::problem& p) {
  return json{{"kind", std::string(witness::to_string(p.kind))}, {"segment", p.segment}, {"record", p.record},
              {"seq", p.seq}, {"detail", p.detail}, {"message", p.to_string()}};
}

int verify(const options& o, const audit_args& p, const fs::path& dir) {
  auto key = !p.key.empty() ? fs::path(p.key) : dir / witness::public_key_name;
  auto r = witness::verify(dir, key);
  if (!r) return failure(r.err().message);
  if (o.json) {
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

int show(const options& o, const audit_args& p, const fs::path& dir) {
  auto recs = witness::read_records(dir, p.last);
  if (!recs) return failure(recs.err().message);
  if (o.json) {
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

fs::path dir_of(const audit_args& a) {
  return !a.dir.empty() ? fs::path(a.dir) : fs::path(service::home_dir()) / "audit";
}

}  // namespace

int cmd_audit_verify(const options& o, const audit_args& a) { return verify(o, a, dir_of(a)); }
int cmd_audit_show(const options& o, const audit_args& a) { return show(o, a, dir_of(a)); }

}  // namespace weft::ctl
