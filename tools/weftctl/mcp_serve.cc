// weftctl mcp serve|info — weft's MCP server for IDEs and Claude Code.
//
// serve: speaks MCP on stdin/stdout by relaying each line over the bus to weft-mcp
// (agent/<agent>/mcp, io.weft.Mcp.v1 Open/Frame/Close). stdout carries only protocol lines;
// diagnostics go to stderr. When stdin ends, the answers to every request already read are
// still relayed, then it exits 0; 1 when the server closes the session, goes away or cannot
// be reached.
// info: the HTTP URL, the token and ready-to-paste client setups, from the config weftd runs on.
#include <poll.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <weft/ipc/address.hh>
#include <weft/mcp/jsonrpc.hh>
#include <weft/mcp/stdio.hh>
#include <weft/service/config.hh>
#include <weft/service/paths.hh>

#include <weft/ipc/builtin.hh>

#include "commands.hh"
#include "pending_answers.hh"
#include "proto/bus_v1.hh"
#include "proto/mcp_v1.hh"

namespace weft::ctl {

namespace mv = weft::proto::mcp_v1;
namespace bus = weft::proto::bus_v1;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

struct mcp_target {
  std::string config;  // the file weftd runs on, or "(built-in default)"
  std::string agent;
  std::string address;  // agent/<agent>/mcp
  service::mcp_serve_settings settings;
  std::string home;
  std::string runtime;
  std::uint64_t bus_limit = 1048576;
  bool enabled = true;
};

/// weft's MCP server as weftd runs it: from the config file weftd runs on and weftd's state
/// directory, not from what weftctl's own environment would find. When weftd cannot be
/// asked, the config weftctl finds (and `note` says so on stderr).
result<mcp_target> target(const options& o, bool note) {
  auto w = ask_weftd(o);
  std::string path;
  if (w) {
    path = w->config;
  } else {
    path = service::find_config("").value_or("");
    if (note)
      fmt::print(stderr, "note: weftd is not reachable ({}); showing the config weftctl finds: {}\n", w.err().message,
                 path.empty() ? "(built-in default)" : path);
  }
  auto cfg = service::load_config_or_default(path, /*lenient_env=*/true);
  if (!cfg) return cfg.take_error();
  mcp_target t;
  t.config = path.empty() ? "(built-in default)" : path;
  if (cfg->mcp) t.settings = *cfg->mcp;
  t.enabled = cfg->mcp && cfg->mcp->enabled;
  t.agent = t.settings.agent.empty() ? "main" : t.settings.agent;
  t.address = ipc::addr::agent_mcp(t.agent);
  t.home = w && !w->home.empty() ? w->home : service::home_dir(cfg->home);
  t.runtime = w && !w->runtime_dir.empty() ? w->runtime_dir : o.runtime_dir;
  t.bus_limit = cfg->bus.max_message_bytes;
  return t;
}

bool write_line(const std::string& line) {
  auto framed = line + "\n";
  return static_cast<bool>(mcp::write_all(STDOUT_FILENO, framed));
}

}  // namespace

