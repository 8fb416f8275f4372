// weft-fake-memory — test-only stand-in for the memory service (not installed).
//
// Purpose: lets the agent's integration test see exactly what an agent sends to `memory`
// while the real service is being built. Joins the bus at its address (normally `memory`),
// keeps Puts in RAM (a repeated key stores nothing and says duplicate), answers Search with
// the stored entries that contain any of the query's words (case-insensitive), newest
// first, and appends every request it receives as one JSON line to $FAKE_MEMORY_LOG:
//   {"from":…,"type":"Put"|"Search"|…,"agent":…,"kind":…,"text":…,"session":…,"role":…,
//    "key":…,"created":…,"query":…,"k":…}
// A Search whose query contains "FAIL" is answered with the error Storage.
//
// Started by weftd ([services.memory] exec = …) with $WEFT_BUS, $WEFT_ADDRESS,
// $WEFT_TOKEN_FD, $WEFT_NOTIFY_FD.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include <weft/service/main.hh>

#include "proto/memory_v1.hh"

using namespace weft;
namespace mem = weft::proto::memory_v1;
using json = nlohmann::json;

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void log_line(const json& j) {
  auto* path = std::getenv("FAKE_MEMORY_LOG");
  if (!path || !*path) return;
  if (auto* f = std::fopen(path, "a")) {
    auto line = j.dump() + "\n";
    std::fwrite(line.data(), 1, line.size(), f);
    std::fclose(f);
  }
}

std::string kind_name(mem::kind k) { return std::string(mem::to_string(k)); }

}  // namespace

int main(int argc, char** argv) {
  service::main_spec spec{.program = "weft-fake-memory",
                          .log_name = "fake-memory",
                          .help = "usage: weft-fake-memory\nA test-only stand-in for weft-memory: records every "
                                  "request to $FAKE_MEMORY_LOG (JSON lines), keeps Puts in RAM and answers Search by "
                                  "keyword.\n",
                          .config = false};
  return service::run_main(argc, argv, spec, [](service::main_context& ctx) {
    auto& rt = *ctx.rt;
    std::vector<mem::entry> entries;
    std::map<std::string, std::string> by_key;  // key → id
    rt.on<mem::put>([&](const mem::put& p, const ipc::message& m) -> result<mem::stored> {
      log_line({{"from", m.env.from}, {"type", "Put"}, {"agent", p.agent}, {"kind", kind_name(p.kind)},
                {"text", p.text}, {"session", p.session}, {"role", p.role}, {"key", p.key}, {"tags", p.tags},
                {"created", p.created ? to_rfc3339(*p.created) : ""}});
      if (!p.key.empty())
        if (auto it = by_key.find(p.key); it != by_key.end()) return mem::stored{it->second, true};
      mem::entry e;
      e.id = fmt::format("m-{}", entries.size() + 1);
      e.kind = p.kind;
      e.text = p.text;
      e.session = p.session;
      e.role = p.role;
      e.tags = p.tags;
      e.created = p.created ? *p.created : utc_now();
      e.key = p.key;
      if (!p.key.empty()) by_key[p.key] = e.id;
      entries.push_back(e);
      return mem::stored{e.id, false};
    });
    rt.on<mem::search>([&](const mem::search& s, const ipc::message& m) -> result<mem::results> {
      log_line({{"from", m.env.from}, {"type", "Search"}, {"agent", s.agent}, {"query", s.query}, {"k", s.k},
                {"session", s.session}});
      if (s.query.find("FAIL") != std::string::npos) return mem::make(mem::error_code::storage, "asked to fail");
      std::vector<std::string> words;
      std::istringstream in(lower(s.query));
      for (std::string w; in >> w;) words.push_back(w);
      mem::results r;
      r.mode = mem::mode::keyword;
      r.note = "fake memory: keyword match only";
      for (auto it = entries.rbegin(); it != entries.rend() && r.hits.size() < s.k; ++it) {
        if (!s.session.empty() && it->session != s.session) continue;
        auto text = lower(it->text);
        auto n = std::count_if(words.begin(), words.end(), [&](auto& w) { return text.find(w) != std::string::npos; });
        if (n == 0) continue;
        r.hits.push_back(mem::hit{*it, static_cast<double>(n) / static_cast<double>(words.size()), 0.0, 0.0});
      }
      return r;
    });
    return rt.run();
  });
}
