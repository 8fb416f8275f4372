#pragma once
// Debian's radicale, a real CalDAV server, started by a test on 127.0.0.1 with a storage of
// its own (any user name logs in: auth none; each user owns its collections).
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include <doctest/doctest.h>

#include <weft/base/command.hh>
#include <weft/http/fetch.hh>

#include "tests/temp_dir.hh"

namespace weft::test {

inline int free_port() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(s);
  return ntohs(a.sin_port);
}

/// radicale on 127.0.0.1 with a storage of its own; any user name logs in (auth none).
struct radicale {
  weft::test::temp_dir dir{"weft-radicale"};
  pid_t pid = -1;
  int port = 0;
  bool up = false;
  radicale() {
    auto exe = find_executable("radicale", "/usr/bin:/usr/local/bin");
    if (!exe) return;
    port = free_port();
    pid = ::fork();
    if (pid == 0) {
      auto hosts = "127.0.0.1:" + std::to_string(port);
      auto store = (dir.path / "collections").string();
      ::execl(exe->c_str(), exe->c_str(), "--config", "", "--server-hosts", hosts.c_str(), "--storage-filesystem-folder",
              store.c_str(), "--auth-type", "none", "--rights-type", "owner_only", "--logging-level", "error",
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 100 && !up; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      http::fetch_request r;
      r.method = "OPTIONS";
      r.url = url();
      up = static_cast<bool>(http::fetch(r));
    }
  }
  ~radicale() {
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      ::waitpid(pid, nullptr, 0);
    }
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port) + "/"; }
  void mkcalendar(const std::string& user, const std::string& name, const std::string& display) {
    http::fetch_request r;
    r.method = "MKCALENDAR";
    r.url = url() + user + "/" + name + "/";
    r.username = user;
    r.password = "x";
    r.headers = {"Content-Type: application/xml"};
    r.body = "<?xml version=\"1.0\"?><c:mkcalendar xmlns:d=\"DAV:\" xmlns:c=\"urn:ietf:params:xml:ns:caldav\"><d:set><d:prop>"
             "<d:displayname>" + display + "</d:displayname></d:prop></d:set></c:mkcalendar>";
    auto resp = http::fetch(r);
    REQUIRE(resp);
    REQUIRE_MESSAGE(resp->status == 201, resp->body);
  }
};

}  // namespace weft::test
