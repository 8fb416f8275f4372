#include "claude.hh"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <weft/base/command.hh>
#include <weft/base/line_buffer.hh>

namespace weft::delegate {

namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;

constexpr std::size_t step_text_limit = 2000;  // a progress step is a glance, not the whole output

std::string clip(std::string s, std::size_t limit = step_text_limit) {
  if (s.size() <= limit) return s;
  // Cut at a UTF-8 character boundary.
  std::size_t n = limit;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  s.resize(n);
  return s + "…";
}

/// A string field of a JSON object, or `fallback` when it is missing or not a string (input
/// from a program, checked: json::value() would throw on a field of another type).
std::string text_field(const json& j, const char* key, const char* fallback = "") {
  auto it = j.is_object() ? j.find(key) : j.end();
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string(fallback);
}

/// "Bash: git status", "Edit: src/parser.c" — the one input field a person reads first.
std::string tool_use_summary(const json& block) {
  std::string name = text_field(block, "name", "?");
  const json& in = block.contains("input") ? block["input"] : json::object();
  for (const char* key : {"command", "file_path", "path", "pattern", "url", "query", "description"})
    if (in.is_object() && in.contains(key) && in[key].is_string()) return name + ": " + clip(in[key].get<std::string>(), 300);
  return name;
}

std::string tool_result_text(const json& block) {
  const json& c = block.contains("content") ? block["content"] : json();
  if (c.is_string()) return clip(c.get<std::string>());
  std::string out;
  if (c.is_array())
    for (auto& part : c)
      if (part.is_object() && text_field(part, "type", "") == "text" && part.contains("text") && part["text"].is_string())
        out += part["text"].get<std::string>();
  return clip(out);
}

/// The last non-empty line of what the program wrote to stderr, for an error message.
std::string last_line(const std::string& s) {
  auto end = s.find_last_not_of(" \t\r\n");
  if (end == std::string::npos) return {};
  auto start = s.rfind('\n', end);
  return s.substr(start == std::string::npos ? 0 : start + 1, end + 1 - (start == std::string::npos ? 0 : start + 1));
}

std::string said(const command_outcome& o) {
  auto line = last_line(o.stderr_tail);
  return line.empty() ? std::string() : fmt::format(" (it said: {})", line);
}

/// The stream's lines, one JSON object each, into `r` and progress steps.
class stream_reader {
 public:
  stream_reader(claude_result& r, const claude_request& req, const std::function<void(const claude_step&)>& progress)
      : _r(r), _req(req), _progress(progress), _lines_in(req.max_line) {}

  /// False when a line is longer than the limit (the run is then stopped).
  bool feed(std::string_view chunk) {
    if (_lines_in.feed(chunk, [this](std::string_view l) { line(l); })) return true;
    _too_long = true;
    return false;
  }
  void finish() {
    _lines_in.finish([this](std::string_view l) { line(l); });
  }
  bool got_result() const { return _got_result; }
  bool too_long() const { return _too_long; }
  std::size_t lines() const { return _lines; }

