#include "fake_peer.hh"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

namespace weft::test {

std::string http_reply::header(const std::string& name) const {
  auto at = head.find("\r\n" + name + ": ");
  if (at == std::string::npos) return {};
  at += name.size() + 4;
  return head.substr(at, head.find("\r\n", at) - at);
}

http_reply http(std::uint16_t port, const std::string& method, const std::string& path, const std::string& body,
                const std::string& content_type, const std::vector<std::string>& headers) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    ::close(fd);
    return {};
  }
  std::string extra;
  for (auto& h : headers) extra += h + "\r\n";
  auto req = fmt::format("{} {} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\nContent-Type: {}\r\n"
                         "Content-Length: {}\r\n{}\r\n{}",
                         method, path, port, content_type, body.size(), extra, body);
  for (std::string_view s = req; !s.empty();) {
    auto n = ::write(fd, s.data(), s.size());
    if (n <= 0) break;
    s.remove_prefix(static_cast<std::size_t>(n));
  }
  std::string resp;
  char buf[65536];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 30000) <= 0) break;
    auto n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    resp.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  http_reply r;
  if (resp.size() < 12) return r;
  r.status = std::atoi(resp.c_str() + 9);
  auto end = resp.find("\r\n\r\n");
  if (end != std::string::npos) {
    r.head = resp.substr(0, end + 2);
    r.body = resp.substr(end + 4);
  }
  if (resp.find("Transfer-Encoding: chunked") != std::string::npos ||
      resp.find("transfer-encoding: chunked") != std::string::npos) {
    std::string out;
    std::size_t pos = 0;
    while (pos < r.body.size()) {
      auto eol = r.body.find("\r\n", pos);
      if (eol == std::string::npos) break;
      auto len = std::strtoul(r.body.substr(pos, eol - pos).c_str(), nullptr, 16);
      if (len == 0) break;
      out += r.body.substr(eol + 2, len);
      pos = eol + 2 + len + 2;
    }
    r.body = out;
  }
  return r;
}

fake_peer::fake_peer(const std::string& script, const std::vector<std::string>& args) {
  char tmpl[] = "/tmp/weft-fake-XXXXXX";
  _dir = ::mkdtemp(tmpl);
  auto port_file = _dir + "/port";
  std::vector<std::string> argv = {"python3", std::string(WEFT_SOURCE_ROOT) + "/tests/fakes/" + script, "--port", "0",
                                   "--port-file", port_file};
  argv.insert(argv.end(), args.begin(), args.end());
  _pid = ::fork();
  if (_pid == 0) {
    ::setpgid(0, 0);
    std::vector<char*> a;
    for (auto& s : argv) a.push_back(s.data());
    a.push_back(nullptr);
    ::execvp("python3", a.data());
    ::_exit(127);
  }
  for (int i = 0; i < 1000; ++i) {
    std::ifstream f(port_file);
    int port = 0;
    if (f >> port && port > 0) {
      _port = static_cast<std::uint16_t>(port);
      return;
    }
    int ws;
    if (::waitpid(_pid, &ws, WNOHANG) == _pid) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  throw std::runtime_error("Failed to start the fake '" + script + "': no port file");
}

fake_peer::~fake_peer() {
  if (_pid > 0) {
    ::kill(-_pid, SIGKILL);
    ::waitpid(_pid, nullptr, 0);
  }
  std::error_code ec;
  std::filesystem::remove_all(_dir, ec);
}

std::string fake_peer::url() const { return fmt::format("http://127.0.0.1:{}", _port); }

}  // namespace weft::test
