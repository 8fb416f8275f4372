#pragma once
/// The runtime checks (RT-*): what a running weftd says about its services, judged — tool
/// processes running without their sandbox or with a weaker one than weftd gives them, a
/// config file changed since it was loaded (a reload would change what runs), agents the bus
/// holds in quarantine. Plain data in, findings out: weftctl fills the view from weftd's
/// Status (check_config) and the bus's quarantine list, tests from crafted values.

#include <cstdint>
#include <string>
#include <vector>

#include <weft/scan/scanner.hh>

namespace weft::scan {

/// What weftd and the bus said.
struct runtime_view {
  struct service {
    std::string name;
    std::string state;    ///< Supervisor.v1 State: ready, starting, stopped, …
    std::uint32_t pid = 0;
    std::string sandbox;  ///< the sandbox's summary ("landlock=7 seccomp=1 scoped=1 net=netns pids=own"); "" none
    std::string config;   ///< "", "changed" or "removed": what a reload would do to it
  };
  std::string where;                   ///< names weftd in findings (its runtime directory)
  std::vector<service> services;
  bool config_checked = false;         ///< config, config_added and config_error are meaningful
  std::vector<std::string> config_added;  ///< derived by the config as it is now, not running
  std::string config_error;            ///< the config as it is now does not load
  std::string config_file;             ///< the file weftd reads ("(built-in default)")
  struct quarantine {
    std::string agent, reason, by;
  };
  std::vector<quarantine> quarantined;
};

/// The per-agent tool process families weftd sandboxes (libs/service derives
/// tool-<family>-<agent> for each, Landlock, seccomp, a network and a PID namespace of its own).
const std::vector<std::string>& sandboxed_tool_families();

/// True for "tool-<family>-<agent>" with a family of sandboxed_tool_families().
bool is_sandboxed_tool(std::string_view service);

/// The runtime findings of one view.
std::vector<finding> audit_runtime(const runtime_view& v);

}  // namespace weft::scan
