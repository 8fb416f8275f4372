#include "lsp.hh"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <optional>
#include <set>
#include <thread>

#include <fmt/format.h>

#include <weft/base/children.hh>
#include <weft/base/command.hh>
#include <weft/base/io.hh>
#include <weft/base/log.hh>

#include "services/tool-code/code_index.hh"

namespace weft::tools::code {

namespace {

constexpr std::size_t max_message = 64 * 1024 * 1024;
constexpr std::size_t max_file = 8 * 1024 * 1024;
constexpr std::size_t stderr_lines = 12;
constexpr auto shutdown_wait = std::chrono::seconds(2);
constexpr std::size_t max_open = 64;  // documents a server keeps open
constexpr auto write_deadline = std::chrono::seconds(10);

using clock = std::chrono::steady_clock;

std::string percent_encode_path(std::string_view p) {
  std::string out;
  for (unsigned char c : p) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '_' || c == '.' || c == '~') out += static_cast<char>(c);
    else out += fmt::format("%{:02X}", c);
  }
  return out;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string_view line_of(std::string_view text, std::uint32_t line) {  // 1-based
  std::size_t off = 0;
  for (std::uint32_t l = 1; l < line; ++l) {
    off = text.find('\n', off);
    if (off == std::string_view::npos) return {};
    ++off;
  }
  auto end = text.find('\n', off);
  return text.substr(off, end == std::string_view::npos ? std::string_view::npos : end - off);
}

std::string language_id(std::string_view lang) {
  if (lang == "tsx") return "typescriptreact";
  return std::string(lang);
}

}  // namespace

/// One language server process and the client's state for it.
class lsp_server {
 public:
  lsp_server(std::string key, std::vector<std::string> command) : key(std::move(key)), command(std::move(command)) {}
  ~lsp_server() { stop(false); }

  const std::string key;
  const std::vector<std::string> command;

  std::mutex start_mu;  ///< one start (or stop) at a time
  std::mutex mu;
  std::condition_variable cv;
  bool alive = false;
  std::string exit_reason;  ///< why the last one ended
  int starts = 0;
  pid_t pid = -1;
  unique_fd in;
  std::thread reader;
  std::map<std::int64_t, std::optional<json>> pending;
  std::int64_t next_id = 1;
  /// uri → the text last sent (its hash and size) and when it was last used: documents
  /// beyond max_open are closed, least recently used first.
  struct open_doc {
    std::size_t hash = 0, size = 0;
    std::uint64_t used = 0;
  };
  std::map<std::string, open_doc> sent;
  std::uint64_t use_counter = 0;
  std::uint64_t generation = 0;  ///< which run of the server (a request is tied to one)
  bool reaping = false;          ///< the reader is collecting the process: no more kill()
  std::map<std::string, int> versions;
  std::map<std::string, json> diags;         ///< uri → last published diagnostics
  std::map<std::string, std::uint64_t> published, awaited;
  std::set<std::string> progress;            ///< $/progress tokens begun and not ended
  std::deque<std::string> stderr_tail;
  bool utf8 = false;
  clock::time_point last_used = clock::now();
  std::mutex write_mu;
  std::uint64_t in_run = 0;  ///< the generation `in` belongs to (under write_mu)

