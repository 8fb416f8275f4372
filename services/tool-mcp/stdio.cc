// The stdio transport: an MCP server as a child process (protocols.md §1.2).
#include <fcntl.h>
#include <sys/epoll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>

#include <weft/base/fd.hh>
#include <weft/base/io.hh>
#include <weft/base/log.hh>
#include <weft/mcp/stdio.hh>

#include "transport.hh"

namespace weft::mcp_host {

namespace {

constexpr const char* default_path = "/usr/local/bin:/usr/bin:/bin";
constexpr std::size_t max_line = 4 * 1024 * 1024;  // libs/mcp's message limit
constexpr std::size_t stderr_keep = 5;             // last lines kept for last_error
constexpr std::size_t max_stderr_line = 4096;
constexpr std::size_t max_queued_output = 16 * 1024 * 1024;  // to a child that stopped reading
constexpr auto graceful_wait = std::chrono::milliseconds(1000);  // stdin closed → TERM
constexpr auto kill_grace = std::chrono::milliseconds(2000);     // TERM → KILL
constexpr auto eof_grace = std::chrono::milliseconds(1000);      // stdout closed → exit expected

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

/// Both ends of a new pipe (O_CLOEXEC), each owned.
result<std::pair<unique_fd, unique_fd>> make_pipe(const std::string& command) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return fail(errc::io, "Failed to start '{}': pipe: {}", command, std::strerror(errno));
  return std::pair{unique_fd(p[0]), unique_fd(p[1])};
}

class stdio_transport final : public transport {
 public:
  stdio_transport(event_loop& loop, std::string name, std::string command, transport_events ev)
      : _loop(loop), _name(std::move(name)), _command(std::move(command)), _ev(std::move(ev)), _reader(max_line),
        _log(log::get("tool-mcp")) {}
  ~stdio_transport() override {
    *_alive = false;
    for (auto* w : {&_w_in, &_w_out, &_w_err, &_w_pid}) unwatch(*w);
    for (auto t : {_t_term, _t_kill, _t_eof, _t_poll}) _loop.cancel(t);
    if (!_reaped && _pid > 0) {
      ::kill(-_pid, SIGKILL);
      ::waitpid(_pid, nullptr, 0);
    }
  }

  status spawn(const std::string& program, const std::vector<std::string>& args, const std::vector<std::string>& env,
               const std::string& cwd) {
    auto in = make_pipe(_command);
    if (!in) return in.take_error();
    auto out = make_pipe(_command);
    if (!out) return out.take_error();
    auto err = make_pipe(_command);
    if (!err) return err.take_error();
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in->first.get(), 0);
    posix_spawn_file_actions_adddup2(&fa, out->second.get(), 1);
    posix_spawn_file_actions_adddup2(&fa, err->second.get(), 2);
    posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    posix_spawnattr_t attr;
    init_child_spawnattr(attr);
    std::vector<std::string> argv_s;
    argv_s.push_back(_command);
    for (auto& a : args) argv_s.push_back(a);
    std::vector<char*> argv, envp;
    for (auto& a : argv_s) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    int rc = ::posix_spawn(&_pid, program.c_str(), &fa, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
      _pid = -1;
      _reaped = true;
      return fail(errc::io, "Failed to start '{}': {}", _command, std::strerror(rc));
    }
    // The child's ends are its own now; ours close with the pairs.
    _in = std::move(in->second);
    _out = std::move(out->first);
    _err = std::move(err->first);
    for (int fd : {_in.get(), _out.get(), _err.get()}) set_nonblocking(fd);
    _pidfd = unique_fd(static_cast<int>(::syscall(SYS_pidfd_open, _pid, 0)));
    _log.info("MCP server '{}': started '{}' as pid {}", _name, _command, _pid);
    if (auto w = _loop.watch(_out.get(), EPOLLIN, [this](std::uint32_t) { read_stdout(); })) _w_out = *w;
    if (auto w = _loop.watch(_err.get(), EPOLLIN, [this](std::uint32_t) { read_stderr(); })) _w_err = *w;
    if (_pidfd) {
      if (auto w = _loop.watch(_pidfd.get(), EPOLLIN, [this](std::uint32_t) { reap(); })) _w_pid = *w;
    } else {
      _t_poll = _loop.every(std::chrono::milliseconds(100), [this] { reap(); });  // no pidfd: look
    }
    return {};
  }