int cmd_mcp_serve(const options& o) {
  std::signal(SIGPIPE, SIG_IGN);
  auto t = target(o, /*note=*/false);
  if (!t) return failure(fmt::format("Failed to read weft's config: {}", t.err().message));
  auto fail_reach = [&](const std::string& why) {
    return failure(fmt::format("Failed to reach weft's MCP server '{}': {}", t->address, why));
  };
  if (!t->enabled) return fail_reach("it is not enabled (add an [mcp] table to the config, or set enabled = true)");
  zmq::context_t ctx(1);
  // Subscribe before opening, so the server leaving is never missed.
  auto events = ipc::event_subscriber::connect(ctx, service::events_endpoint(o.runtime_dir),
                                               {std::string(bus::peer_changed::type_name)});
  auto b = join_bus(ctx, o);
  if (!b) return fail_reach(fmt::format("weftd is not running or refused ({})", b.err().message));
  auto& busc = **b;
  ipc::call_options co;
  co.timeout = std::chrono::milliseconds(std::min<unsigned>(o.timeout_ms, 10000));
  co.retry = true;  // the server may be (re)starting
  auto r = busc.call(t->address, mv::open{fmt::format("stdio pid {}", ::getpid())}, co);
  if (!r) return fail_reach(r.err().message);
  auto opened = r->as<mv::opened>();
  if (!opened) return fail_reach(opened.err().message);
  const auto sid = opened->session;
  // A line must fit the bus's message limit with its envelope.
  std::size_t max_line = t->bus_limit > 32 * 1024 ? t->bus_limit - 16 * 1024 : t->bus_limit / 2;
  max_line = std::min<std::size_t>(max_line, mcp::limits{}.max_message_bytes);
  mcp::line_reader reader(max_line);
  bool stdin_open = true;
  pending_answers pending;
  int rc = -1;
  // stdin has ended: once every answer is relayed, the session ends and so does serve.
  auto finish_if_answered = [&] {
    if (stdin_open || !pending.empty()) return false;
    (void)busc.notify(t->address, mv::close{sid, "stdin closed"});
    rc = 0;
    return true;
  };
  while (rc < 0) {
    std::vector<zmq::pollitem_t> items = {{busc.socket().handle(), 0, ZMQ_POLLIN, 0},
                                          {busc.monitor_socket().handle(), 0, ZMQ_POLLIN, 0},
                                          {nullptr, STDIN_FILENO, static_cast<short>(stdin_open ? ZMQ_POLLIN : 0), 0}};
    if (events) items.push_back({(*events)->socket().handle(), 0, ZMQ_POLLIN, 0});
    zmq::poll(items.data(), items.size(), 1000ms);
    busc.process_input();
    while (auto m = busc.next(0ms)) {
      // weft-mcp pings a quiet session's weftctl to learn whether it is still there.
      if (ipc::answer_builtin(busc, *m)) continue;
      if (m->env.kind != bus::kind::event) continue;
      if (m->is(mv::frame::type_name)) {
        auto f = m->as<mv::frame>();
        if (!f || f->session != sid || m->env.from != t->address) continue;
        if (!write_line(f->line)) {
          fmt::print(stderr, "weftctl mcp serve: stdout closed; ending the session\n");
          (void)busc.notify(t->address, mv::close{sid, "stdout closed"});
          rc = 0;
          break;
        }
        pending.answered(f->line);
        if (finish_if_answered()) break;
      } else if (m->is(mv::close::type_name)) {
        auto c = m->as<mv::close>();
        if (!c || c->session != sid) continue;
        rc = failure(fmt::format("weft's MCP server '{}' closed the session: {}", t->address, c->reason));
        break;
      }
    }
    if (rc >= 0) break;
    if (events)
      while (auto e = (*events)->next(0ms)) {
        if (e->second.env.from != "bus") continue;
        auto p = e->second.as<bus::peer_changed>();
        // Left, or joined again (a restart: the bus replaces the old connection silently):
        // either way this session is gone.
        if (p && p->address == t->address) {
          rc = failure(fmt::format("weft's MCP server '{}' went away (stopped or restarted); reconnect the client",
                                   t->address));
          break;
        }
      }
    if (rc >= 0) break;
    // End of input on a pipe is POLLHUP alone, which zmq::poll reports as ZMQ_POLLERR.
    if (stdin_open && (items[2].revents & (ZMQ_POLLIN | ZMQ_POLLERR))) {
      auto more = reader.read_from(STDIN_FILENO);
      if (!more) {
        fmt::print(stderr, "weftctl mcp serve: {}\n", more.err().message);
        stdin_open = false;
      } else if (!*more) {
        stdin_open = false;
      }
      while (auto line = reader.next()) {
        if (!*line) {
          // Too long for the bus: answer it here (its id is unknowable: null).
          auto refused = mcp::error_response{
              std::nullopt,
              {mcp::code::invalid_request,
               fmt::format("Invalid request: message over {} bytes (the limit of weft's bus)", max_line), json()}};
          (void)write_line(mcp::serialize(refused));
          continue;
        }
        if (auto s = busc.notify(t->address, mv::frame{sid, **line}); !s)
          fmt::print(stderr, "weftctl mcp serve: Failed to send a message to '{}': {}\n", t->address, s.err().message);
        else
          pending.sent(**line);
      }
      finish_if_answered();
    }
  }
  busc.close(1000ms);
  return rc;
}

