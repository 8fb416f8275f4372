// weftctl mcp add|list|remove: the MCP servers agents use ([tools.mcp_servers.<name>]),
// changed at run time. add/remove edit the config file weftd runs on (the rest of the file
// is kept byte for byte), check the result, ask weftd to reload — weftd then signals the
// client host (tool-mcp), which connects or drops only that server — and wait until the
// change shows in tool-mcp's ListServers. serve|info live in mcp_serve.cc.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <weft/base/fd.hh>
#include <weft/base/io.hh>
#include <weft/service/config.hh>
#include <weft/service/config_edit.hh>
#include <weft/service/control_client.hh>
#include <weft/service/paths.hh>

#include "commands.hh"
#include "proto/mcp_v1.hh"
#include "proto/supervisor_v1.hh"

namespace weft::ctl {

namespace mv = weft::proto::mcp_v1;
namespace sv = weft::proto::supervisor_v1;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr std::string_view builtin_default_text =
    "# weft configuration, written by `weftctl mcp add` from the built-in default: agent main\n"
    "# with its tools, the web chat on 127.0.0.1:8780, weft's MCP server on 127.0.0.1:8781,\n"
    "# providers from the environment. Reference: docs/config.md.\n"
    "\n"
    "[agents.main]\n"
    "\n"
    "[channels.web]\n"
    "\n"
    "[routing]\n"
    "default_agent = \"main\"\n"
    "\n"
    "[mcp]\n";

result<std::string> read_file(const std::string& path) {
  unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return fail(errc::io, "Failed to read '{}': {}", path, std::strerror(errno));
  auto text = read_to_end(fd.get(), 4u << 20);
  if (!text) return fail(errc::io, "Failed to read '{}': {}", path, text.err().message);
  return text;
}

unsigned file_mode(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0600;
}

result<sv::reload_reply> reload(const options& o) {
  zmq::context_t ctx(1);
  auto c = service::control_client::connect(ctx, o.runtime_dir);
  if (!c) return c.take_error();
  auto r = (*c)->request(sv::reload{}, std::chrono::milliseconds(o.timeout_ms));
  if (!r) return r.take_error();
  return r->as<sv::reload_reply>();
}

result<mv::servers> list_servers(zmq::context_t& ctx, const options& o, std::unique_ptr<ipc::bus_client>& bus) {
  if (!bus) {
    auto b = join_bus(ctx, o);
    if (!b) return b.take_error();
    bus = std::move(*b);
  }
  ipc::call_options co;
  co.timeout = std::chrono::milliseconds(std::min<unsigned>(o.timeout_ms, 5000));
  auto r = bus->call("tool/mcp", mv::list_servers{}, co);
  if (!r) return r.take_error();
  return r->as<mv::servers>();
}

const mv::server_status* find_server(const mv::servers& s, std::string_view name) {
  for (auto& x : s.servers)
    if (x.name == name) return &x;
  return nullptr;
}

int print_list(const options& o, const mv::servers& s, const std::string& config) {
  if (o.json) {
    json list = json::array();
    for (auto& x : s.servers)
      list.push_back({{"name", x.name},
                      {"transport", x.transport},
                      {"target", x.target},
                      {"state", x.state},
                      {"era", x.era},
                      {"protocol_version", x.protocol_version},
                      {"server_info", x.server_info},
                      {"tool_count", x.tool_count},
                      {"last_error", x.last_error},
                      {"restarts", x.restarts},
                      {"retry_in_ms", x.retry_in_ms}});
    fmt::print("{}\n", json{{"config", config}, {"servers", list}}.dump(2));
    return 0;
  }
  if (s.servers.empty()) {
    fmt::print("no MCP servers configured\n");
    return 0;
  }
  std::size_t wn = 4, ws = 5, wp = 8;
  auto state_of = [](const mv::server_status& x) {
    return x.state == "backoff" && x.retry_in_ms ? fmt::format("backoff ({:.1f}s)", x.retry_in_ms / 1000.0) : x.state;
  };
  auto proto_of = [](const mv::server_status& x) {
    return x.protocol_version.empty() ? std::string("-") : fmt::format("{} {}", x.era, x.protocol_version);
  };
  for (auto& x : s.servers) {
    wn = std::max(wn, x.name.size());
    ws = std::max(ws, state_of(x).size());
    wp = std::max(wp, proto_of(x).size());
  }
  fmt::print("{:<{}}  {:<{}}  {:>5}  {:<{}}  {:>8}  {}\n", "NAME", wn, "STATE", ws, "TOOLS", "PROTOCOL", wp, "RESTARTS",
             "TARGET");
  for (auto& x : s.servers) {
    fmt::print("{:<{}}  {:<{}}  {:>5}  {:<{}}  {:>8}  {} ({})\n", x.name, wn, state_of(x), ws, x.tool_count,
               proto_of(x), wp, x.restarts, x.target, x.transport);
    if (!x.last_error.empty()) fmt::print("{:<{}}  last error: {}\n", "", wn, x.last_error);
  }
  return 0;
}

/// Waits until tool-mcp reports `name` ready (0), failing (1), or — for remove — gone (0).
int wait_for(const options& o, const std::string& name, bool want_gone, unsigned limit_ms) {
  zmq::context_t ctx(1);
  std::unique_ptr<ipc::bus_client> bus;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(limit_ms);
  std::string last;
  bool told = false;
  for (;;) {
    auto s = list_servers(ctx, o, bus);
    if (s) {
      auto* x = find_server(*s, name);
      if (want_gone && !x) return 0;
      if (!want_gone && x) {
        if (x->state == "ready") {
          if (!o.json)
            fmt::print("'{}' is ready: {} tool(s) as {}__<tool>, {} {}{}\n", name, x->tool_count, name, x->era,
                       x->protocol_version, x->server_info.empty() ? "" : ", server " + x->server_info);
          return 0;
        }
        if (x->state == "disabled") return 0;
        if (!x->last_error.empty() && (x->state == "backoff" || x->restarts > 0)) {
          fmt::print(stderr,
                     "Failed to connect to MCP server '{}': {}\n"
                     "It stays in the config and weft keeps retrying with backoff; `weftctl mcp list` shows its "
                     "state, `weftctl mcp remove {}` drops it.\n",
                     name, x->last_error, name);
          return 1;
        }
        last = x->state;
      }
    } else {
      last = s.err().message;
      bus.reset();  // tool-mcp may be starting: join again
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      fmt::print(stderr, "Failed to see MCP server '{}' {} within {} ms (last seen: {})\n", name,
                 want_gone ? "go" : "connect", limit_ms, last.empty() ? "not yet listed" : last);
      return 1;
    }
    if (!told && !o.json) {
      fmt::print(stderr, "waiting for '{}' to {}…\n", name, want_gone ? "disconnect" : "connect");
      told = true;
    }
    std::this_thread::sleep_for(200ms);
  }
}

/// Writes `text` as the new config after checking it parses; reports what weftd did.
int apply(const options& o, const std::string& given, const std::string& text, bool created) {
  // A symlinked config is edited where it points, not replaced by a file of its own.
  std::error_code ec;
  auto resolved = created ? std::filesystem::path(given) : std::filesystem::canonical(given, ec);
  const std::string path = ec ? given : resolved.string();
  auto parsed = service::parse_config(text, path, /*lenient_env=*/true);
  if (!parsed) return failure(fmt::format("Failed to change '{}': the result would not load:\n{}", path,
                                          parsed.err().message));
  auto dir = std::filesystem::path(path).parent_path();
  if (created) std::filesystem::create_directories(dir, ec);
  if (auto w = write_file_atomic(path, text, created ? 0600 : file_mode(path)); !w)
    return failure(w.err().message);
  auto r = reload(o);
  if (!r) return failure(fmt::format("Changed '{}', but failed to reload weftd: {} (run `weftctl reload`)", path,
                                     r.err().message));
  if (created) {
    auto w = ask_weftd(o);
    if (w && w->config.empty())
      return failure(fmt::format("Wrote '{}', but weftd did not take it up (it looks for its config with its own "
                                 "$WEFT_HOME and $HOME); restart weftd with --config {}",
                                 path, path));
  }
  if (!o.json) {
    std::vector<std::string> what;
    if (!r->started.empty()) what.push_back(fmt::format("started {}", fmt::join(r->started, ", ")));
    if (!r->stopped.empty()) what.push_back(fmt::format("stopped {}", fmt::join(r->stopped, ", ")));
    if (!r->restarted.empty()) what.push_back(fmt::format("restarted {}", fmt::join(r->restarted, ", ")));
    fmt::print("updated {}{}; weftd reloaded{}\n", path, created ? " (new file)" : "",
               what.empty() ? "" : fmt::format(" ({})", fmt::join(what, "; ")));
  }
  return 0;
}

}  // namespace