 private:
  void line(std::string_view text) {
    if (text.find_first_not_of(" \t\r") == std::string_view::npos) return;
    ++_lines;
    auto j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      ++_r.bad_lines;
      return;
    }
    auto type = text_field(j, "type", "");
    if (type == "system" && text_field(j, "subtype", "") == "init") {
      _r.session_id = text_field(j, "session_id", "");
      _r.model = text_field(j, "model", "");
      _r.version = text_field(j, "claude_code_version", "");
      if (j.contains("tools") && j["tools"].is_array())
        for (auto& t : j["tools"])
          if (t.is_string()) _r.tools.push_back(t.get<std::string>());
      _progress({claude_step::kind::started, _r.model});
    } else if (type == "assistant" || type == "user") {
      const json& msg = j.contains("message") ? j["message"] : json();
      const json& content = msg.is_object() && msg.contains("content") ? msg["content"] : json();
      if (!content.is_array()) return;
      for (auto& block : content) {
        if (!block.is_object()) continue;
        auto kind = text_field(block, "type", "");
        if (type == "assistant" && kind == "text" && block.contains("text") && block["text"].is_string())
          _progress({claude_step::kind::text, clip(block["text"].get<std::string>())});
        else if (type == "assistant" && kind == "tool_use")
          _progress({claude_step::kind::tool_use, tool_use_summary(block)});
        else if (type == "user" && kind == "tool_result")
          _progress({claude_step::kind::tool_result, tool_result_text(block),
                     block.contains("is_error") && block["is_error"].is_boolean() && block["is_error"].get<bool>()});
      }
    } else if (type == "result") {
      _got_result = true;
      if (j.contains("result") && j["result"].is_string()) _r.text = j["result"].get<std::string>();
      _r.is_error = j.contains("is_error") && j["is_error"].is_boolean() ? j["is_error"].get<bool>() : true;
      _r.subtype = text_field(j, "subtype", "");
      if (j.contains("num_turns") && j["num_turns"].is_number_unsigned()) _r.turns = j["num_turns"].get<unsigned>();
      if (j.contains("total_cost_usd") && j["total_cost_usd"].is_number()) _r.cost_usd = j["total_cost_usd"].get<double>();
      if (j.contains("session_id") && j["session_id"].is_string()) _r.session_id = j["session_id"].get<std::string>();
      if (j.contains("permission_denials") && j["permission_denials"].is_array())
        for (auto& d : j["permission_denials"])
          if (d.is_object() && d.contains("tool_name") && d["tool_name"].is_string())
            _r.denied.push_back(d["tool_name"].get<std::string>());
    }
  }

  claude_result& _r;
  const claude_request& _req;
  const std::function<void(const claude_step&)>& _progress;
  line_buffer _lines_in;
  bool _got_result = false, _too_long = false;
  std::size_t _lines = 0;
};

}  // namespace

std::vector<std::string> claude_environment(const std::string& home, const std::vector<std::string>& extra) {
  std::vector<std::string> env = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + home, "LANG=C.UTF-8",
                                   "DISABLE_AUTOUPDATER=1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1"};
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

std::vector<std::string> claude_argv(const claude_request& r) {
  std::vector<std::string> a = {r.exec, "-p", "--output-format", "stream-json", "--verbose"};
  if (r.max_turns) a.insert(a.end(), {"--max-turns", std::to_string(*r.max_turns)});
  if (!r.allowed_tools.empty()) a.insert(a.end(), {"--allowedTools", fmt::format("{}", fmt::join(r.allowed_tools, ","))});
  if (!r.disallowed_tools.empty()) a.insert(a.end(), {"--disallowedTools", fmt::format("{}", fmt::join(r.disallowed_tools, ","))});
  if (!r.permission_mode.empty()) a.insert(a.end(), {"--permission-mode", r.permission_mode});
  if (!r.resume.empty()) a.insert(a.end(), {"--resume", r.resume});
  if (!r.model.empty()) a.insert(a.end(), {"--model", r.model});
  if (!r.mcp_config.empty()) a.insert(a.end(), {"--mcp-config", r.mcp_config, "--strict-mcp-config"});
  if (!r.permission_prompt_tool.empty()) a.insert(a.end(), {"--permission-prompt-tool", r.permission_prompt_tool});
  // The task last, after "--": a task starting with '-' is not taken for an option.
  a.insert(a.end(), {"--", r.task});
  return a;
}

claude_result read_claude_stream(std::string_view bytes, const std::function<void(const claude_step&)>& progress,
                                 bool& got_result, std::size_t max_line) {
  claude_result out;
  claude_request req;
  req.max_line = max_line;
  stream_reader reader(out, req, progress);
  if (reader.feed(bytes)) reader.finish();
  got_result = reader.got_result();
  return out;
}

