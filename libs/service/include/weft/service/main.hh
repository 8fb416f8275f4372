#pragma once
/// The opening every weft process's main() shares, in one place: --help and usage errors
/// from one text, --version, the stop signals blocked before any thread exists, log levels
/// ($WEFT_LOG, else [weft] log of the config), the config weftd started it with, the bus
/// joined with the credentials weftd passed, the runtime built, and every failure turned
/// into one logged line and the exit code for it (0 ok, 1 failure, 2 usage or config).
///
/// A service's main() is then what systemd's resolved.c is — construct, run:
///
///     int main(int argc, char** argv) {
///       return service::run_main(argc, argv, {.program = "weft-memory", .log_name = "memory", .help = help},
///                                [](service::main_context& m) {
///                                  memory::memory_service svc(*m.rt, std::move(m.cfg));
///                                  return m.rt->run();
///                                });
///     }

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <weft/base/log.hh>
#include <weft/service/config.hh>
#include <weft/service/runtime.hh>

namespace weft::service {

/// One command-line option beyond --help and --version.
struct option {
  std::string_view name;        ///< "--config"
  std::string_view short_name;  ///< "-c", or empty
  std::string_view value;       ///< what it takes ("FILE"), empty for a switch
  /// Takes the value (empty for a switch); an error is a usage error naming the option.
  std::function<status(std::string_view)> set;
};

struct main_spec {
  std::string_view program;   ///< weft-agent: in usage errors and --version
  std::string_view log_name;  ///< the logger of main's own messages: agent
  /// The whole --help text, usage line first; documents the options and the environment.
  std::string_view help;
  std::vector<option> options;
  /// Join the bus and build a runtime (false for the two processes beneath the bus: bus and weftd).
  bool bus = true;
  /// Load the config: $WEFT_CONFIG (weftd passes the file it read) or the usual places, else
  /// the built-in default. False for processes that read it themselves (weftd's --config).
  bool config = true;
};

/// What main's body gets: the config, the runtime (when spec.bus) and a logger.
struct main_context {
  std::string_view program;
  log::logger& log;
  config cfg;
  std::unique_ptr<runtime> rt;  ///< null when !spec.bus
  std::string address;          ///< the bus address weftd gave ($WEFT_ADDRESS), when spec.bus

  /// Logs `e` once, tells the supervisor why (STATUS=<first line of the message>, and
  /// ERRNO=98 for errc::address_in_use, which weftd does not retry) and returns the exit
  /// code for it (exit_with).
  int fail(const error& e) const;
};

/// The longest STATUS= text a failure sends (weftd keeps 200 characters).
inline constexpr std::size_t max_status_chars = 200;

/// The notify datagram that says why a process fails: "STATUS=<first line of the
/// message>", plus "\nERRNO=98" for errc::address_in_use.
std::string failure_notice(const error& e);

/// Runs `body` after the shared opening; returns main()'s exit code.
int run_main(int argc, char** argv, const main_spec& spec, const std::function<int(main_context&)>& body);

/// The version of weft, the same in every program (--version, the MCP server's serverInfo).
std::string_view version();

}  // namespace weft::service
