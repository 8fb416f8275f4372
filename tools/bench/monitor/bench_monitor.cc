// weft-bench-monitor — what the security monitor (services/monitor) costs per bus event.
//
//   weft-bench-monitor rules [--events N] [--agents A]
//       the rule engine alone (monitor::rules, no sockets): a mix of ToolCalled (with the
//       absolute paths the agent resolved: its own workspace), Spent and AccessDenied for A
//       agents on a simulated clock (every agent under its thresholds, as in ordinary use),
//       through the rules as decoded values, and again decoding each event's msgpack payload
//       first (what weft-monitor's on_event does before the rules); events/s and ns per event.
//   weft-bench-monitor stack [--turns N] [--rounds R]
//       end to end: the default stack (agent main, its fs tools, memory) on the instant fake
//       LLM answering every turn with one list_dir call, then the reply; N turns one after
//       another over the bus, on a stack without the monitor and on one with
//       [security.monitor] enabled = true, alternating R times; the difference per turn is the
//       monitor's cost per tool call (one ToolCalled and two Spent events per turn), in latency
//       and in CPU time of each of the stack's processes (/proc/PID/schedstat).
//   weft-bench-monitor all (default)
// Not a test: prints figures.
#include <algorithm>
#include <map>
#include <random>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "proto/bus_v1.hh"
#include "proto/chat_v1.hh"
#include "proto/llm_v1.hh"
#include "proto/memory_v1.hh"
#include "proto/monitor_v1.hh"
#include "services/monitor/rules.hh"
#include "tests/fakes/instant_llm.hh"
#include "tools/bench/bench_stack.hh"