  /// Sends one message. `in` is non-blocking: a server that stops reading for
  /// write_deadline is killed (its reader then sees the end), never a worker blocked forever.
  /// `run` (non-zero): only to that run of the server (a request for one whose documents
  /// were opened there).
  status write(const json& msg, std::uint64_t run = 0) {
    auto body = msg.dump(-1, ' ', false, json::error_handler_t::replace);
    auto frame = fmt::format("Content-Length: {}\r\n\r\n{}", body.size(), body);
    std::lock_guard<std::mutex> l(write_mu);
    if (!in) return fail(errc::unavailable, "the language server is not running");
    if (run && run != in_run) return fail(errc::unavailable, "the language server was started again meanwhile; ask again");
    auto until = clock::now() + write_deadline;
    std::string_view rest = frame;
    while (!rest.empty()) {
      auto n = ::write(in.get(), rest.data(), rest.size());
      if (n > 0) {
        rest.remove_prefix(static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno != EAGAIN) return fail(errc::io, "write: {}", std::strerror(errno));
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - clock::now()).count();
      pollfd p{in.get(), POLLOUT, 0};
      if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) == 0) {
        kill_group();
        return fail(errc::timeout, "the language server took no input for {} s; it was stopped",
                    std::chrono::duration_cast<std::chrono::seconds>(write_deadline).count());
      }
    }
    return {};
  }

  /// Kills the server's process group unless the reader is already collecting it (its pid
  /// could then be another process's).
  void kill_group() {
    std::lock_guard<std::mutex> l(mu);
    if (alive && !reaping && pid > 0) ::kill(-pid, SIGKILL);
  }

  std::string describe_exit() {
    std::string tail;
    for (auto& l : stderr_tail) tail += "\n  " + l;
    return exit_reason + (tail.empty() ? "" : "; its last output:" + tail);
  }

  /// Ends the process (politely when `graceful`) and joins the reader.
  void stop(bool graceful) {
    pid_t p;
    {
      std::lock_guard<std::mutex> l(mu);
      p = alive ? pid : -1;
    }
    if (p > 0 && graceful) {
      // shutdown, then exit; the reader sees the end of output.
      std::int64_t id;
      {
        std::lock_guard<std::mutex> l(mu);
        id = next_id++;
        pending[id];
      }
      (void)write(json{{"jsonrpc", "2.0"}, {"id", id}, {"method", "shutdown"}, {"params", nullptr}});
      std::unique_lock<std::mutex> l(mu);
      cv.wait_for(l, shutdown_wait, [&] { return !alive || pending[id].has_value(); });
      pending.erase(id);
      l.unlock();
      (void)write(json{{"jsonrpc", "2.0"}, {"method", "exit"}, {"params", nullptr}});
      l.lock();
      cv.wait_for(l, shutdown_wait, [&] { return !alive; });
    }
    kill_group();
    if (reader.joinable()) reader.join();
    std::lock_guard<std::mutex> wl(write_mu);
    in.reset();
  }

  void read_loop(unique_fd out, unique_fd err, pid_t child) {
    std::string buf, ebuf;
    char chunk[65536];
    std::string why;
    pollfd fds[2] = {{out.get(), POLLIN, 0}, {err.get(), POLLIN, 0}};
    while (why.empty()) {
      int n = ::poll(fds, fds[1].fd >= 0 ? 2 : 1, -1);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        why = fmt::format("poll: {}", std::strerror(errno));
        break;
      }
      if (fds[1].fd >= 0 && fds[1].revents) {
        auto r = ::read(fds[1].fd, chunk, sizeof chunk);
        if (r <= 0) {
          fds[1].fd = -1;
        } else {
          ebuf.append(chunk, static_cast<std::size_t>(r));
          std::size_t nl;
          while ((nl = ebuf.find('\n')) != std::string::npos) {
            std::lock_guard<std::mutex> l(mu);
            stderr_tail.push_back(ebuf.substr(0, std::min<std::size_t>(nl, 300)));
            if (stderr_tail.size() > stderr_lines) stderr_tail.pop_front();
            ebuf.erase(0, nl + 1);
          }
          if (ebuf.size() > 4096) ebuf.clear();
        }
      }
      if (fds[0].revents) {
        auto r = ::read(fds[0].fd, chunk, sizeof chunk);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
          why = "it closed its output";
          break;
        }
        buf.append(chunk, static_cast<std::size_t>(r));
        auto msgs = lsp_take_messages(buf, max_message);
        if (!msgs) {
          why = "it sent a malformed message: " + msgs.err().message;
          break;
        }
        for (auto& m : *msgs) handle(m);
      }
    }
    {
      std::lock_guard<std::mutex> l(mu);
      ::kill(-child, SIGKILL);
      reaping = true;  // from here the pid may be reused: nobody kills it any more
    }
    int st = children::of_this_process().wait(child);
    std::string how = WIFEXITED(st) ? fmt::format("exited with status {}", WEXITSTATUS(st))
                      : WIFSIGNALED(st) ? fmt::format("was killed by signal {} ({})", WTERMSIG(st), ::strsignal(WTERMSIG(st)))
                                        : "ended";
    std::lock_guard<std::mutex> l(mu);
    alive = false;
    exit_reason = fmt::format("{} {} ({})", command[0].substr(command[0].rfind('/') + 1), how, why);
    for (auto& [id, r] : pending)
      if (!r) r = json{{"error", {{"code", -32099}, {"message", "the language server " + how}}}};
    cv.notify_all();
  }

  /// One message of the server's, on the reader thread: whatever it contains, never an
  /// exception out of here (it would end the process).
  void handle(const std::string& text) {
    try {
      handle_message(text);
    } catch (const std::exception& e) {
      log::get("tool-code").warning("language server {}: a message weft could not read: {}", key, e.what());
    }
  }

  void handle_message(const std::string& text) {
    json m = json::parse(text, nullptr, false);
    if (!m.is_object()) return;
    auto method = m.find("method");
    auto id = m.find("id");
    if (method == m.end()) {  // a response
      if (id == m.end() || !id->is_number_integer()) return;
      std::lock_guard<std::mutex> l(mu);
      auto it = pending.find(id->get<std::int64_t>());
      if (it != pending.end()) {
        it->second = std::move(m);
        cv.notify_all();
      }
      return;
    }
    if (!method->is_string()) return;
    auto name = method->get<std::string>();
    const json& params = m.contains("params") ? m["params"] : json();
    if (id != m.end()) {  // a request of the server's: answer what a client must
      json reply{{"jsonrpc", "2.0"}, {"id", *id}};
      if (name == "workspace/configuration") {
        json items = json::array();
        if (params.is_object() && params.contains("items") && params["items"].is_array())
          for (std::size_t i = 0; i < params["items"].size(); ++i) items.push_back(nullptr);
        reply["result"] = items;
      } else if (name == "window/workDoneProgress/create" || name == "client/registerCapability" ||
                 name == "client/unregisterCapability" || name == "window/showMessageRequest") {
        reply["result"] = nullptr;
      } else if (name == "workspace/workspaceFolders") {
        reply["result"] = nullptr;
      } else {
        reply["error"] = {{"code", -32601}, {"message", "weft does not handle " + name}};
      }
      (void)write(reply);
      return;
    }
    std::lock_guard<std::mutex> l(mu);
    if (name == "textDocument/publishDiagnostics" && params.is_object() && params.contains("uri") &&
        params["uri"].is_string()) {
      auto uri = params["uri"].get<std::string>();
      diags[uri] = params.contains("diagnostics") ? params["diagnostics"] : json::array();
      ++published[uri];
      cv.notify_all();
    } else if (name == "$/progress" && params.is_object() && params.contains("value") && params["value"].is_object()) {
      auto token = params.contains("token") ? params["token"].dump() : "";
      auto& v = params["value"];
      std::string kind = v.contains("kind") && v["kind"].is_string() ? v["kind"].get<std::string>() : "";
      if (kind == "begin") progress.insert(token);
      else if (kind == "end") progress.erase(token);
      cv.notify_all();
    }
  }
};

