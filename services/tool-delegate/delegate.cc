#include "delegate.hh"

#include <fcntl.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/ranges.h>

#include <weft/base/io.hh>
#include <weft/base/time.hh>

namespace weft::delegate {

namespace tool = tools::tool;
using tools::json;

namespace {

constexpr std::string_view delegate_schema = R"({"type":"object","properties":{
"task":{"type":"string","description":"What Claude Code should do, as you would tell a colleague: the goal, the files, how to check the result."},
"cwd":{"type":"string","description":"Directory to work in, relative to the workspace (default: the workspace)."},
"allowed_tools":{"type":"array","items":{"type":"string"},"description":"Only these Claude Code tools (e.g. [\"Read\",\"Edit\"]); default: every tool this agent may use."},
"max_turns":{"type":"integer","minimum":1,"description":"At most this many model turns (default and cap: the configured max_turns)."},
"new_session":{"type":"boolean","description":"Start afresh instead of continuing this chat's earlier Claude Code session."}},
"required":["task"]})";

constexpr auto token_grace = std::chrono::minutes(1);  // a token outlives its run by this much
constexpr std::size_t max_sessions_kept = 1000;

/// The first `n` bytes of `s` on one line.
std::string one_line(std::string_view s, std::size_t n = 200) {
  std::string out(s.substr(0, std::min(n, s.size())));
  std::replace(out.begin(), out.end(), '\n', ' ');
  if (s.size() > n) out += "…";
  return out;
}

result<std::vector<std::string>> string_list_arg(const json& args, std::string_view name) {
  std::vector<std::string> out;
  auto it = args.find(name);
  if (it == args.end() || it->is_null()) return out;
  if (!it->is_array()) return tool::make(tool::error_code::bad_arguments, "'{}' must be an array of strings", name);
  for (auto& v : *it) {
    if (!v.is_string()) return tool::make(tool::error_code::bad_arguments, "'{}' must be an array of strings", name);
    out.push_back(v.get<std::string>());
  }
  return out;
}

tool::result unavailable(std::string why) {
  tool::result r;
  r.is_error = true;
  r.content = fmt::format("Claude Code is not available: {}", why);
  r.structured = json{{"path", path_unavailable}, {"reason", why}}.dump();
  return r;
}

}  // namespace

std::string progress_line(const claude_step& s) {
  switch (s.what) {
    case claude_step::kind::started: return fmt::format("Claude Code started ({})", s.text.empty() ? "default model" : s.text);
    case claude_step::kind::text: return s.text;
    case claude_step::kind::tool_use: return "▸ " + s.text;
    case claude_step::kind::tool_result: return s.is_error ? "  ✗ " + one_line(s.text) : std::string();
  }
  return {};
}

delegate_tools::delegate_tools(const tools::workspace& ws, delegate_config cfg, token_fn token)
    : _ws(ws), _cfg(std::move(cfg)), _token(std::move(token)), _home(ws.root() + "/.weft/claude-home") {
  _health = std::make_unique<claude_health>(_cfg.claude_path, _cfg.path, _home);
  std::ifstream in(_ws.root() + "/.weft/delegate/sessions.json");
  auto j = json::parse(in, nullptr, false);
  if (j.is_object())
    for (auto& [k, v] : j.items())
      if (v.is_string()) _sessions[k] = v.get<std::string>();
}

std::string delegate_tools::session_of(const std::string& key) const {
  std::lock_guard lk(_mu);
  auto it = _sessions.find(key);
  return it == _sessions.end() ? std::string() : it->second;
}

void delegate_tools::remember_session(const std::string& key, const std::string& id) {
  std::lock_guard lk(_mu);
  if (_sessions.size() >= max_sessions_kept && !_sessions.count(key)) _sessions.erase(_sessions.begin());
  _sessions[key] = id;
  std::error_code ec;
  std::filesystem::create_directories(_ws.root() + "/.weft/delegate", ec);
  json j(_sessions);
  // A lost file costs only the follow-up's context; the run's answer stands.
  (void)write_file_atomic(_ws.root() + "/.weft/delegate/sessions.json", j.dump());
}

std::vector<tools::tool_def> delegate_tools::defs() {
  std::vector<tools::tool_def> out;
  out.push_back({{"delegate_to_claude",
                  "Hand a coding task to Claude Code, which works in the workspace with its own tools (read, "
                  "edit, search, run commands as this agent may) and reports back. Use it for multi-step work on "
                  "code: refactors, fixing tests, changes across files. Its steps are shown to the user as it works; "
                  "the result is its final answer. A follow-up in the same chat continues the same session.",
                  std::string(delegate_schema), ""},
                 [this](const json& a, const tools::call_context& ctx) { return run(a, ctx); }});
  out.push_back({{"status", "Whether Claude Code is usable for delegation: path, version, auth mode, last probe.",
                  R"({"type":"object","properties":{}})", ""},
                 [this](const json&, const tools::call_context&) { return status(); },
                 /*hidden=*/true});
  return out;
}

result<tool::result> delegate_tools::status() {
  auto p = _health->get();
  json j{{"usable", p.usable()},
         {"path", p.exec},
         {"version", p.version},
         {"auth", _cfg.weft_auth ? "weft" : "login"},
         {"network", _cfg.weft_auth ? "llm's Messages endpoint" : _cfg.proxy_env.empty() ? "none" : "the egress proxy"},
         {"last_probe", p.at == std::chrono::system_clock::time_point{} ? "" : to_rfc3339(p.at)},
         {"error", p.error},
         {"allowed_tools", _cfg.allowed},
         {"ask_tools", _cfg.ask},
         {"disallowed_tools", _cfg.disallowed},
         {"timeout_ms", _cfg.timeout.count()},
         {"max_turns", _cfg.max_turns}};
  tool::result r;
  r.content = j.dump();
  r.structured = r.content;
  return r;
}