using namespace weft;
using namespace std::chrono_literals;
namespace bus = proto::bus_v1;
namespace chat = proto::chat_v1;
namespace llm = proto::llm_v1;
namespace mem = proto::memory_v1;
namespace mon = proto::monitor_v1;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double pct(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

// ---- the rule engine alone ------------------------------------------------------------

enum class kind : std::uint8_t { tool, spent, denied };

struct event {
  kind k;
  monitor::millis at;
  std::string agent;
  std::string tool;                 // tool: the tool address; denied: what was refused
  std::vector<std::string> paths;   // tool
  double usd = 0;                   // spent
  std::string payload;              // the event's msgpack payload, as the bus delivers it
};

/// A day of ordinary agents: per turn one Spent, one to three tool calls (half naming a file
/// in the agent's workspace), one more Spent; a denial every 50th turn. Turns are spread so
/// each agent makes about 40 tool calls a minute, under the default 120.
std::vector<event> workload(std::size_t n, int agents, const std::string& home) {
  std::mt19937 rng(42);
  std::vector<event> out;
  out.reserve(n + 8);
  const char* tools[] = {"read_file", "list_dir", "write_file", "search_files"};
  monitor::millis t = 0;
  for (std::uint64_t turn = 0; out.size() < n; ++turn) {
    auto agent = fmt::format("agent{}", turn % static_cast<unsigned>(agents));
    // ~20 turns a minute per agent: 3000 ms between two turns of one agent.
    t += 3000 / agents;
    out.push_back({kind::spent, t, agent, {}, {}, 0.0021, wire::encode(llm::spent{agent, 0.0021, 1200, 80})});
    for (unsigned c = 0, calls = 1 + rng() % 3; c < calls; ++c) {
      auto tool = fmt::format("tool/fs/{}/{}", agent, tools[rng() % 4]);
      std::vector<std::string> paths;
      if (rng() % 2) paths.push_back(fmt::format("{}/agents/{}/notes/day-{}.md", home, agent, rng() % 100));
      mem::tool_called e{tool, fmt::format("call_{}", turn), true, std::string(64, 'a'), "", paths};
      out.push_back({kind::tool, t + 10 * (c + 1), agent, tool, paths, 0, wire::encode(e)});
    }
    out.push_back({kind::spent, t + 50, agent, {}, {}, 0.0013, wire::encode(llm::spent{agent, 0.0013, 1500, 40})});
    if (turn % 50 == 49) {
      bus::access_denied d{"agent/" + agent, "tool/shell/" + agent, "io.weft.Tool.v1.Call", "bus.acl[0]"};
      out.push_back({kind::denied, t + 60, agent, "io.weft.Tool.v1.Call to 'tool/shell' by bus.acl[0]", {}, 0,
                     wire::encode(d)});
    }
  }
  out.resize(n);
  return out;
}

std::map<std::string, std::string> workspaces(int agents, const std::string& home) {
  std::map<std::string, std::string> w;
  for (int i = 0; i < agents; ++i) w[fmt::format("agent{}", i)] = fmt::format("{}/agents/agent{}", home, i);
  return w;
}

struct pass {
  double seconds;
  std::size_t findings;
};

/// One pass of `evs` through fresh rules; with `decode`, each payload is decoded first.
pass run_rules(const std::vector<event>& evs, int agents, const std::string& home, bool decode) {
  monitor::rules r(service::monitor_settings{.enabled = true}, home, workspaces(agents, home));
  std::size_t findings = 0;
  auto t0 = bench::clk::now();
  for (auto& e : evs) {
    switch (e.k) {
      case kind::tool:
        if (decode) {
          auto d = wire::decode<mem::tool_called>(e.payload);
          findings += r.tool_called(e.at, e.agent, d->tool, d->paths).size();
        } else findings += r.tool_called(e.at, e.agent, e.tool, e.paths).size();
        break;
      case kind::spent:
        if (decode) {
          auto d = wire::decode<llm::spent>(e.payload);
          findings += r.spent(e.at, d->agent, d->cost_usd).size();
        } else findings += r.spent(e.at, e.agent, e.usd).size();
        break;
      case kind::denied:
        if (decode) {
          auto d = wire::decode<bus::access_denied>(e.payload);
          findings += r.denied(e.at, e.agent, fmt::format("{} to '{}' by {}", d->type, d->to, d->rule)).size();
        } else findings += r.denied(e.at, e.agent, e.tool).size();
        break;
    }
  }
  return {std::chrono::duration<double>(bench::clk::now() - t0).count(), findings};
}

void bench_rules(std::size_t n, int agents) {
  const std::string home = "/var/lib/weft";
  auto evs = workload(n, agents, home);
  std::size_t tools = 0, spent = 0, denied = 0, with_paths = 0;
  for (auto& e : evs) {
    tools += e.k == kind::tool, spent += e.k == kind::spent, denied += e.k == kind::denied;
    with_paths += !e.paths.empty();
  }
  fmt::print("monitor rules alone, {} events of {} agents ({} ToolCalled, {} of them naming a path; {} Spent; {} "
             "AccessDenied), default thresholds, 5 passes, median:\n",
             n, agents, tools, with_paths, spent, denied);
  for (bool decode : {false, true}) {
    std::vector<double> secs;
    std::size_t findings = 0;
    run_rules(evs, agents, home, decode);  // warm-up
    for (int i = 0; i < 5; ++i) {
      auto p = run_rules(evs, agents, home, decode);
      secs.push_back(p.seconds);
      findings = p.findings;
    }
    auto s = median(secs);
    fmt::print("  {:<34} {:>10.0f} events/s   {:>6.0f} ns/event   (findings: {})\n",
               decode ? "msgpack decode + rules" : "rules (decoded values)", static_cast<double>(n) / s,
               s * 1e9 / static_cast<double>(n), findings);
  }
  // One event kind at a time, for where the time goes.
  for (auto [k, name] : {std::pair{kind::tool, "ToolCalled only"}, std::pair{kind::spent, "Spent only"},
                         std::pair{kind::denied, "AccessDenied only"}}) {
    std::vector<event> only;
    for (auto& e : evs)
      if (e.k == k) only.push_back(e);
    std::vector<double> secs;
    for (int i = 0; i < 5; ++i) secs.push_back(run_rules(only, agents, home, false).seconds);
    auto s = median(secs);
    fmt::print("  {:<34} {:>10.0f} events/s   {:>6.0f} ns/event\n", name, static_cast<double>(only.size()) / s,
               s * 1e9 / static_cast<double>(only.size()));
  }
}

// ---- end to end -----------------------------------------------------------------------

std::string stack_config(std::uint16_t llm_port, bool monitor) {
  return fmt::format(
      "[providers.instant]\nstyle = \"openai\"\nbase_url = \"http://127.0.0.1:{}/v1\"\nmodel = \"instant\"\n"
      "[llm]\ndefault_provider = \"instant\"\n"
      "[agents.main]\nmax_iterations = 4\n[agents.main.tools]\nfamilies = [\"fs\"]\n"
      "{}",
      llm_port, monitor ? "[security.monitor]\nenabled = true\n" : "");
}

chat::turn bus_turn(int i) {
  chat::turn t;
  t.turn_id = fmt::format("t{}", i);
  t.session = fmt::format("web:bench-{}", i / 20);  // 20 turns a conversation, as in weft-bench-turns
  t.message.id = t.turn_id;
  t.message.channel = "web";
  t.message.chat_id = fmt::format("bench-{}", i / 20);
  t.message.sender = "bench";
  t.message.ts = utc_now();
  t.message.parts.push_back({chat::part_kind::text, fmt::format("turn {}", i), {}, {}, {}, {}});
  return t;
}

/// CPU time a process has run, in µs (/proc/PID/schedstat: ns on the CPU, first field).
double cpu_us(pid_t pid) {
  std::ifstream f(fmt::format("/proc/{}/schedstat", pid));
  double ns = 0;
  f >> ns;
  return ns / 1000;
}

/// CPU of the stack's processes by name (weftd and its children).
std::map<std::string, double> stack_cpu(const bench::stack& s) {
  std::map<std::string, double> out{{"weftd", cpu_us(s.pid())}};
  for (auto c : bench::children_of(s.pid())) out[bench::comm(c)] += cpu_us(c);
  return out;
}

struct stack_run {
  std::vector<double> us;  // per turn
  std::map<std::string, double> cpu_us;  // per process name, during the measured turns
  std::uint64_t monitor_events = 0;
  std::vector<std::string> alerts;  // rule (action)
};

stack_run run_stack(std::uint16_t llm_port, bool monitor, int turns) {
  bench::stack s(stack_config(llm_port, monitor));
  s.start();
  zmq::context_t ctx(1);
  auto b = bench::join_bus(ctx, s.runtime());
  stack_run out;
  auto turn = [&](int i) {
    auto t0 = bench::clk::now();
    auto r = b->call("agent/main", bus_turn(i), ipc::call_options{.timeout = 30s});
    auto us = std::chrono::duration<double, std::micro>(bench::clk::now() - t0).count();
    if (!r) throw std::runtime_error("turn failed: " + r.err().to_string());
    auto tr = r->as<chat::turn_result>();
    if (!tr || tr->tool_calls != 1) throw std::runtime_error(fmt::format("turn {} made no tool call", i));
    return us;
  };
  for (int i = 0; i < 100; ++i) turn(i);  // warm-up
  auto before = stack_cpu(s);
  for (int i = 100; i < 100 + turns; ++i) out.us.push_back(turn(i));
  for (auto& [name, us] : stack_cpu(s)) out.cpu_us[name] = us - before[name];
  if (monitor) {
    auto st = b->call("monitor", mon::get_state{100}, ipc::call_options{.timeout = 10s});
    if (!st) throw std::runtime_error("monitor state: " + st.err().to_string());
    auto v = st->as<mon::state>();
    out.monitor_events = v->events;
    for (auto& a : v->alerts) out.alerts.push_back(fmt::format("{} ({})", a.rule, a.action));
  }
  return out;
}

void bench_stack(int turns, int rounds) {
  fakes::instant_llm model("list_dir", R"({"path":"."})");
  std::vector<double> off_all, on_all, off_med, on_med, off_mean, on_mean;
  std::uint64_t events = 0;
  std::vector<std::string> alerts;
  std::map<std::string, std::vector<double>> cpu_off, cpu_on;  // µs per turn by process, per round
  for (int r = 0; r < rounds; ++r)
    for (bool monitor : {false, true}) {
      auto run = run_stack(model.port(), monitor, turns);
      double mean = 0;
      for (auto u : run.us) mean += u / static_cast<double>(run.us.size());
      (monitor ? on_med : off_med).push_back(median(run.us));
      (monitor ? on_mean : off_mean).push_back(mean);
      double total = 0;
      for (auto& [name, us] : run.cpu_us) {
        (monitor ? cpu_on : cpu_off)[name].push_back(us / turns);
        total += us / turns;
      }
      (monitor ? cpu_on : cpu_off)["all"].push_back(total);
      auto& all = monitor ? on_all : off_all;
      all.insert(all.end(), run.us.begin(), run.us.end());
      if (monitor) {
        events += run.monitor_events;
        alerts.insert(alerts.end(), run.alerts.begin(), run.alerts.end());
      }
      fmt::print("  round {} {:<13} p50 {:7.0f} µs   mean {:7.0f} µs\n", r + 1, monitor ? "with monitor" : "without",
                 median(run.us), mean);
    }
  fmt::print("a turn of agent main with one list_dir tool call (instant fake LLM, 2 model calls), {} turns one at a "
             "time per stack, {} rounds alternating (µs):\n",
             turns, rounds);
  fmt::print("  without the monitor   p50 {:7.0f}   p90 {:7.0f}   p99 {:7.0f}   mean of rounds {:7.0f}\n", pct(off_all, 0.5),
             pct(off_all, 0.9), pct(off_all, 0.99), median(off_mean));
  fmt::print("  with the monitor      p50 {:7.0f}   p90 {:7.0f}   p99 {:7.0f}   mean of rounds {:7.0f}\n", pct(on_all, 0.5),
             pct(on_all, 0.9), pct(on_all, 0.99), median(on_mean));
  fmt::print("  difference per turn (= per tool call): p50 {:+.0f} µs   median of round means {:+.0f} µs\n",
             pct(on_all, 0.5) - pct(off_all, 0.5), median(on_mean) - median(off_mean));
  // The turns come far faster than an agent's (over 1,000 tool calls a minute): the default
  // tool_burst rule alerts once a minute per stack, which is part of what is measured.
  fmt::print("CPU time of the stack's processes per turn (/proc/PID/schedstat, median of rounds, µs):\n");
  fmt::print("  {:<16} {:>9} {:>9} {:>9}\n", "process", "without", "with", "diff");
  for (auto& [name, v] : cpu_on) {
    auto off = cpu_off.count(name) ? median(cpu_off[name]) : 0.0;
    fmt::print("  {:<16} {:>9.1f} {:>9.1f} {:>+9.1f}\n", name, off, median(v), median(v) - off);
  }
  fmt::print("  the monitor processed {} events in its runs ({:.1f} per turn incl. warm-up); alerts: {}\n", events,
             static_cast<double>(events) / static_cast<double>(rounds * (turns + 100)),
             alerts.empty() ? std::string("none") : fmt::format("{}", fmt::join(alerts, ", ")));
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::string what = argc > 1 && argv[1][0] != '-' ? argv[1] : "all";
  std::size_t events = 2'000'000;
  int agents = 8, turns = 1000, rounds = 3;
  for (int i = what == "all" && (argc < 2 || argv[1][0] == '-') ? 1 : 2; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--events" && i + 1 < argc) events = std::stoul(argv[++i]);
    else if (a == "--agents" && i + 1 < argc) agents = std::atoi(argv[++i]);
    else if (a == "--turns" && i + 1 < argc) turns = std::atoi(argv[++i]);
    else if (a == "--rounds" && i + 1 < argc) rounds = std::atoi(argv[++i]);
    else {
      fmt::print(stderr, "usage: weft-bench-monitor [rules|stack|all] [--events N] [--agents A] [--turns N] [--rounds R]\n");
      return a == "--help" ? 0 : 2;
    }
  }
  if (what != "all" && what != "rules" && what != "stack") {
    fmt::print(stderr, "error: unknown benchmark '{}'\nTry --help.\n", what);
    return 2;
  }
  if (events == 0 || agents <= 0 || turns <= 0 || rounds <= 0) {
    fmt::print(stderr, "error: counts must be positive\nTry --help.\n");
    return 2;
  }
  try {
    if (what != "stack") bench_rules(events, agents);
    if (what != "rules") bench_stack(turns, rounds);
  } catch (const std::exception& e) {
    fmt::print(stderr, "Failed to run benchmark '{}': {}\n", what, e.what());
    return 1;
  }
  return 0;
}