struct lsp_pool::idle_thread {
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  std::thread t;
};

lsp_pool::lsp_pool(const workspace& ws, lsp_settings s) : _ws(ws), _s(std::move(s)), _idle(new idle_thread) {
  _idle->t = std::thread([this] {
    std::unique_lock<std::mutex> l(_idle->mu);
    while (!_idle->stop) {
      _idle->cv.wait_for(l, std::chrono::seconds(1));
      if (_idle->stop) break;
      l.unlock();
      reap_idle();
      l.lock();
    }
  });
}

lsp_pool::~lsp_pool() {
  {
    std::lock_guard<std::mutex> l(_idle->mu);
    _idle->stop = true;
  }
  _idle->cv.notify_all();
  _idle->t.join();
  std::map<std::string, std::shared_ptr<lsp_server>> servers;
  {
    std::lock_guard<std::mutex> l(_mu);
    servers.swap(_servers);
  }
  for (auto& [k, s] : servers) {
    std::lock_guard<std::mutex> sl(s->start_mu);
    s->stop(true);
  }
}

bool lsp_pool::serves(std::string_view language) const { return _s.servers.count(std::string(language)) > 0; }

std::string lsp_pool::configured_summary() const {
  std::string out;
  for (auto& [lang, cmd] : _s.servers)
    out += fmt::format("{}{}: {}", out.empty() ? "" : ", ", lang, cmd.empty() ? "?" : cmd[0]);
  return out.empty() ? "none" : out;
}

int lsp_pool::pid_of(std::string_view language) const {
  auto it = _s.servers.find(std::string(language));
  if (it == _s.servers.end()) return -1;
  std::lock_guard<std::mutex> l(_mu);
  auto s = _servers.find(fmt::format("{}", fmt::join(it->second, " ")));
  if (s == _servers.end()) return -1;
  std::lock_guard<std::mutex> sl(s->second->mu);
  return s->second->alive ? s->second->pid : -1;
}

std::string lsp_pool::relative_of_uri(const std::string& uri) const {
  std::string p = uri.starts_with("file://") ? percent_decode(uri.substr(7)) : uri;
  auto root = _ws.root() + "/";
  return p.starts_with(root) ? p.substr(root.size()) : p;
}

void lsp_pool::reap_idle() {
  std::vector<std::shared_ptr<lsp_server>> idle;
  {
    std::lock_guard<std::mutex> l(_mu);
    auto now = clock::now();
    for (auto& [k, s] : _servers) {
      std::lock_guard<std::mutex> sl(s->mu);
      if (s->alive && s->pending.empty() && now - s->last_used > _s.idle) idle.push_back(s);
    }
  }
  for (auto& s : idle) {
    std::unique_lock<std::mutex> sl(s->start_mu, std::try_to_lock);
    if (!sl) continue;  // in use
    {
      std::lock_guard<std::mutex> l(s->mu);
      if (!s->pending.empty() || clock::now() - s->last_used <= _s.idle) continue;
    }
    log::get("tool-code").info("language server {}: unused for {} ms, shutting it down", s->key, _s.idle.count());
    s->stop(true);
    std::lock_guard<std::mutex> l(s->mu);
    s->exit_reason.clear();  // an idle stop is not a crash
    s->sent.clear();
    s->versions.clear();
  }
}