bool valid_mcp_server_name(std::string_view n) {
  auto ok = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  return !n.empty() && n.size() <= 32 && ok(n[0]) && std::all_of(n.begin(), n.end(), [&](char c) { return ok(c) || c == '-'; });
}

bool is_url(std::string_view s) { return s.substr(0, 7) == "http://" || s.substr(0, 8) == "https://"; }

int cmd_mcp_add(const options& o, const mcp_add_args& a) {
  const std::string& name = a.name;
  service::mcp_server_entry e;
  e.env = a.env;
  e.headers = a.headers;
  e.era = a.era;
  e.enabled = !a.disabled;
  bool wait = !a.no_wait;
  if (!a.cwd.empty()) {
    std::error_code ec;
    auto abs = std::filesystem::absolute(a.cwd, ec);
    e.cwd = ec ? a.cwd : abs.string();
  }
  if (a.command.size() == 1 && is_url(a.command[0])) {
    e.url = a.command[0];
  } else {
    e.command = a.command[0];
    e.args.assign(a.command.begin() + 1, a.command.end());
  }

  auto w = ask_weftd(o);
  if (!w) return failure(fmt::format("Failed to add MCP server '{}': weftd is not reachable: {}", name, w.err().message));
  bool created = false;
  std::string path = w->config, text;
  if (path.empty()) {
    path = service::find_config("").value_or("");
    if (path.empty()) {
      const char* home = std::getenv("WEFT_HOME");
      const char* user_home = std::getenv("HOME");
      path = home && *home ? std::string(home) + "/clawft.toml"
                           : std::string(user_home ? user_home : ".") + "/.clawft/clawft.toml";
    }
    if (std::filesystem::exists(path))
      return failure(fmt::format("Failed to add MCP server '{}': weftd runs on its built-in default, but '{}' exists; "
                                 "restart weftd with --config {} (or remove that file) and try again",
                                 name, path, path));
    text = builtin_default_text;
    created = true;
  } else {
    auto t = read_file(path);
    if (!t) return failure(t.err().message);
    text = std::move(*t);
  }
  if (auto current = service::parse_config(text, path, /*lenient_env=*/true)) {
    if (auto it = current->tools.mcp_servers.find(name); it != current->tools.mcp_servers.end())
      return failure(fmt::format("Failed to add MCP server '{}': it is already configured at {}; `weftctl mcp remove "
                                 "{}` first to replace it",
                                 name, it->second.where, name));
  } else {
    return failure(fmt::format("Failed to add MCP server '{}': '{}' does not load now:\n{}", name, path,
                               current.err().message));
  }

  auto added = service::add_mcp_server_table(text, name, e);
  if (!added) return failure(fmt::format("Failed to add MCP server '{}': {}", name, added.err().message));
  text = std::move(*added);
  auto parsed = service::parse_config(text, path, /*lenient_env=*/true);
  if (!parsed) return failure(fmt::format("Failed to add MCP server '{}':\n{}", name, parsed.err().message));
  unsigned limit = parsed->tools.mcp_servers.at(name).connect_timeout_ms + 10000;
  if (int rc = apply(o, path, text, created); rc != 0) return rc;
  if (!wait || !e.enabled) return 0;
  return wait_for(o, name, false, limit);
}

