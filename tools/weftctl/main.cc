// weftctl (also installed as `weft`) — the weft admin CLI.
//
// Talks to a running weftd over its control socket and, for the commands that use the bus
// (call, peers, trace, memory, chat, …), to the bus with credentials weftd issues to it
// (address ctl/<pid>). The command line is declared in cli_app.cc, the commands in the
// other files of this folder. Logs: warnings and errors by default, -v debug, -q errors.
// Exit codes: 0 ok, 1 failure (including an error answer), 2 usage or invalid config.
#include <sys/stat.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>

#include <weft/base/log.hh>
#include <weft/service/paths.hh>

#include "cli_app.hh"

using namespace weft;

namespace {
bool is_socket(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}
}  // namespace

int main(int argc, char** argv) {
  std::string_view self = argc > 0 ? argv[0] : "weftctl";
  auto program = self.substr(self.rfind('/') + 1) == "weft" ? "weft" : "weftctl";
  ctl::invocation inv;
  ctl::command_line cli(inv, program);
  if (auto rc = cli.parse({argv + 1, argv + argc}, std::cout, std::cerr)) return *rc;
  // warn unless $WEFT_LOG says otherwise; -v and -q win over both.
  log::configure("warning");
  log::configure_from_env();
  if (inv.verbose) log::configure("debug");
  if (inv.quiet) log::configure("error");
  inv.globals.runtime_dir = service::runtime_dir(inv.runtime_arg);
  // The system weftd (the unit: sockets in /run/weft, state in /var/lib/weft) when nothing
  // names a directory and no weftd of this user's answers where the chain above looks.
  if (inv.runtime_arg.empty() && !std::getenv("WEFT_RUNTIME_DIR") && !is_socket(inv.globals.runtime_dir + "/control") &&
      is_socket(std::string(service::system_runtime_dir) + "/control")) {
    inv.globals.runtime_dir = service::system_runtime_dir;
    if (!std::getenv("WEFT_HOME")) ::setenv("WEFT_HOME", service::system_home_dir, 1);
  }
  return inv.run();
}
