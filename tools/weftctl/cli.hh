#pragma once
/// weftctl's command line on CLI11: what every command shares, so that each one gets the
/// same parsing, its own --help, the same usage errors and shell completion. The commands
/// themselves are declared in cli_app.cc.
///
/// - Help is written by `help_formatter`: the usage line, the description, the command's
///   commands, arguments and options, the global options, then notes and examples.
/// - A usage error prints `error: <what>` and `Try '<program> <command> --help'.` and is
///   exit code 2, for every command (`parse`).
/// - `bash_completion` writes a bash completion script from the command tree (CLI11 2.1 has
///   no completion of its own).

#include <CLI/CLI.hpp>
#include <iosfwd>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace weft::ctl::cli {

/// How one command presents itself in help.
struct command_text {
  std::string usage;     ///< after "usage: weftctl ", e.g. "memory export --agent ID -o FILE"
  std::string synopsis;  ///< its line in the parent's command list; empty: from the usage
  std::string notes;     ///< after the options: details, environment, examples
  std::string about;     ///< the help's description when longer than the one-line one of the list
};

/// Writes weft's help: one layout for every command, texts kept beside the command tree.
class help_formatter : public CLI::FormatterBase {
 public:
  explicit help_formatter(std::string program) : _program(std::move(program)) {}
  void describe(const CLI::App* app, command_text text) { _text[app] = std::move(text); }
  const std::string& program() const { return _program; }
  const command_text* text_of(const CLI::App* app) const;
  /// The usage line of `app` without "usage: ", e.g. "weftctl memory export --agent ID -o FILE".
  std::string usage_of(const CLI::App* app) const;
  std::string make_help(const CLI::App* app, std::string name, CLI::AppFormatMode mode) const override;

 private:
  std::string _program;
  std::map<const CLI::App*, command_text> _text;
};

/// The command words of `app` from the root down: "memory export" (empty for the root).
std::string command_path(const CLI::App* app);

/// The deepest command the parse reached (the root when none was given).
const CLI::App* selected_command(const CLI::App& root);

/// A check for an option or argument: `ok` tells whether a value is acceptable, `needs` says
/// what it must be ("a number from 1 to 100"); the error reads "<name> needs <needs>".
CLI::Validator needs(std::string needs, std::function<bool(const std::string&)> ok);
/// A check that a value is one of `values` ("auto, legacy or modern").
CLI::Validator one_of(std::vector<std::string> values);
/// A check that a value is a whole number in [min, max].
CLI::Validator number_in(long min, long max, std::string needs);
/// Throws the usage error `what` (for checks across options, in a command's callback).
[[noreturn]] void usage(std::string what);

/// A command whose trailing words are another program's command line (`mcp add NAME …
/// COMMAND [ARG]…`): they are handed over untouched, options included, starting at the
/// first word after `--` or after `leading` positional words. CLI11 2.1 cannot leave the
/// rest of a subcommand's line alone, so `parse` splits it off before CLI11 sees it.
struct trailing_command {
  const CLI::App* app;
  std::size_t leading;              ///< positional words before the command (NAME: 1)
  std::vector<std::string>* words;  ///< where the trailing command goes
};

/// Parses `args` (without the program name). Returns the exit code when the process must
/// end now: 0 after --help or --version (printed to `out`), 2 after a usage error (printed
/// to `err`); nullopt when the selected command is ready to run.
std::optional<int> parse(CLI::App& app, std::vector<std::string> args, const std::vector<trailing_command>& trailing,
                         std::ostream& out, std::ostream& err);

/// A bash completion script for `app`'s command tree (commands, options, file names after
/// options that take a FILE or DIR), registered for every name in `names`.
std::string bash_completion(const CLI::App& app, const std::vector<std::string>& names);

}  // namespace weft::ctl::cli