result<tool::result> delegate_tools::run(const json& args, const tools::call_context& ctx) {
  auto task = tools::string_arg(args, "task");
  if (!task) return task.take_error();
  if (task->find_first_not_of(" \t\r\n") == std::string::npos)
    return tool::make(tool::error_code::bad_arguments, "'task' is empty: say what Claude Code should do");
  auto cwd = tools::optional_string_arg(args, "cwd");
  if (!cwd) return cwd.take_error();
  auto only = string_list_arg(args, "allowed_tools");
  if (!only) return only.take_error();
  auto turns = tools::optional_uint_arg(args, "max_turns");
  if (!turns) return turns.take_error();
  auto fresh = tools::optional_bool_arg(args, "new_session");
  if (!fresh) return fresh.take_error();

  auto dir = _ws.open_beneath(cwd->value_or(""), O_PATH | O_DIRECTORY, "work in");
  if (!dir) return dir.take_error();

  auto probe = _health->get();
  if (!probe.usable()) return unavailable(probe.error);

  claude_request req;
  req.exec = probe.exec;
  req.task = *task;
  req.dir_fd = dir->get();
  req.timeout = _cfg.timeout;
  req.before_exec = _cfg.before_exec;
  req.before_exec_arg = _cfg.before_exec_arg;
  req.max_turns = std::min<unsigned>(_cfg.max_turns, turns->value_or(_cfg.max_turns));
  // The model may narrow what the agent's policy allows, never widen it.
  req.allowed_tools = _cfg.allowed;
  req.disallowed_tools = _cfg.disallowed;
  if (!only->empty()) {
    std::erase_if(req.allowed_tools, [&](auto& t) {
      bool drop = std::find(only->begin(), only->end(), t) == only->end();
      if (drop) req.disallowed_tools.push_back(t);
      return drop;
    });
  }
  // Tools the person must allow step by step: not pre-allowed, asked through the prompt.
  std::string prompt_url;
  if (!_cfg.ask.empty() && _cfg.prompts) {
    std::erase_if(req.allowed_tools,
                  [&](auto& t) { return std::find(_cfg.ask.begin(), _cfg.ask.end(), t) != _cfg.ask.end(); });
    prompt_url = _cfg.prompts->open(ctx.caller, ctx.call.call_id, [&ctx](std::string q) { ctx.progress(std::move(q)); });
    req.mcp_config = json{{"mcpServers", {{"weft", {{"type", "http"}, {"url", prompt_url}}}}}}.dump();
    req.permission_prompt_tool = "mcp__weft__approve";
  }
  struct closer {
    approvals* a;
    const std::string& url;
    ~closer() {
      if (a && !url.empty()) a->close(url);
    }
  } close_prompt{_cfg.prompts, prompt_url};
  std::vector<std::string> extra = {"TMPDIR=" + _home + "/tmp"};
  if (_cfg.weft_auth) {
    auto token = _token(_cfg.timeout + token_grace);
    if (!token) return unavailable(token.err().message);
    extra.push_back("ANTHROPIC_BASE_URL=" + _cfg.llm_url);
    extra.push_back("ANTHROPIC_API_KEY=" + *token);
  } else {
    extra.push_back("CLAUDE_CONFIG_DIR=" + _cfg.config_dir);
    extra.insert(extra.end(), _cfg.proxy_env.begin(), _cfg.proxy_env.end());
  }
  std::error_code ec;
  std::filesystem::create_directories(_home + "/tmp", ec);
  if (ec) return fail(errc::io, "Failed to create '{}/tmp' for Claude Code: {}", _home, ec.message());
  req.env = claude_environment(_home, extra);
  for (auto& e : req.env)
    if (e.rfind("PATH=", 0) == 0) e = "PATH=" + _cfg.path;

  std::string session_key;
  if (auto m = json::parse(ctx.call.meta.value_or("{}"), nullptr, false); m.is_object() && m.contains("session") &&
                                                                           m["session"].is_string())
    session_key = m["session"].get<std::string>();
  if (!session_key.empty() && !fresh->value_or(false)) req.resume = session_of(session_key);

  auto ran = run_claude(req, ctx.cancel_fd, [&](const claude_step& s) {
    if (auto line = progress_line(s); !line.empty()) ctx.progress(std::move(line));
  });
  if (!ran) {
    auto& e = ran.err();
    if (e.code == errc::timeout || e.code == errc::cancelled) {
      tool::result r;
      r.is_error = true;
      r.content = e.message;
      r.structured = json{{"path", path_failed}, {"reason", e.message}}.dump();
      return r;
    }
    // It could not run (gone, exited before a result, a cut stream): ask again next time.
    _health->failed(e.message);
    return unavailable(e.message);
  }
  auto& c = *ran;
  if (!session_key.empty() && !c.session_id.empty()) remember_session(session_key, c.session_id);
  tool::result r;
  r.is_error = c.is_error;
  r.content = c.is_error ? fmt::format("Claude Code failed ({}): {}", c.subtype, c.text) : c.text;
  if (!c.denied.empty())
    r.content += fmt::format("\n[Claude Code was refused: {}]", fmt::join(c.denied, ", "));
  r.structured = json{{"path", path_claude},   {"is_error", c.is_error},  {"subtype", c.subtype},
                      {"turns", c.turns},       {"cost_usd", c.cost_usd},  {"session_id", c.session_id},
                      {"model", c.model},       {"version", c.version},    {"denied", c.denied},
                      {"tools", c.tools}}
                     .dump();
  return r;
}

}  // namespace weft::delegate
