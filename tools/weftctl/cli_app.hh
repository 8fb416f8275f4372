#pragma once
/// weftctl's command tree: every command, its arguments, options, checks and help, declared
/// on CLI11 (cli_app.cc). Parsing fills an `invocation`; its `run` then does the command
/// (commands.hh), so the parser can be tested without running anything.

#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli.hh"
#include "commands.hh"

namespace weft::ctl {

/// What the command line asked for.
struct invocation {
  options globals;          ///< runtime_dir is resolved from runtime_arg after parsing
  std::string runtime_arg;  ///< --runtime-dir as given
  bool verbose = false, quiet = false;
  std::string command;       ///< the command words, e.g. "memory export"
  std::function<int()> run;  ///< the command, bound to the arguments below

  // The arguments of the commands, as parsed and checked.
  std::vector<std::string> services;   ///< start|stop|restart
  std::string file;                    ///< config check
  std::string address, type, payload;  ///< call (payload as msgpack); log-level's address
  std::string spec;                    ///< log-level
  std::string target;                  ///< trace
  long count = 0;                      ///< trace --count
  route_args route;
  std::string delegate_agent = "main";  ///< delegate status
  chat_args chat;
  memory_args memory;
  audit_args audit;
  llm_policy_args llm;
  auth_args auth;
  mcp_add_args mcp_add;
  security_args security;
  skill_args skill;
  plugin_args plugin;
  std::string mcp_name;  ///< mcp remove
  std::string shell;     ///< completion
};

class command_tree;

/// The parser for one invocation; it fills `inv`, which must outlive it.
class command_line {
 public:
  command_line(invocation& inv, std::string program);
  ~command_line();
  /// See cli::parse: the exit code when the process must end now, else nullopt.
  std::optional<int> parse(std::vector<std::string> args, std::ostream& out, std::ostream& err);
  /// The help of the command `path` ("memory export"; "" for the top).
  std::string help(const std::string& path) const;
  const CLI::App& app() const { return *_app; }

 private:
  std::unique_ptr<CLI::App> _app;
  std::shared_ptr<cli::help_formatter> _fmt;
  std::vector<cli::trailing_command> _trailing;
  std::unique_ptr<command_tree> _tree;
};

}  // namespace weft::ctl