namespace {

/// Starts `s` and initializes it with the workspace. Caller holds s.start_mu.
status start_server(lsp_server& s, const workspace& ws, const lsp_settings& set) {
  if (s.reader.joinable()) s.reader.join();
  unique_fd ends[8];  // in r/w, out r/w, err r/w, exec failure r/w: each owned as it is made
  for (int i = 0; i < 8; i += 2) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0)
      return fail(errc::io, "Failed to start '{}': pipe: {}", s.command[0], std::strerror(errno));
    ends[i] = unique_fd(p[0]);
    ends[i + 1] = unique_fd(p[1]);
  }
  auto &in_r = ends[0], &in_w = ends[1], &out_r = ends[2], &out_w = ends[3], &err_r = ends[4], &err_w = ends[5],
       &fail_r = ends[6], &fail_w = ends[7];
  auto home = ws.root() + "/.weft/lsp-home";
  std::error_code ec;
  std::filesystem::create_directories(home, ec);
  std::vector<std::string> env = {"PATH=" + set.path_env, "HOME=" + home, "XDG_CACHE_HOME=" + home + "/.cache",
                                  "LANG=C.UTF-8"};
  std::vector<char*> argv, envp;
  for (auto& a : s.command) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  auto root = ws.root();
  pid_t pid = children::of_this_process().start([&]() -> pid_t {
    pid_t p = ::fork();
    if (p != 0) return p;
    // The child: its own process group, the pipes as 0/1/2, the command filter, exec.
    ::setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig : {SIGTERM, SIGINT, SIGPIPE, SIGHUP, SIGQUIT, SIGCHLD}) ::signal(sig, SIG_DFL);
    ::dup2(in_r.get(), 0);
    ::dup2(out_w.get(), 1);
    ::dup2(err_w.get(), 2);
    int e = 0;
    if (::chdir(root.c_str()) != 0) e = errno;
    if (!e && set.before_exec && !set.before_exec(set.before_exec_arg)) e = EPERM;
    if (!e) {
      ::execve(argv[0], argv.data(), envp.data());
      e = errno;
    }
    (void)!::write(fail_w.get(), &e, sizeof e);
    ::_exit(127);
  });
  fail_w.reset();
  if (pid < 0) return fail(errc::io, "Failed to start '{}': fork: {}", s.command[0], std::strerror(errno));
  int e = 0;
  if (::read(fail_r.get(), &e, sizeof e) == static_cast<ssize_t>(sizeof e)) {
    children::of_this_process().wait(pid);
    return fail(errc::unavailable, "Failed to start the language server '{}': {}", s.command[0], std::strerror(e));
  }
  {
    std::lock_guard<std::mutex> l(s.mu);
    s.pid = pid;
    s.alive = true;
    s.reaping = false;
    ++s.generation;
    s.sent.clear();
    s.versions.clear();
    s.diags.clear();
    s.published.clear();
    s.awaited.clear();
    s.progress.clear();
    s.stderr_tail.clear();
    ++s.starts;
  }
  ::fcntl(in_w.get(), F_SETFL, ::fcntl(in_w.get(), F_GETFL) | O_NONBLOCK);
  {
    std::lock_guard<std::mutex> wl(s.write_mu);
    s.in = std::move(in_w);
    std::lock_guard<std::mutex> l(s.mu);
    s.in_run = s.generation;
  }
  s.reader = std::thread([&s, out = std::move(out_r), err = std::move(err_r), pid]() mutable {
    s.read_loop(std::move(out), std::move(err), pid);
  });
  return {};
}

json initialize_params(const workspace& ws) {
  auto uri = "file://" + percent_encode_path(ws.root());
  return {{"processId", ::getpid()},
          {"clientInfo", {{"name", "weft-tool-code"}}},
          {"rootUri", uri},
          {"rootPath", ws.root()},
          {"workspaceFolders", json::array({{{"uri", uri}, {"name", "workspace"}}})},
          {"capabilities",
           {{"general", {{"positionEncodings", json::array({"utf-8", "utf-16"})}}},
            {"offsetEncoding", json::array({"utf-8", "utf-16"})},  // clangd before LSP 3.17
            {"window", {{"workDoneProgress", true}}},
            {"workspace", {{"configuration", true}, {"workspaceFolders", true}}},
            {"textDocument",
             {{"synchronization", {{"didSave", false}, {"dynamicRegistration", false}}},
              {"definition", {{"linkSupport", false}}},
              {"references", json::object()},
              {"hover", {{"contentFormat", json::array({"plaintext", "markdown"})}}},
              {"rename", {{"prepareSupport", false}}},
              {"publishDiagnostics", {{"relatedInformation", false}, {"versionSupport", true}}}}}}}};
}

result<std::string> read_workspace_file(const workspace& ws, const std::string& path) {
  auto fd = ws.open_beneath(path, O_RDONLY | O_NOCTTY | O_NONBLOCK, "read");
  if (!fd) return fd.take_error();
  struct stat st;
  if (::fstat(fd->get(), &st) != 0 || !S_ISREG(st.st_mode))
    return fail(errc::invalid_argument, "Failed to read '{}': not a regular file", path);
  if (static_cast<std::size_t>(st.st_size) > max_file)
    return fail(errc::invalid_argument, "Failed to read '{}': {} bytes is over the limit of {}", path, st.st_size, max_file);
  return read_to_end(fd->get(), max_file);
}

}  // namespace

