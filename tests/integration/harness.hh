#pragma once
/// Integration test harness: runs the real weftd from the build tree in a private
/// directory, waits for its READY (sd_notify on a socket the test owns — an event, never a
/// sleep), and kills the whole process group at teardown. weftd's log is printed only
/// when the test case failed.

#include <sys/types.h>

#include <chrono>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include <weft/ipc/bus_client.hh>
#include <weft/service/control_client.hh>

namespace weft::test {

std::string build_path(const std::string& rel);  ///< WEFT_BUILD_ROOT + "/" + rel
std::string echo_exe();
/// The programs of `rels` (paths under the build root) that are not built, comma-separated.
std::string missing_programs(std::initializer_list<const char*> rels);

/// The processes whose environment or command line holds `secret` (read from /proc): how
/// the tests show a key reached only the process meant to hold it.
std::vector<pid_t> processes_holding(const std::string& secret);

/// "[services.echo-N]" blocks for n echo services with addresses echo/1 … echo/n.
std::string echo_services(int n, const std::string& extra = {});

struct run_result {
  int exit_code;
  std::string out, err;
};
/// Runs a program to completion, capturing stdout and stderr.
run_result run(const std::vector<std::string>& argv, std::chrono::seconds timeout = std::chrono::seconds(60));

class stack {
 public:
  /// Writes `config` to <dir>/clawft.toml, starts weftd and waits for READY. `weftd`: the
  /// binary to run (an installed one); empty: the build tree's.
  static std::unique_ptr<stack> start(const std::string& config, bool wait_ready = true, const std::string& weftd = {});
  ~stack();

  /// Waits for the next sd_notify datagram containing `what` (e.g. "READY=1").
  bool wait_notify(const std::string& what, std::chrono::milliseconds timeout);

  const std::string& dir() const { return _dir; }
  const std::string& runtime() const { return _runtime; }
  std::string config_path() const { return _dir + "/clawft.toml"; }
  pid_t pid() const { return _pid; }

  /// weftctl --runtime-dir <runtime> ARGS…
  run_result weftctl(const std::vector<std::string>& args);
  std::unique_ptr<service::control_client> control();
  /// A bus client authenticated as ctl/<n> (a fresh n per call).
  std::unique_ptr<ipc::bus_client> bus_client();
  zmq::context_t& ctx() { return _ctx; }

  /// Pid of a service from weftd's status.
  pid_t service_pid(const std::string& name);
  /// Blocks until weftd reports `name` in `state` with at least `min_restarts`.
  bool wait_state(service::control_client& c, const std::string& name, proto::supervisor_v1::state state,
                  std::uint32_t min_restarts, std::chrono::milliseconds timeout);

  /// Blocks until the bus has delivered at least `count` messages to `address` (its
  /// ListPeers counter) — how a test knows a request reached a service.
  bool wait_delivered(ipc::bus_client& b, const std::string& address, std::uint64_t count,
                      std::chrono::milliseconds timeout);
  std::uint64_t delivered(ipc::bus_client& b, const std::string& address);

  std::string log() const;

 private:
  stack() = default;
  std::string _dir, _runtime, _notify_path;
  int _notify_fd = -1;
  pid_t _pid = -1;
  zmq::context_t _ctx{1};
  unsigned _ctl_seq = 0;
};

}  // namespace weft::test
