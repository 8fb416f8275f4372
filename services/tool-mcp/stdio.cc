// The stdio transport: an MCP server as a child process (protocols.md §1.2).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>

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

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

class stdio_transport final : public transport {
 public:
  stdio_transport(std::string name, std::string command, transport_events ev)
      : _name(std::move(name)), _command(std::move(command)), _ev(std::move(ev)), _reader(max_line),
        _log(log::get("tool-mcp")) {}
  ~stdio_transport() override {
    if (!_reaped && _pid > 0) {
      ::kill(-_pid, SIGKILL);
      ::waitpid(_pid, nullptr, 0);
    }
    for (int* fd : {&_in, &_out, &_err, &_pidfd}) close_fd(*fd);
  }

  status spawn(const std::string& program, const std::vector<std::string>& args, const std::vector<std::string>& env,
               const std::string& cwd) {
    int in[2], out[2], err[2];
    if (::pipe2(in, O_CLOEXEC) != 0) return fail(errc::io, "Failed to start '{}': pipe: {}", _command, std::strerror(errno));
    if (::pipe2(out, O_CLOEXEC) != 0) {
      ::close(in[0]), ::close(in[1]);
      return fail(errc::io, "Failed to start '{}': pipe: {}", _command, std::strerror(errno));
    }
    if (::pipe2(err, O_CLOEXEC) != 0) {
      ::close(in[0]), ::close(in[1]), ::close(out[0]), ::close(out[1]);
      return fail(errc::io, "Failed to start '{}': pipe: {}", _command, std::strerror(errno));
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
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
    ::close(in[0]), ::close(out[1]), ::close(err[1]);
    if (rc != 0) {
      ::close(in[1]), ::close(out[0]), ::close(err[0]);
      _pid = -1;
      _reaped = true;
      return fail(errc::io, "Failed to start '{}': {}", _command, std::strerror(rc));
    }
    _in = in[1], _out = out[0], _err = err[0];
    for (int fd : {_in, _out, _err}) set_nonblocking(fd);
    _pidfd = static_cast<int>(::syscall(SYS_pidfd_open, _pid, 0));
    _log.info("MCP server '{}': started '{}' as pid {}", _name, _command, _pid);
    return {};
  }

  void send(std::string line) override {
    if (_stopping || _in < 0) return;
    if (_queued.size() - _written + line.size() > max_queued_output) {
      report(fmt::format("stopped reading its input ({} bytes waiting)", _queued.size() - _written));
      return;
    }
    _queued += line;
    _queued += '\n';
    flush();
  }

  void fds(std::vector<pollfd>& out) override {
    if (_out >= 0) out.push_back({_out, POLLIN, 0});
    if (_err >= 0) out.push_back({_err, POLLIN, 0});
    if (_in >= 0 && _written < _queued.size()) out.push_back({_in, POLLOUT, 0});
    if (_pidfd >= 0 && !_reaped) out.push_back({_pidfd, POLLIN, 0});
  }

  std::optional<clock::time_point> wake_at() const override {
    std::optional<clock::time_point> t;
    auto at = [&](clock::time_point x) { t = t ? std::min(*t, x) : x; };
    if (_term_at) at(*_term_at);
    if (_kill_at) at(*_kill_at);
    if (_out_eof_at && !_reaped) at(*_out_eof_at + eof_grace);
    if (!_reaped && _pidfd < 0) at(clock::now() + std::chrono::milliseconds(100));  // no pidfd: poll
    return t;
  }

  void on_io(clock::time_point now) override {
    read_stdout(now);
    read_stderr();
    flush();
    reap();
    if (_reaped) {
      if (!_stopping) report(exit_reason());
      return;
    }
    if (_out_eof_at && !_stopping && now >= *_out_eof_at + eof_grace) {
      report("closed its standard output");
      shutdown(now, true);
    }
    if (_term_at && now >= *_term_at) {
      _term_at.reset();
      ::kill(-_pid, SIGTERM);
      _kill_at = now + kill_grace;
    }
    if (_kill_at && now >= *_kill_at) {
      ::kill(-_pid, SIGKILL);
      _kill_at = now + kill_grace;  // members may have been forking: keep trying
    }
  }

  void shutdown(clock::time_point now, bool hard) override {
    _stopping = true;
    close_fd(_in);
    if (_reaped) return;
    if (hard) {
      if (!_kill_at) {
        ::kill(-_pid, SIGTERM);
        _kill_at = now + kill_grace;
      }
      _term_at.reset();
    } else if (!_term_at && !_kill_at) {
      _term_at = now + graceful_wait;
    }
  }

  bool finished() const override { return _reaped; }
  pid_t pid() const override { return _reaped ? -1 : _pid; }

 private:
  void report(std::string reason) {
    if (_reported) return;
    _reported = true;
    if (_ev.closed) _ev.closed(std::move(reason));
  }

  void read_stdout(clock::time_point now) {
    for (int i = 0; _out >= 0 && i < 16; ++i) {
      auto r = _reader.read_from(_out);
      if (!r) {
        close_fd(_out);
        if (!_out_eof_at) _out_eof_at = now;
        break;
      }
      if (!*r) {  // end of file
        close_fd(_out);
        if (!_out_eof_at) _out_eof_at = now;
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

  void read_stderr() {
    char buf[8192];
    for (int i = 0; _err >= 0 && i < 16; ++i) {
      auto n = ::read(_err, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) break;
      if (n <= 0) {
        if (!_err_partial.empty()) err_line(std::exchange(_err_partial, {}));
        close_fd(_err);
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
    while (_in >= 0 && _written < _queued.size()) {
      auto n = ::write(_in, _queued.data() + _written, _queued.size() - _written);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return;
      if (n < 0) {  // EPIPE: the child closed stdin or died; its exit tells why
        close_fd(_in);
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
    read_stdout(clock::now());
    close_fd(_pidfd);
    close_fd(_in);
    _log.info("MCP server '{}': pid {} {}", _name, _pid, status_text());
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

  std::string _name, _command;
  transport_events _ev;
  mcp::line_reader _reader;
  log::logger& _log;
  pid_t _pid = -1;
  int _in = -1, _out = -1, _err = -1, _pidfd = -1;
  std::string _queued;
  std::size_t _written = 0;
  std::string _err_partial;
  std::deque<std::string> _stderr;
  bool _stopping = false, _reported = false, _reaped = false;
  int _status = 0;
  std::optional<clock::time_point> _out_eof_at, _term_at, _kill_at;
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

result<std::unique_ptr<transport>> start_stdio(const service::mcp_server_entry& e, const std::string& cwd,
                                               transport_events ev) {
  auto path_it = e.env.find("PATH");
  std::string path = path_it != e.env.end() ? path_it->second : default_path;
  auto program = find_program(e.command, path);
  if (program.empty()) return fail(errc::not_found, "Failed to start '{}': No such file or directory", e.command);
  // posix_spawn reports a bad working directory as ENOENT, like a missing program: say which.
  if (struct stat st{}; ::stat(cwd.c_str(), &st) != 0)
    return fail(errc::not_found, "Failed to start '{}': working directory '{}': {}", e.command, cwd, std::strerror(errno));
  else if (!S_ISDIR(st.st_mode))
    return fail(errc::invalid_argument, "Failed to start '{}': working directory '{}': not a directory", e.command, cwd);
  auto t = std::make_unique<stdio_transport>(e.name, e.command, std::move(ev));
  if (auto s = t->spawn(program, e.args, child_environment(e, cwd), cwd); !s) return s.take_error();
  return std::unique_ptr<transport>(std::move(t));
}

}  // namespace weft::mcp_host