result<lsp_pool::session> lsp_pool::open(const std::string& path) {
  auto rel = _ws.relative(path, "open");
  if (!rel) return rel.take_error();
  const language* lang = language_for(path);
  auto it = lang ? _s.servers.find(std::string(lang->name)) : _s.servers.end();
  if (it == _s.servers.end() || it->second.empty())
    return fail(errc::unavailable,
                "Failed to ask a language server about '{}': none is configured for {} files (configured: {}; see [tools.code.lsp] in docs/config.md)",
                path, lang ? lang->name : std::string_view("this kind of"), configured_summary());
  auto text = read_workspace_file(_ws, path);
  if (!text) return text.take_error();
  std::string key = fmt::format("{}", fmt::join(it->second, " "));
  std::shared_ptr<lsp_server> s;
  {
    std::lock_guard<std::mutex> l(_mu);
    auto& slot = _servers[key];
    if (!slot) slot = std::make_shared<lsp_server>(key, it->second);
    s = slot;
  }
  session out;
  out.server = s;
  out.uri = "file://" + percent_encode_path(_ws.root() + "/" + *rel);
  out.text = std::move(*text);
  std::lock_guard<std::mutex> start(s->start_mu);
  bool running;
  {
    std::lock_guard<std::mutex> l(s->mu);
    running = s->alive;
    s->last_used = clock::now();
    out.restarted = !running && s->starts > 0 && !s->exit_reason.empty();
  }
  if (!running) {
    std::string before;
    {
      std::lock_guard<std::mutex> l(s->mu);
      before = s->exit_reason;
    }
    if (auto st = start_server(*s, _ws, _s); !st) return st.take_error();
    auto init = request(*s, "initialize", initialize_params(_ws));
    if (!init) {
      s->stop(false);
      std::lock_guard<std::mutex> l(s->mu);
      return fail(errc::unavailable, "Failed to start the language server '{}': {} ({})", s->command[0],
                  init.err().message, s->describe_exit());
    }
    // LSP 3.17 answers capabilities.positionEncoding; clangd before it, offsetEncoding beside them.
    std::string enc = "utf-16";
    if (init->is_object()) {
      auto& caps = (*init)["capabilities"];
      if (caps.is_object() && caps.contains("positionEncoding") && caps["positionEncoding"].is_string())
        enc = caps["positionEncoding"].get<std::string>();
      else if (init->contains("offsetEncoding") && (*init)["offsetEncoding"].is_string())
        enc = (*init)["offsetEncoding"].get<std::string>();
    }
    {
      std::lock_guard<std::mutex> l(s->mu);
      s->utf8 = enc == "utf-8";
      if (out.restarted) s->exit_reason = before;
    }
    (void)s->write(json{{"jsonrpc", "2.0"}, {"method", "initialized"}, {"params", json::object()}});
    log::get("tool-code").info("language server {} started (pid {}, {} positions)", key, s->pid, enc);
  }
  // The document as it is on disk now.
  std::vector<json> notes;
  std::optional<json> note;
  {
    std::lock_guard<std::mutex> l(s->mu);
    out.generation = s->generation;
    auto hash = std::hash<std::string>{}(out.text);
    auto sent = s->sent.find(out.uri);
    if (sent == s->sent.end()) {
      // Room for it: the least recently used documents are closed.
      while (s->sent.size() >= max_open) {
        auto oldest = std::min_element(s->sent.begin(), s->sent.end(),
                                       [](auto& a, auto& b) { return a.second.used < b.second.used; });
        notes.push_back(json{{"jsonrpc", "2.0"}, {"method", "textDocument/didClose"},
                             {"params", {{"textDocument", {{"uri", oldest->first}}}}}});
        s->versions.erase(oldest->first);
        s->sent.erase(oldest);
      }
      s->versions[out.uri] = 1;
      note = json{{"jsonrpc", "2.0"},
                  {"method", "textDocument/didOpen"},
                  {"params", {{"textDocument", {{"uri", out.uri}, {"languageId", language_id(lang->name)}, {"version", 1}, {"text", out.text}}}}}};
    } else if (sent->second.hash != hash || sent->second.size != out.text.size()) {
      int v = ++s->versions[out.uri];
      note = json{{"jsonrpc", "2.0"},
                  {"method", "textDocument/didChange"},
                  {"params", {{"textDocument", {{"uri", out.uri}, {"version", v}}}, {"contentChanges", json::array({{{"text", out.text}}})}}}};
    }
    auto& doc = s->sent[out.uri];
    doc.used = ++s->use_counter;
    if (note) {
      doc.hash = hash;
      doc.size = out.text.size();
      s->awaited[out.uri] = s->published[out.uri] + 1;
      notes.push_back(std::move(*note));
    }
  }
  for (auto& n : notes)
    if (auto w = s->write(n, out.generation); !w)
      return fail(errc::unavailable, "Failed to send '{}' to the language server: {}", path, w.err().message);
  return out;
}

