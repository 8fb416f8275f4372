#include "commands.hh"

#include <csignal>
#include <unistd.h>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <weft/base/log.hh>
#include <weft/ipc/bus_client.hh>
#include <weft/service/config.hh>
#include <weft/service/control_client.hh>
#include <weft/service/exit.hh>

namespace weft::ctl {

namespace bus = weft::proto::bus_v1;
namespace sv = weft::proto::supervisor_v1;
using json = nlohmann::json;
using namespace std::chrono_literals;

int failure(const std::string& msg) {
  fmt::print(stderr, "{}\n", msg);
  return 1;
}

namespace {

std::string ago(utc_time since) {
  auto s = std::chrono::duration_cast<std::chrono::seconds>(utc_now() - since).count();
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{}s", s / 60, s % 60);
  return fmt::format("{}h{}m", s / 3600, (s % 3600) / 60);
}

json to_json(const sv::service_info& i) {
  return {{"name", i.name},           {"address", i.address},
          {"state", std::string(sv::to_string(i.state))},
          {"pid", i.pid},             {"restarts", i.restarts},
          {"since", to_rfc3339(i.since)}, {"last_exit", i.last_exit},
          {"status", i.status},       {"error", i.error},
          {"sandbox", i.sandbox}};
}

/// weftctl's own messages: what it connects to, shown with -v.
log::logger& ctl_log() { return log::get("weftctl"); }

result<std::unique_ptr<service::control_client>> control(zmq::context_t& ctx, const options& o) {
  ctl_log().debug("connecting to weftd's control socket in '{}'", o.runtime_dir);
  return service::control_client::connect(ctx, o.runtime_dir);
}

/// Bus credentials for this weftctl process (address ctl/<pid>) from weftd.
result<sv::token> issue_token(service::control_client& c) {
  auto r = c.request(sv::issue_token{static_cast<std::uint32_t>(::getpid())});
  if (!r) return r.take_error();
  return r->as<sv::token>();
}

}  // namespace

result<std::unique_ptr<ipc::bus_client>> join_bus(zmq::context_t& ctx, const options& o) {
  auto c = control(ctx, o);
  if (!c) return c.take_error();
  auto tok = issue_token(**c);
  if (!tok) return tok.take_error();
  ipc::client_options co;
  co.endpoint = tok->bus;
  co.address = tok->address;
  co.token = tok->token;
  co.hello_timeout = std::chrono::milliseconds(o.timeout_ms);
  ctl_log().debug("joining the bus at '{}' as '{}'", co.endpoint, co.address);
  return ipc::bus_client::connect(ctx, co);
}

result<weftd_view> ask_weftd(const options& o) {
  zmq::context_t ctx(1);
  auto c = control(ctx, o);
  if (!c) return c.take_error();
  auto r = (*c)->request(sv::status{}, std::chrono::milliseconds(o.timeout_ms));
  if (!r) return r.take_error();
  auto s = r->as<sv::status_reply>();
  if (!s) return s.take_error();
  weftd_view v;
  if (s->config != "(built-in default)") v.config = s->config;
  v.runtime_dir = s->runtime_dir;
  v.home = s->home;
  return v;
}

int cmd_status(const options& o) {
  zmq::context_t ctx(1);
  auto c = control(ctx, o);
  if (!c) return failure(c.err().message);
  auto r = (*c)->request(sv::status{}, std::chrono::milliseconds(o.timeout_ms));
  if (!r) return failure(fmt::format("Failed to get status from weftd: {}", r.err().message));
  auto st = r->as<sv::status_reply>();
  if (!st) return failure(st.err().message);
  if (o.json) {
    json j{{"config", st->config}, {"runtime_dir", st->runtime_dir}, {"home", st->home},
           {"started", to_rfc3339(st->started)}, {"services", json::array()}};
    for (auto& s : st->services) j["services"].push_back(to_json(s));
    fmt::print("{}\n", j.dump(2));
    return 0;
  }
  fmt::print("weftd: config {}, runtime {}, up {}\n\n", st->config, st->runtime_dir, ago(st->started));
  // How each process is confined: the sandbox's own summary, "-" for none (weftd sandboxes
  // the per-agent tool processes; `weftctl security scan --runtime` judges it).
  std::size_t sw = 7;
  for (auto& s : st->services) sw = std::max(sw, s.sandbox.size());
  fmt::print("{:<16} {:<16} {:<9} {:>7} {:>8} {:>8}  {:<{}}  {}\n", "SERVICE", "ADDRESS", "STATE", "PID", "RESTARTS",
             "SINCE", "SANDBOX", sw, "LAST EXIT");
  for (auto& s : st->services) {
    // Why a service failed or restarts, where a person looks first.
    auto last = s.last_exit.empty() ? std::string("-") : s.last_exit;
    if (!s.error.empty() && s.state != sv::state::ready) last += ": " + s.error;
    fmt::print("{:<16} {:<16} {:<9} {:>7} {:>8} {:>8}  {:<{}}  {}\n", s.name, s.address.empty() ? "-" : s.address,
               sv::to_string(s.state), s.pid ? std::to_string(s.pid) : "-", s.restarts, ago(s.since),
               s.sandbox.empty() ? "-" : s.sandbox, sw, last);
  }
  bool all_ok = std::all_of(st->services.begin(), st->services.end(), [](auto& s) {
    return s.state == sv::state::ready || s.state == sv::state::stopped;
  });
  return all_ok ? 0 : 1;
}

int cmd_control(const options& o, const std::string& action, const std::vector<std::string>& services) {
  zmq::context_t ctx(1);
  auto c = control(ctx, o);
  if (!c) return failure(c.err().message);
  int rc = 0;
  for (auto& s : services) {
    auto r = (*c)->request(sv::control{s, action}, std::chrono::milliseconds(o.timeout_ms));
    if (!r) {
      fmt::print(stderr, "Failed to {} '{}': {}\n", action, s, r.err().message);
      rc = 1;
      continue;
    }
    if (auto d = r->as<sv::done>(); d && !o.json) fmt::print("{}\n", d->message);
  }
  return rc;
}

int cmd_reload(const options& o) {
  zmq::context_t ctx(1);
  auto c = control(ctx, o);
  if (!c) return failure(c.err().message);
  auto r = (*c)->request(sv::reload{}, std::chrono::milliseconds(o.timeout_ms));
  if (!r) return failure(fmt::format("Failed to reload: {}", r.err().message));
  auto rr = r->as<sv::reload_reply>();
  if (!rr) return failure(rr.err().message);
  if (o.json) {
    fmt::print("{}\n", json{{"started", rr->started}, {"stopped", rr->stopped}, {"restarted", rr->restarted}}.dump(2));
    return 0;
  }
  auto list = [](const std::vector<std::string>& v) { return v.empty() ? std::string("-") : fmt::format("{}", fmt::join(v, ", ")); };
  fmt::print("reloaded: started {}; stopped {}; restarted {}\n", list(rr->started), list(rr->stopped),
             list(rr->restarted));
  return 0;
}

int cmd_config_check(const options& o, const std::string& file) {
  auto path = service::find_config(file);
  auto cfg = service::load_config_or_default(path.value_or(""));
  if (!cfg) {
    if (o.json)
      fmt::print("{}\n", json{{"valid", false}, {"file", path.value_or("")}, {"errors", cfg.err().message}}.dump(2));
    else
      fmt::print(stderr, "{}\n", cfg.err().message);
    return service::to_int(service::exit_code::usage);
  }
  // What weftd would run: the services derived from [agents]/[channels] and [services.*].
  auto services = service::derived_services(*cfg, [](std::string_view p) { return std::string(p); }).size() +
                  cfg->services.size();
  if (o.json) {
    fmt::print("{}\n", json{{"valid", true}, {"file", path.value_or("(built-in default)")}, {"warnings", cfg->warnings},
                            {"agents", cfg->agents.size()}, {"services", services}}.dump(2));
    return 0;
  }
  for (auto& w : cfg->warnings) fmt::print(stderr, "{}\n", w);
  fmt::print("{}: OK ({} agents, {} services besides the bus)\n", path.value_or("(built-in default)"),
             cfg->agents.size(), services);
  return 0;
}

int cmd_call(const options& o, const std::string& address, const std::string& type, const std::string& payload) {
  zmq::context_t ctx(1);
  auto b = join_bus(ctx, o);
  if (!b) return failure(fmt::format("Failed to join the bus: {}", b.err().message));
  ipc::call_options co;
  co.timeout = std::chrono::milliseconds(o.timeout_ms);
  co.retry = false;
  co.attempt_timeout = co.timeout;
  auto r = (*b)->call(address, type, payload, co);
  if (!r) return failure(fmt::format("Failed to call '{}' on '{}': {}", type, address, r.err().to_string()));
  std::string body = "{}";
  if (!r->payload.empty())
    if (auto doc = wire::parse(r->payload); doc) body = wire::to_json(doc->root());
  if (o.json)
    fmt::print("{}\n", json{{"type", r->env.type}, {"from", r->env.from}, {"payload", json::parse(body)}}.dump(2));
  else
    fmt::print("{} {}\n", r->env.type, body);
  return 0;
}

int cmd_peers(const options& o) {
  zmq::context_t ctx(1);
  auto b = join_bus(ctx, o);
  if (!b) return failure(fmt::format("Failed to join the bus: {}", b.err().message));
  auto r = (*b)->call("bus", bus::list_peers{});
  if (!r) return failure(fmt::format("Failed to list peers: {}", r.err().to_string()));
  auto p = r->as<bus::peers>();
  if (!p) return failure(p.err().message);
  if (o.json) {
    json j = json::array();
    for (auto& x : p->peers)
      j.push_back({{"address", x.address}, {"since", to_rfc3339(x.since)}, {"sent", x.sent}, {"received", x.received}});
    fmt::print("{}\n", j.dump(2));
    return 0;
  }
  fmt::print("{:<24} {:>10} {:>10}  {}\n", "ADDRESS", "SENT", "RECEIVED", "SINCE");
  for (auto& x : p->peers) fmt::print("{:<24} {:>10} {:>10}  {}\n", x.address, x.sent, x.received, to_rfc3339(x.since));
  return 0;
}

int cmd_log_level(const options& o, const std::string& target, const std::string& spec) {
  zmq::context_t ctx(1);
  auto b = join_bus(ctx, o);
  if (!b) return failure(fmt::format("Failed to join the bus: {}", b.err().message));
  auto r = (*b)->call(target, bus::set_log_level{spec});
  if (!r) return failure(fmt::format("Failed to set log levels of '{}': {}", target, r.err().to_string()));
  if (!o.json) fmt::print("{}: log levels now '{}'\n", target, spec);
  return 0;
}

namespace {
volatile std::sig_atomic_t interrupted = 0;
}

int cmd_trace(const options& o, const std::string& target, long count) {
  zmq::context_t ctx(1);
  // A service name is looked up in weftd's table; anything with '/' is an address.
  std::string address = target;
  auto c = control(ctx, o);
  if (!c) return failure(c.err().message);
  if (target.find('/') == std::string::npos) {
    auto r = (*c)->request(sv::status{});
    if (!r) return failure(fmt::format("Failed to look up '{}': {}", target, r.err().message));
    auto st = r->as<sv::status_reply>();
    if (!st) return failure(st.err().message);
    auto it = std::find_if(st->services.begin(), st->services.end(), [&](auto& s) { return s.name == target; });
    if (it == st->services.end()) return failure(fmt::format("Failed to trace '{}': no such service", target));
    if (it->address.empty()) return failure(fmt::format("Failed to trace '{}': it is not a bus peer", target));
    address = it->address;
  }
  auto tok = issue_token(**c);
  if (!tok) return failure(tok.err().message);
  auto sub = ipc::event_subscriber::connect(ctx, tok->events, {"trace:" + address + "\n"});
  if (!sub) return failure(sub.err().message);
  std::signal(SIGINT, [](int) { interrupted = 1; });
  if (!o.json) fmt::print(stderr, "tracing '{}' (Ctrl-C to stop)\n", address);
  long seen = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(o.timeout_ms);
  while (!interrupted && (count <= 0 || seen < count)) {
    if (count > 0 && std::chrono::steady_clock::now() > deadline) break;
    auto ev = (*sub)->next(200ms);
    if (!ev) continue;
    auto& m = ev->second;
    std::string body = "{}";
    if (!m.payload.empty())
      if (auto doc = wire::parse(m.payload); doc) body = wire::to_json(doc->root());
    if (o.json)
      fmt::print("{}\n", json{{"ts", to_rfc3339(m.env.ts)}, {"kind", std::string(bus::to_string(m.env.kind))},
                              {"type", m.env.type}, {"id", m.env.id}, {"from", m.env.from}, {"to", m.env.to},
                              {"payload", json::parse(body)}}.dump());
    else
      fmt::print("{} {:<7} {} -> {} #{} {} {}\n", to_rfc3339(m.env.ts), bus::to_string(m.env.kind), m.env.from,
                 m.env.to, m.env.id, m.env.type, body);
    std::fflush(stdout);
    ++seen;
  }
  return count > 0 && seen < count ? 1 : 0;
}

}  // namespace weft::ctl