result<claude_result> run_claude(const claude_request& r, int cancel_fd,
                                 const std::function<void(const claude_step&)>& progress) {
  claude_result out;
  stream_reader reader(out, r, progress);
  command_spec spec{.exec = r.exec,
                    .argv = claude_argv(r),
                    .env = r.env,
                    .dir_fd = r.dir_fd,
                    .merge_stderr = false,
                    .before_exec = r.before_exec,
                    .before_exec_arg = r.before_exec_arg,
                    .before_exec_step = "the command filter"};
  auto ran = run_command(spec, {.timeout = r.timeout, .kill_grace = r.kill_grace}, cancel_fd,
                         [&](std::string_view chunk) { return reader.feed(chunk); });
  if (!ran) {
    if (ran.err().code == errc::not_found)
      return fail(errc::not_found, "Failed to run Claude Code '{}': no such file", r.exec);
    return fail(errc::io, "Failed to run Claude Code: {}", ran.err().message);
  }
  reader.finish();
  auto& o = *ran;
  if (reader.got_result() && !o.timed_out && !o.cancelled && !reader.too_long()) return out;
  if (o.timed_out)
    return fail(errc::timeout, "Claude Code did not finish within {} s; it and everything it started were stopped{}",
                std::chrono::duration_cast<std::chrono::seconds>(r.timeout).count(), said(o));
  if (o.cancelled) return fail(errc::cancelled, "The Claude Code run was cancelled; it and everything it started were stopped");
  if (reader.too_long())
    return fail(errc::io, "Failed to read Claude Code's output: a line is over {} bytes; the run was stopped", r.max_line);
  if (!WIFEXITED(o.status) || WEXITSTATUS(o.status) != 0)
    return fail(errc::io, "Claude Code ended ({}) before its result, after {} lines of output{}", o.describe(),
                reader.lines(), said(o));
  return fail(errc::io, "Claude Code's output ended without a result, after {} lines{}", reader.lines(), said(o));
}

claude_probe probe_claude(const std::string& exec, const std::string& home, std::chrono::milliseconds timeout) {
  claude_probe p{exec, {}, {}, std::chrono::system_clock::now()};
  std::string out;
  command_spec spec{.exec = exec, .argv = {exec, "--version"}, .env = claude_environment(home, {}), .merge_stderr = false};
  auto ran = run_command(spec, {.timeout = timeout, .kill_grace = std::chrono::seconds(1)}, -1, [&](std::string_view s) {
    if (out.size() < 4096) out.append(s);
    return true;
  });
  if (!ran) {
    p.error = ran.err().code == errc::not_found ? fmt::format("'{}' does not exist", exec) : ran.err().message;
    return p;
  }
  if (ran->timed_out) {
    p.error = fmt::format("'{} --version' did not answer within {} s", exec,
                          std::chrono::duration_cast<std::chrono::seconds>(timeout).count());
    return p;
  }
  if (!ran->succeeded()) {
    p.error = fmt::format("'{} --version' failed ({}){}", exec, ran->describe(), said(*ran));
    return p;
  }
  // "2.1.197 (Claude Code)"
  std::istringstream words(out);
  std::string version;
  words >> version;
  if (version.empty() || version.find_first_not_of("0123456789.") != std::string::npos) {
    p.error = fmt::format("'{} --version' printed '{}', not a Claude Code version", exec, clip(last_line(out), 200));
    return p;
  }
  p.version = version;
  return p;
}

result<std::string> find_claude(const std::string& configured, const std::string& path) {
  if (!configured.empty()) {
    struct stat st;
    if (::stat(configured.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(configured.c_str(), X_OK) == 0)
      return configured;
    return fail(errc::not_found, "Claude Code is configured at '{}', which is not an executable file", configured);
  }
  if (auto f = find_executable("claude", path)) return *f;
  return fail(errc::not_found, "Claude Code ('claude') is not on PATH ({}); install it or set its path", path);
}

claude_health::claude_health(std::string configured, std::string path, std::string home, milliseconds ttl,
                             milliseconds retry)
    : _configured(std::move(configured)), _path(std::move(path)), _home(std::move(home)), _ttl(ttl), _retry(retry) {}

claude_probe claude_health::get() {
  std::lock_guard lock(_mu);
  auto now = std::chrono::steady_clock::now();
  bool fresh = _probed != std::chrono::steady_clock::time_point{} &&
               now - _probed < (_last.usable() ? _ttl : _retry);
  if (fresh) return _last;
  auto exec = find_claude(_configured, _path);
  if (!exec) _last = claude_probe{_configured, {}, exec.err().message, std::chrono::system_clock::now()};
  else _last = probe_claude(*exec, _home);
  _probed = now;
  return _last;
}

void claude_health::failed(const std::string& why) {
  std::lock_guard lock(_mu);
  _last.error = why;
  _probed = {};  // the next get() asks again
}

claude_probe claude_health::last() const {
  std::lock_guard lock(_mu);
  return _last;
}

}  // namespace weft::delegate