  void send(std::string line) override {
    if (_stopping || !_in) return;
    if (_queued.size() - _written + line.size() > max_queued_output) {
      report(fmt::format("stopped reading its input ({} bytes waiting)", _queued.size() - _written));
      return;
    }
    _queued += line;
    _queued += '\n';
    flush();
  }

  void shutdown(bool hard, std::function<void()> finished) override {
    _stopping = true;
    _on_finished = std::move(finished);
    close_in();
    if (_reaped) return finish();
    if (hard) {
      _loop.cancel(std::exchange(_t_term, 0));
      if (!_t_kill) {
        ::kill(-_pid, SIGTERM);
        arm_kill();
      }
    } else if (!_t_term && !_t_kill) {
      _t_term = _loop.after(graceful_wait, [this] {
        _t_term = 0;
        ::kill(-_pid, SIGTERM);
        arm_kill();
      });
    }
  }

  bool finished() const override { return _reaped; }
  pid_t pid() const override { return _reaped ? -1 : _pid; }

 private:
  void unwatch(event_loop::id& w) {
    if (w) _loop.unwatch(std::exchange(w, 0));
  }
  void close_in() {
    unwatch(_w_in);
    _in.reset();
  }

  void arm_kill() {
    _t_kill = _loop.after(kill_grace, [this] {
      _t_kill = 0;
      ::kill(-_pid, SIGKILL);
      arm_kill();  // members may have been forking: keep trying until it is reaped
    });
  }

  /// The closed event, after the current callback (never inside send()).
  void report(std::string reason) {
    if (_reported || _stopping) return;
    _reported = true;
    _loop.defer([this, alive = _alive, reason = std::move(reason)]() mutable {
      if (*alive && !_stopping && _ev.closed) _ev.closed(std::move(reason));
    });
  }

  void finish() {
    if (!_on_finished) return;
    _loop.defer([alive = _alive, fn = std::exchange(_on_finished, {})] {
      if (*alive) fn();
    });
  }

  void read_stdout() {
    for (int i = 0; _out && i < 16; ++i) {
      auto r = _reader.read_from(_out.get());
      if (!r || !*r) {  // an error or the end of file
        unwatch(_w_out);
        _out.reset();
        stdout_ended();
        break;
      }
      bool got = false;
      while (auto line = _reader.next()) {
        got = true;
        if (_stopping || _reported) continue;
        if (!*line) {
          _log.warning("MCP server '{}': {}", _name, line->err().message);
          continue;
        }
        if (_ev.line) _ev.line(std::move(**line));
      }
      if (!got && _reader.partial_bytes() == 0) break;  // EAGAIN
    }
  }

  /// A server that closed stdout is expected to exit; one that does not within eof_grace is
  /// reported and stopped.
  void stdout_ended() {
    if (_reaped || _t_eof) return;
    _t_eof = _loop.after(eof_grace, [this] {
      _t_eof = 0;
      if (_reaped || _stopping) return;
      report("closed its standard output");
      close_in();
      if (!_t_kill) {
        ::kill(-_pid, SIGTERM);
        arm_kill();
      }
    });
  }

  void read_stderr() {
    char buf[8192];
    for (int i = 0; _err && i < 16; ++i) {
      auto n = ::read(_err.get(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) break;
      if (n <= 0) {
        if (!_err_partial.empty()) err_line(std::exchange(_err_partial, {}));
        unwatch(_w_err);
        _err.reset();
        break;
      }
      for (auto c : std::string_view(buf, static_cast<std::size_t>(n))) {
        if (c == '\n') {
          err_line(std::exchange(_err_partial, {}));
        } else if (_err_partial.size() < max_stderr_line) {
          _err_partial += c;
        }
      }
    }
  }

  void err_line(std::string l) {
    while (!l.empty() && (l.back() == '\r' || l.back() == ' ')) l.pop_back();
    if (l.empty()) return;
    _log.debug("MCP server '{}' stderr: {}", _name, l);
    _stderr.push_back(std::move(l));
    if (_stderr.size() > stderr_keep) _stderr.pop_front();
  }

  void flush() {
    while (_in && _written < _queued.size()) {
      auto n = ::write(_in.get(), _queued.data() + _written, _queued.size() - _written);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) break;
      if (n < 0) {  // EPIPE: the child closed stdin or died; its exit tells why
        close_in();
        _queued.clear();
        _written = 0;
        return;
      }
      _written += static_cast<std::size_t>(n);
    }
    if (_written == _queued.size()) {
      _queued.clear();
      _written = 0;
    } else if (_written > 65536) {
      _queued.erase(0, _written);
      _written = 0;
    }
    // Watch for room only while output waits (a pipe is nearly always writable).
    bool waiting = _in && !_queued.empty();
    if (waiting && !_w_in) {
      if (auto w = _loop.watch(_in.get(), EPOLLOUT, [this](std::uint32_t) { flush(); })) _w_in = *w;
    } else if (!waiting) {
      unwatch(_w_in);
    }
  }