result<json> lsp_pool::request(lsp_server& s, std::string method, json params, std::uint64_t run,
                               std::chrono::milliseconds timeout) {
  if (timeout.count() == 0) timeout = _s.request_timeout;
  std::int64_t id;
  {
    std::lock_guard<std::mutex> l(s.mu);
    if (!s.alive) return fail(errc::unavailable, "the language server is not running ({})", s.describe_exit());
    id = s.next_id++;
    s.pending[id];
    s.last_used = clock::now();
  }
  if (auto w = s.write(json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}}, run); !w) {
    std::lock_guard<std::mutex> l(s.mu);
    s.pending.erase(id);
    return fail(errc::unavailable, "Failed to send {} to the language server: {}", method, w.err().message);
  }
  std::unique_lock<std::mutex> l(s.mu);
  bool got = s.cv.wait_for(l, timeout, [&] {
    auto it = s.pending.find(id);
    return it == s.pending.end() || it->second.has_value();
  });
  if (!got) {
    s.pending.erase(id);
    l.unlock();
    (void)s.write(json{{"jsonrpc", "2.0"}, {"method", "$/cancelRequest"}, {"params", {{"id", id}}}});
    return fail(errc::timeout, "The language server did not answer {} within {} s", method,
                std::chrono::duration_cast<std::chrono::seconds>(timeout).count());
  }
  auto it = s.pending.find(id);
  if (it == s.pending.end() || !it->second) {
    if (it != s.pending.end()) s.pending.erase(it);
    return fail(errc::unavailable, "the language server stopped before answering {}", method);
  }
  json m = std::move(*it->second);
  s.pending.erase(it);
  s.last_used = clock::now();
  if (m.contains("error")) {
    auto& e = m["error"];
    return fail(errc::unavailable, "The language server answered {} with an error: {}{}", method,
                e.is_object() ? e.value("message", std::string("?")) : e.dump(),
                s.alive ? "" : " (" + s.describe_exit() + ")");
  }
  return m.contains("result") ? m["result"] : json();
}

json lsp_pool::diagnostics(lsp_server& s, const std::string& uri) {
  std::unique_lock<std::mutex> l(s.mu);
  s.cv.wait_for(l, _s.diagnostics_wait, [&] { return !s.alive || s.published[uri] >= s.awaited[uri]; });
  auto it = s.diags.find(uri);
  return it == s.diags.end() ? json::array() : it->second;
}

bool lsp_pool::indexing(lsp_server& s) const {
  std::lock_guard<std::mutex> l(s.mu);
  return !s.progress.empty();
}

// --- the tools --------------------------------------------------------------------------