int cmd_mcp_remove(const options& o, const std::string& name) {
  auto w = ask_weftd(o);
  if (!w) return failure(fmt::format("Failed to remove MCP server '{}': weftd is not reachable: {}", name,
                                     w.err().message));
  if (w->config.empty())
    return failure(fmt::format("Failed to remove MCP server '{}': weftd runs on its built-in default, which has no "
                               "MCP servers",
                               name));
  auto text = read_file(w->config);
  if (!text) return failure(text.err().message);
  auto current = service::parse_config(*text, w->config, /*lenient_env=*/true);
  if (!current) return failure(fmt::format("Failed to remove MCP server '{}': '{}' does not load now:\n{}", name,
                                           w->config, current.err().message));
  auto it = current->tools.mcp_servers.find(name);
  if (it == current->tools.mcp_servers.end()) {
    std::vector<std::string> names;
    for (auto& [n, s] : current->tools.mcp_servers) names.push_back(n);
    return failure(fmt::format("Failed to remove MCP server '{}': it is not in '{}' (configured: {})", name,
                               w->config, names.empty() ? std::string("none") : fmt::format("{}", fmt::join(names, ", "))));
  }
  auto edited = service::remove_mcp_server_table(*text, name);
  if (!edited && edited.err().code == errc::not_found)
    return failure(fmt::format("Failed to remove MCP server '{}': it is defined at {} in a form this command does not "
                               "edit (not a [tools.mcp_servers.{}] table of its own); remove it there by hand and run "
                               "`weftctl reload`",
                               name, it->second.where, name));
  auto check = edited ? service::parse_config(*edited, w->config, /*lenient_env=*/true) : result<service::config>(edited.err());
  if (!check || check->tools.mcp_servers.count(name))
    return failure(fmt::format("Failed to remove MCP server '{}': its table at {} has parts this command cannot "
                               "separate from the rest; remove it by hand and run `weftctl reload`",
                               name, it->second.where));
  if (int rc = apply(o, w->config, *edited, false); rc != 0) return rc;
  if (check->tools.mcp_servers.empty()) {
    if (!o.json) fmt::print("'{}' removed; no MCP servers remain, so tool-mcp stops\n", name);
    return 0;
  }
  int rc = wait_for(o, name, true, 15000);
  if (rc == 0 && !o.json) fmt::print("'{}' removed\n", name);
  return rc;
}

int cmd_mcp_list(const options& o) {
  auto w = ask_weftd(o);
  if (!w) return failure(fmt::format("Failed to list MCP servers: weftd is not reachable: {}", w.err().message));
  std::string config = w->config.empty() ? "(built-in default)" : w->config;
  service::config cfg;
  if (!w->config.empty()) {
    auto c = service::load_config(w->config, /*lenient_env=*/true);
    if (!c) return failure(c.err().message);
    cfg = std::move(*c);
  }
  if (cfg.tools.mcp_servers.empty()) {
    if (o.json) return print_list(o, mv::servers{}, config);
    fmt::print("no MCP servers configured in {} (add one: weftctl mcp add NAME -- COMMAND …)\n", config);
    return 0;
  }
  zmq::context_t ctx(1);
  std::unique_ptr<ipc::bus_client> bus;
  auto s = list_servers(ctx, o, bus);
  if (!s)
    return failure(fmt::format("Failed to ask the MCP client host 'tool/mcp': {} (is it running? weftctl status "
                               "tool-mcp)",
                               s.err().message));
  return print_list(o, *s, config);
}

}  // namespace weft::ctl