  void reap() {
    if (_reaped || _pid <= 0) return;
    int st = 0;
    pid_t r = ::waitpid(_pid, &st, WNOHANG);
    if (r != _pid) return;
    _reaped = true;
    _status = st;
    ::kill(-_pid, SIGKILL);  // whatever it left running in its group
    read_stderr();           // its last words
    read_stdout();
    unwatch(_w_pid);
    _pidfd.reset();
    _loop.cancel(std::exchange(_t_poll, 0));
    _loop.cancel(std::exchange(_t_term, 0));
    _loop.cancel(std::exchange(_t_kill, 0));
    _loop.cancel(std::exchange(_t_eof, 0));
    close_in();
    _log.info("MCP server '{}': pid {} {}", _name, _pid, status_text());
    if (_stopping) finish();
    else report(exit_reason());
  }

  std::string status_text() const {
    if (WIFEXITED(_status)) return fmt::format("exited with status {}", WEXITSTATUS(_status));
    if (WIFSIGNALED(_status)) {
      const char* abbrev = sigabbrev_np(WTERMSIG(_status));
      return fmt::format("was killed by signal {} ({})", WTERMSIG(_status), abbrev ? abbrev : "?");
    }
    return "ended";
  }

  std::string exit_reason() const {
    auto s = status_text();
    if (!_stderr.empty()) s += ": " + _stderr.back();
    return s;
  }

  event_loop& _loop;
  std::string _name, _command;
  transport_events _ev;
  mcp::line_reader _reader;
  log::logger& _log;
  pid_t _pid = -1;
  unique_fd _in, _out, _err, _pidfd;
  event_loop::id _w_in = 0, _w_out = 0, _w_err = 0, _w_pid = 0;
  event_loop::id _t_term = 0, _t_kill = 0, _t_eof = 0, _t_poll = 0;
  std::string _queued;
  std::size_t _written = 0;
  std::string _err_partial;
  std::deque<std::string> _stderr;
  bool _stopping = false, _reported = false, _reaped = false;
  int _status = 0;
  std::function<void()> _on_finished;
  std::shared_ptr<bool> _alive = std::make_shared<bool>(true);
};

}  // namespace

std::string find_program(const std::string& command, const std::string& path) {
  if (command.find('/') != std::string::npos) return command;
  std::size_t start = 0;
  while (start <= path.size()) {
    auto end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    if (dir.empty()) dir = ".";
    auto candidate = dir + "/" + command;
    struct stat st{};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
    start = end + 1;
  }
  return {};
}

std::vector<std::string> child_environment(const service::mcp_server_entry& e, const std::string& cwd) {
  std::vector<std::string> out;
  for (auto& [k, v] : e.env) out.push_back(k + "=" + v);
  if (!e.env.count("PATH")) out.push_back(std::string("PATH=") + default_path);
  if (!e.env.count("HOME")) out.push_back("HOME=" + cwd);
  return out;
}

result<std::unique_ptr<transport>> start_stdio(event_loop& loop, const service::mcp_server_entry& e,
                                               const std::string& cwd, transport_events ev) {
  auto path_it = e.env.find("PATH");
  std::string path = path_it != e.env.end() ? path_it->second : default_path;
  auto program = find_program(e.command, path);
  if (program.empty()) return fail(errc::not_found, "Failed to start '{}': No such file or directory", e.command);
  // posix_spawn reports a bad working directory as ENOENT, like a missing program: say which.
  if (struct stat st{}; ::stat(cwd.c_str(), &st) != 0)
    return fail(errc::not_found, "Failed to start '{}': working directory '{}': {}", e.command, cwd, std::strerror(errno));
  else if (!S_ISDIR(st.st_mode))
    return fail(errc::invalid_argument, "Failed to start '{}': working directory '{}': not a directory", e.command, cwd);
  auto t = std::make_unique<stdio_transport>(loop, e.name, e.command, std::move(ev));
  if (auto s = t->spawn(program, e.args, child_environment(e, cwd), cwd); !s) return s.take_error();
  return std::unique_ptr<transport>(std::move(t));
}

}  // namespace weft::mcp_host
