#pragma once
/// weftctl's verbs. Each returns the process exit code (0 ok, 1 failure, 2 usage).

#include <string>
#include <vector>

namespace weft::ctl {

struct options {
  std::string runtime_dir;  ///< resolved
  bool json = false;
  unsigned timeout_ms = 30000;
};

int cmd_status(const options& o);
int cmd_control(const options& o, const std::string& action, const std::vector<std::string>& services);
int cmd_reload(const options& o);
int cmd_config_check(const options& o, const std::string& file);
int cmd_call(const options& o, const std::string& address, const std::string& type, const std::string& json);
int cmd_trace(const options& o, const std::string& target, long count);
int cmd_peers(const options& o);
int cmd_log_level(const options& o, const std::string& target, const std::string& spec);

}  // namespace weft::ctl