int cmd_mcp_info(const options& o) {
  auto t = target(o, /*note=*/true);
  if (!t) return failure(fmt::format("Failed to read weft's config: {}", t.err().message));
  std::string url;
  if (!t->settings.listen.empty()) {
    auto listen = t->settings.listen;
    auto colon = listen.rfind(':');
    auto host = listen.substr(0, colon);
    auto port = listen.substr(colon + 1);
    if (port == "0") {
      std::ifstream f(t->runtime + "/mcp.port");
      std::string p;
      if (f >> p) port = p;
    }
    if (host == "0.0.0.0" || host.empty()) host = "127.0.0.1";
    if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
    url = fmt::format("http://{}:{}/mcp", host, port);
  }
  auto token_file = t->home + "/mcp/http.token";
  std::string token;
  {
    std::ifstream f(token_file);
    std::getline(f, token);
  }
  if (o.json) {
    fmt::print("{}\n", json{{"config", t->config},
                            {"enabled", t->enabled},
                            {"agent", t->agent},
                            {"address", t->address},
                            {"url", url},
                            {"require_token", t->settings.require_token},
                            {"token_file", token_file},
                            {"token", token}}
                           .dump(2));
    return 0;
  }
  if (!t->enabled) fmt::print("weft's MCP server is not enabled: add an [mcp] table to the config.\n\n");
  fmt::print("weft's MCP server (agent '{}', bus address {}; config {})\n", t->agent, t->address, t->config);
  std::string header;
  if (url.empty()) {
    fmt::print("  HTTP:  off ([mcp] listen = \"\"); use stdio\n");
  } else {
    fmt::print("  HTTP:  {}\n", url);
    if (t->settings.require_token) {
      if (token.empty())
        fmt::print("  token: not created yet ({} appears when weft-mcp first starts)\n", token_file);
      else fmt::print("  token: {}  (from {})\n", token, token_file);
      header = fmt::format("Authorization: Bearer {}", token.empty() ? "<token>" : token);
    } else {
      fmt::print("  token: none required ([mcp] require_token = false)\n");
    }
  }
  fmt::print("  stdio: weftctl mcp serve\n\nClaude Code:\n");
  if (!url.empty())
    fmt::print("  claude mcp add --transport http weft {}{}\n", url,
               header.empty() ? "" : fmt::format(" --header \"{}\"", header));
  fmt::print("  claude mcp add weft -- weftctl mcp serve\n\nVS Code (.vscode/mcp.json):\n");
  json servers = json::object();
  if (!url.empty()) {
    json h = {{"type", "http"}, {"url", url}};
    if (!header.empty()) h["headers"] = {{"Authorization", header.substr(15)}};
    servers["weft"] = h;
  }
  servers["weft-stdio"] = {{"type", "stdio"}, {"command", "weftctl"}, {"args", {"mcp", "serve"}}};
  auto snippet = json{{"servers", servers}}.dump(2);
  for (std::size_t s = 0, e; s < snippet.size(); s = e + 1) {
    e = snippet.find('\n', s);
    if (e == std::string::npos) e = snippet.size();
    fmt::print("  {}\n", snippet.substr(s, e - s));
  }
  return 0;
}

}  // namespace weft::ctl
