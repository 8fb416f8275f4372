// weft-test-listen — test-only service (not installed): listens on a TCP address and serves
// nothing, so weftd's handling of a service whose port is taken can be tested without any
// real channel. On EADDRINUSE it fails with errc::address_in_use through service::run_main,
// which tells weftd why (STATUS=…, ERRNO=98).
//
// Options:
//   --listen HOST:PORT   the IPv4 address to listen on (required)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include <weft/base/fd.hh>
#include <weft/service/main.hh>

using namespace weft;

namespace {

constexpr std::string_view help = R"(usage: weft-test-listen --listen HOST:PORT

Test-only: listens on HOST:PORT (IPv4) and serves nothing; a taken port is AddressInUse.
)";

result<unique_fd> listen_on(const std::string& where) {
  auto colon = where.rfind(':');
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<std::uint16_t>(std::atoi(where.c_str() + colon + 1)));
  if (colon == std::string::npos || ::inet_pton(AF_INET, where.substr(0, colon).c_str(), &sa.sin_addr) != 1)
    return fail(errc::invalid_argument, "Failed to listen on '{}': not IPv4 host:port", where);
  unique_fd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s || ::bind(s.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(s.get(), 16) != 0) {
    int e = errno;
    if (e == EADDRINUSE) return fail(errc::address_in_use, "Failed to listen on {}: address in use", where);
    return fail(errc::io, "Failed to listen on {}: {}", where, std::strerror(e));
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  std::string where;
  service::main_spec spec{.program = "weft-test-listen",
                          .log_name = "listen",
                          .help = help,
                          .options = {{"--listen", "", "HOST:PORT", [&](std::string_view v) -> status {
                                         where = std::string(v);
                                         return {};
                                       }}}};
  return service::run_main(argc, argv, spec, [&](service::main_context& m) {
    auto s = listen_on(where);
    if (!s) return m.fail(s.err());
    return m.rt->run();
  });
}
