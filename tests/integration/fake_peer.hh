#pragma once
/// For integration tests: runs a fake of a remote API (tests/fakes/*.py) on a free
/// 127.0.0.1 port and talks plain HTTP/1.1 to it (scripting, recorded requests).

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace weft::test {

struct http_reply {
  int status = 0;
  std::string body;
  std::string head;  ///< the status line and headers, as sent

  /// The value of header `name` (case as sent), or empty.
  std::string header(const std::string& name) const;
};

/// One HTTP/1.1 request to 127.0.0.1:port (Connection: close), with `headers` ("Name:
/// value") added. status 0: no connection.
http_reply http(std::uint16_t port, const std::string& method, const std::string& path, const std::string& body = {},
                const std::string& content_type = "application/json", const std::vector<std::string>& headers = {});

class fake_peer {
 public:
  /// Starts `python3 <source>/tests/fakes/<script> --port 0 --port-file F <args…>` and waits
  /// for the port file. Throws (fails the test) when it does not come up.
  fake_peer(const std::string& script, const std::vector<std::string>& args = {});
  ~fake_peer();
  fake_peer(const fake_peer&) = delete;
  fake_peer& operator=(const fake_peer&) = delete;

  std::uint16_t port() const { return _port; }
  pid_t pid() const { return _pid; }
  std::string url() const;  ///< http://127.0.0.1:<port>
  http_reply get(const std::string& path) { return http(_port, "GET", path); }
  http_reply post(const std::string& path, const std::string& json) { return http(_port, "POST", path, json); }

 private:
  pid_t _pid = -1;
  std::uint16_t _port = 0;
  std::string _dir;
};

}  // namespace weft::test