namespace {

result<tool::result> ran_and_failed(error e) {
  if (e.domain == tool::interface_name) return e;
  return tool::result{std::move(e.message), true, false};
}

struct position_args {
  std::string path;
  std::uint32_t line = 0, column = 0;
};

result<position_args> position_of(const json& args) {
  auto path = string_arg(args, "path");
  if (!path) return path.take_error();
  auto line = optional_uint_arg(args, "line");
  if (!line) return line.take_error();
  auto column = optional_uint_arg(args, "column");
  if (!column) return column.take_error();
  if (!*line || **line == 0 || !*column || **column == 0)
    return tool::make(tool::error_code::bad_arguments, "arguments 'line' and 'column' (1-based) are required");
  return position_args{*path, static_cast<std::uint32_t>(**line), static_cast<std::uint32_t>(**column)};
}

/// Converts the LSP Location(s) / LocationLink(s) of a result into workspace locations.
std::vector<lsp_location> locations_of(lsp_pool& pool, const json& r, bool utf8) {
  std::vector<lsp_location> out;
  std::map<std::string, std::string> texts;
  auto add = [&](const json& uri, const json& range) {
    if (!uri.is_string() || !range.is_object() || !range.contains("start") || !range.contains("end")) return;
    lsp_location l;
    l.path = pool.relative_of_uri(uri.get<std::string>());
    auto& text = texts[l.path];
    if (l.path.empty()) return;
    if (text.empty() && l.path.front() != '/')
      if (auto t = read_workspace_file(pool.ws(), l.path)) text = std::move(*t);
    auto conv = [&](const json& p, std::uint32_t& line, std::uint32_t& col) {
      line = p.value("line", 0u) + 1;
      auto ch = p.value("character", 0u);
      col = text.empty() ? ch + 1 : lsp_to_byte_column(line_of(text, line), ch, utf8);
    };
    conv(range["start"], l.line, l.column);
    conv(range["end"], l.end_line, l.end_column);
    out.push_back(std::move(l));
  };
  auto one = [&](const json& j) {
    if (!j.is_object()) return;
    if (j.contains("targetUri")) add(j["targetUri"], j.contains("targetSelectionRange") ? j["targetSelectionRange"] : j["targetRange"]);
    else if (j.contains("uri")) add(j["uri"], j["range"]);
  };
  if (r.is_array()) for (auto& j : r) one(j);
  else one(r);
  return out;
}

std::string restart_note(lsp_pool::session& s) {
  if (!s.restarted) return "";
  std::lock_guard<std::mutex> l(s.server->mu);
  return fmt::format("note: the language server had stopped ({}); it was started again\n", s.server->exit_reason);
}

json text_position(const lsp_pool::session& s, std::uint32_t line, std::uint32_t column) {
  bool utf8;
  {
    std::lock_guard<std::mutex> l(s.server->mu);
    utf8 = s.server->utf8;
  }
  return {{"textDocument", {{"uri", s.uri}}},
          {"position", {{"line", line - 1}, {"character", lsp_from_byte_column(line_of(s.text, line), column, utf8)}}}};
}

bool utf8_of(const lsp_pool::session& s) {
  std::lock_guard<std::mutex> l(s.server->mu);
  return s.server->utf8;
}

result<tool::result> locations_tool(lsp_pool& pool, const json& args, const char* method, const char* what) {
  auto pos = position_of(args);
  if (!pos) return pos.take_error();
  auto s = pool.open(pos->path);
  if (!s) return ran_and_failed(s.take_error());
  json params = text_position(*s, pos->line, pos->column);
  if (std::string_view(method) == "textDocument/references") params["context"] = {{"includeDeclaration", true}};
  auto r = pool.request(*s->server, method, std::move(params), s->generation);
  if (!r) return ran_and_failed(r.take_error());
  auto locs = locations_of(pool, *r, utf8_of(*s));
  std::sort(locs.begin(), locs.end(), [](auto& a, auto& b) { return std::tie(a.path, a.line, a.column) < std::tie(b.path, b.line, b.column); });
  std::string text = restart_note(*s) + fmt::format("{} {}{} for {}:{}:{}\n", locs.size(), what, locs.size() == 1 ? "" : "s",
                                                    pos->path, pos->line, pos->column);
  json arr = json::array();
  for (auto& l : locs) {
    text += fmt::format("{}:{}:{}\n", l.path, l.line, l.column);
    arr.push_back({{"path", l.path}, {"line", l.line}, {"column", l.column}, {"end_line", l.end_line}, {"end_column", l.end_column}});
  }
  if (pool.indexing(*s->server)) text += "note: the server is still indexing the workspace; answers may be incomplete\n";
  return answer(std::move(text), {{"locations", std::move(arr)}, {"restarted", s->restarted}});
}

result<tool::result> hover(lsp_pool& pool, const json& args) {
  auto pos = position_of(args);
  if (!pos) return pos.take_error();
  auto s = pool.open(pos->path);
  if (!s) return ran_and_failed(s.take_error());
  auto r = pool.request(*s->server, "textDocument/hover", text_position(*s, pos->line, pos->column), s->generation);
  if (!r) return ran_and_failed(r.take_error());
  std::string info;
  auto piece = [](const json& c) -> std::string {
    if (c.is_string()) return c.get<std::string>();
    if (c.is_object()) return c.value("value", std::string());
    return {};
  };
  if (r->is_object() && r->contains("contents")) {
    auto& c = (*r)["contents"];
    if (c.is_array())
      for (auto& p : c) info += piece(p) + "\n";
    else
      info = piece(c);
  }
  std::string text = restart_note(*s) + (info.empty() ? fmt::format("nothing known at {}:{}:{}\n", pos->path, pos->line, pos->column) : info + "\n");
  return answer(std::move(text), {{"hover", info}, {"restarted", s->restarted}});
}

result<tool::result> diagnostics_tool(lsp_pool& pool, const json& args) {
  auto path = string_arg(args, "path");
  if (!path) return path.take_error();
  auto s = pool.open(*path);
  if (!s) return ran_and_failed(s.take_error());
  json d = pool.diagnostics(*s->server, s->uri);
  bool utf8 = utf8_of(*s);
  static const char* severities[] = {"?", "error", "warning", "information", "hint"};
  std::string body;
  json arr = json::array();
  for (auto& x : d) {
    if (!x.is_object() || !x.contains("range")) continue;
    auto line = x["range"]["start"].value("line", 0u) + 1;
    auto col = lsp_to_byte_column(line_of(s->text, line), x["range"]["start"].value("character", 0u), utf8);
    auto sev = x.value("severity", 1);
    std::string level = severities[sev >= 1 && sev <= 4 ? sev : 0];
    std::string code = x.contains("code") ? (x["code"].is_string() ? x["code"].get<std::string>() : x["code"].dump()) : "";
    auto msg = x.value("message", std::string());
    body += fmt::format("{}:{}:{}: {}{}: {}\n", *path, line, col, level, code.empty() ? "" : "[" + code + "]", msg);
    arr.push_back({{"line", line}, {"column", col}, {"level", level}, {"code", code}, {"message", msg},
                   {"source", x.value("source", std::string())}});
  }
  std::string text = restart_note(*s) + fmt::format("{} diagnostic{} for {}\n", arr.size(), arr.size() == 1 ? "" : "s", *path) + body;
  return answer(std::move(text), {{"path", *path}, {"diagnostics", std::move(arr)}, {"restarted", s->restarted}});
}

result<tool::result> rename_preview(lsp_pool& pool, const json& args) {
  auto pos = position_of(args);
  if (!pos) return pos.take_error();
  auto name = string_arg(args, "new_name");
  if (!name) return name.take_error();
  auto s = pool.open(pos->path);
  if (!s) return ran_and_failed(s.take_error());
  json params = text_position(*s, pos->line, pos->column);
  params["newName"] = *name;
  auto r = pool.request(*s->server, "textDocument/rename", std::move(params), s->generation);
  if (!r) return ran_and_failed(r.take_error());
  bool utf8 = utf8_of(*s);
  // WorkspaceEdit: changes {uri: [TextEdit]} or documentChanges [{textDocument, edits}].
  std::vector<std::pair<std::string, json>> files;
  if (r->is_object() && r->contains("documentChanges") && (*r)["documentChanges"].is_array()) {
    for (auto& dc : (*r)["documentChanges"])
      if (dc.is_object() && dc.contains("textDocument") && dc.contains("edits"))
        files.emplace_back(dc["textDocument"].value("uri", std::string()), dc["edits"]);
  } else if (r->is_object() && r->contains("changes") && (*r)["changes"].is_object()) {
    for (auto& [uri, edits] : (*r)["changes"].items()) files.emplace_back(uri, edits);
  }
  std::string body;
  json arr = json::array();
  std::size_t count = 0;
  for (auto& [uri, edits] : files) {
    auto locs = locations_of(pool, [&] {
      json a = json::array();
      for (auto& e : edits)
        if (e.is_object() && e.contains("range")) a.push_back({{"uri", uri}, {"range", e["range"]}});
      return a;
    }(), utf8);
    for (auto& l : locs) {
      ++count;
      body += fmt::format("{}:{}:{}\n", l.path, l.line, l.column);
      arr.push_back({{"path", l.path}, {"line", l.line}, {"column", l.column}, {"end_line", l.end_line},
                     {"end_column", l.end_column}, {"new_text", *name}});
    }
  }
  std::string text = restart_note(*s) + fmt::format("renaming to '{}' would change {} place{} in {} file{} (nothing was written):\n",
                                                    *name, count, count == 1 ? "" : "s", files.size(), files.size() == 1 ? "" : "s") + body;
  return answer(std::move(text), {{"edits", std::move(arr)}, {"files", files.size()}, {"restarted", s->restarted}});
}

}  // namespace

std::vector<tool_def> lsp_tools(const workspace&, std::shared_ptr<lsp_pool> pool) {
  constexpr std::string_view pos_schema = R"J({"type":"object","required":["path","line","column"],"properties":{
"path":{"type":"string","description":"A source file in the workspace"},
"line":{"type":"integer","minimum":1},"column":{"type":"integer","minimum":1,"description":"1-based byte column of the symbol"}}})J";
  std::vector<tool_def> out;
  out.push_back({{"lsp_definition", "Where the symbol at a position is defined, answered by the language server (clangd, …).", std::string(pos_schema), ""},
                 [pool](const json& a, const call_context&) { return locations_tool(*pool, a, "textDocument/definition", "definition"); }});
  out.push_back({{"lsp_references", "Every reference to the symbol at a position across the project, answered by the language server.", std::string(pos_schema), ""},
                 [pool](const json& a, const call_context&) { return locations_tool(*pool, a, "textDocument/references", "reference"); }});
  out.push_back({{"lsp_hover", "The type and documentation of the symbol at a position, from the language server.", std::string(pos_schema), ""},
                 [pool](const json& a, const call_context&) { return hover(*pool, a); }});
  out.push_back({{"lsp_diagnostics", "The compiler's errors and warnings for a file, from the language server.",
                  R"J({"type":"object","required":["path"],"properties":{"path":{"type":"string","description":"A source file in the workspace"}}})J", ""},
                 [pool](const json& a, const call_context&) { return diagnostics_tool(*pool, a); }});
  out.push_back({{"lsp_rename_preview", "What renaming the symbol at a position would change across the project (a preview: nothing is written).",
                  R"J({"type":"object","required":["path","line","column","new_name"],"properties":{
"path":{"type":"string"},"line":{"type":"integer","minimum":1},"column":{"type":"integer","minimum":1},
"new_name":{"type":"string"}}})J", ""},
                 [pool](const json& a, const call_context&) { return rename_preview(*pool, a); }});
  return out;
}

}  // namespace weft::tools::code
