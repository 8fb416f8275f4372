#include "cargo_tools.hh"

#include <fcntl.h>
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include <weft/base/command.hh>
#include <weft/base/line_buffer.hh>

namespace weft::tools::cargo {

namespace {

constexpr std::size_t max_stdout_bytes = 16 * 1024 * 1024;  // what is read of one run

std::string cut(std::string s, std::size_t max) {
  if (s.size() <= max) return s;
  auto total = s.size();
  s.resize(max);
  return s + fmt::format("\n[… cut: {} of {} bytes shown]\n", max, total);
}

json diagnostic_json(const diagnostic& d) {
  json j{{"level", d.level}, {"message", d.message}, {"file", d.file}, {"line", d.line}, {"column", d.column}};
  if (!d.code.empty()) j["code"] = d.code;
  if (!d.replacement.empty()) j["replacement"] = d.replacement;
  return j;
}

/// The result of `cargo package`: success, the .crate, the summary and what went wrong.
tool::result package_result(const std::string& out, const command_outcome& ran, std::chrono::milliseconds limit,
                            const cargo_limits& lim) {
  auto rep = parse_package_output(out, {lim.max_diagnostics, lim.max_output_bytes});
  bool ok = ran.succeeded();
  std::string crate;
  if (auto p = out.find("Packaging "); p != std::string::npos) {  // "Packaging name vX.Y.Z (path)"
    auto eol = out.find('\n', p);
    std::string_view l(out.data() + p + 10, (eol == std::string::npos ? out.size() : eol) - p - 10);
    auto sp = l.find(' ');
    auto sp2 = sp == std::string_view::npos ? sp : l.find(' ', sp + 1);
    if (sp != std::string_view::npos && sp + 2 < l.size() && l[sp + 1] == 'v')
      crate = fmt::format("target/package/{}-{}.crate", l.substr(0, sp), l.substr(sp + 2, sp2 == std::string_view::npos ? sp2 : sp2 - sp - 2));
  }
  std::size_t errors = 0, warnings = 0;
  for (auto& d : rep.diagnostics) (d.level == "error" ? errors : warnings)++;
  std::string text = ran.timed_out ? fmt::format("cargo package did not finish within {} s; stopped\n",
                                                 std::chrono::duration_cast<std::chrono::seconds>(limit).count())
                     : ok ? fmt::format("cargo package: ok — {} (a dry run: nothing was published)\n", crate.empty() ? "packaged" : crate)
                          : fmt::format("cargo package: failed ({})\n", ran.describe());
  if (!rep.summary.empty()) text += rep.summary + "\n";
  for (auto& d : rep.diagnostics)
    text += d.file.empty() ? fmt::format("{}{}: {}\n", d.level, d.code.empty() ? "" : "[" + d.code + "]", d.message)
                           : fmt::format("{}{} {}:{}:{}: {}\n", d.level, d.code.empty() ? "" : "[" + d.code + "]", d.file,
                                         d.line, d.column, d.message);
  if (!ok && rep.diagnostics.empty()) text += cut(out, lim.max_output_bytes);
  json diags = json::array();
  for (auto& d : rep.diagnostics) diags.push_back(diagnostic_json(d));
  tool::result r;
  r.content = std::move(text);
  r.is_error = !ok;
  r.structured = json{{"command", "package"}, {"success", ok}, {"timed_out", ran.timed_out},
                      {"exit_status", WIFEXITED(ran.status) ? WEXITSTATUS(ran.status) : -1}, {"crate", ok ? crate : ""},
                      {"summary", rep.summary}, {"diagnostics", std::move(diags)}, {"errors", errors}, {"warnings", warnings}}
                     .dump();
  return r;
}

}  // namespace

result<tool::result> run(const workspace& ws, const std::string& command, const json& args, const call_context& ctx,
                         const cargo_limits& lim) {
  auto path = optional_string_arg(args, "path");
  if (!path) return path.take_error();
  auto timeout_ms = optional_uint_arg(args, "timeout_ms");
  if (!timeout_ms) return timeout_ms.take_error();
  auto dir = ws.open_beneath(path->value_or("."), O_PATH | O_DIRECTORY, "use the crate");
  if (!dir) return dir.take_error();
  std::string exec = lim.cargo;
  if (exec.find('/') == std::string::npos) {
    auto found = find_executable(exec, lim.path);
    if (!found)
      return tool::make(tool::error_code::failed, "Failed to run cargo {}: cargo is not installed (not on PATH {})",
                        command, lim.path);
    exec = *found;
  }
  auto home = ws.root() + "/.weft/cargo-home";
  std::error_code ec;
  std::filesystem::create_directories(home, ec);
  std::vector<std::string> env = {"PATH=" + lim.path, "HOME=" + home, "CARGO_HOME=" + home, "CARGO_TERM_COLOR=never",
                                  "LANG=C.UTF-8"};
  env.insert(env.end(), lim.extra_env.begin(), lim.extra_env.end());
  std::vector<std::string> argv = {exec, command};
  if (command == "fmt") {
    argv.push_back("--check");
  } else if (command == "package") {
    // A dry run of publishing: the .crate is built and verified (its contents compiled on
    // their own) in target/package; nothing is uploaded. --allow-dirty: an agent's
    // workspace usually has changes not yet committed.
    argv.insert(argv.end(), {"--offline", "--allow-dirty"});
  } else {
    argv.insert(argv.end(), {"--offline", "--message-format=json"});
    if (command == "test") argv.push_back("--no-fail-fast");
    if (command == "doc") argv.push_back("--no-deps");
  }
  auto limit = std::min(lim.timeout, std::chrono::milliseconds(timeout_ms->value_or(lim.timeout.count())));
  command_spec spec{.exec = exec,
                    .argv = argv,
                    .env = env,
                    .dir_fd = dir->get(),
                    .merge_stderr = command == "package",
                    .before_exec = lim.before_exec,
                    .before_exec_arg = lim.before_exec_arg,
                    .before_exec_step = "the command filter"};
  std::string out;
  auto ran = run_command(spec, {.timeout = limit, .kill_grace = std::chrono::seconds(2), .stderr_tail = 8192},
                         ctx.cancel_fd, [&](std::string_view chunk) {
                           if (out.size() < max_stdout_bytes) out.append(chunk.substr(0, max_stdout_bytes - out.size()));
                           return true;
                         });
  if (!ran) return tool::make(tool::error_code::failed, "Failed to run cargo {}: {}", command, ran.err().message);
  if (command == "package") return package_result(out, *ran, limit, lim);
  auto rep = parse_output(out, {lim.max_diagnostics, lim.max_output_bytes});
  bool ok = ran->succeeded();
  std::size_t errors = 0, warnings = 0;
  for (auto& d : rep.diagnostics) {
    if (d.level == "error") ++errors;
    else if (d.level == "warning") ++warnings;
  }

  std::string text;
  if (ran->timed_out)
    text = fmt::format("cargo {} did not finish within {} s; it and everything it started were stopped\n", command,
                       std::chrono::duration_cast<std::chrono::seconds>(limit).count());
  else if (ran->cancelled)
    text = fmt::format("cargo {} was stopped\n", command);
  else
    text = fmt::format("cargo {}: {}\n", command, ok ? "ok" : "failed (" + ran->describe() + ")");
  for (auto& d : rep.diagnostics)
    text += fmt::format("{}{} {}:{}:{}: {}{}\n", d.level, d.code.empty() ? "" : "[" + d.code + "]", d.file, d.line,
                        d.column, d.message, d.replacement.empty() ? "" : " (suggestion: `" + d.replacement + "`)");
  if (!rep.diagnostics.empty()) text += fmt::format("{} errors, {} warnings\n", errors, warnings);
  if (command == "test" && !ran->timed_out)
    text += fmt::format("tests: {} passed, {} failed, {} ignored\n", rep.passed.size(), rep.failed.size(),
                        rep.ignored.size());
  for (auto& [name, output] : rep.failed) text += fmt::format("---- {} ----\n{}", name, cut(output, lim.max_output_bytes));
  if (command == "fmt" && !ok) text += cut(rep.other, lim.max_output_bytes);
  if (!ok && rep.diagnostics.empty() && rep.failed.empty() && !ran->stderr_tail.empty())
    text += cut(ran->stderr_tail, lim.max_output_bytes);

  json diags = json::array();
  for (auto& d : rep.diagnostics) diags.push_back(diagnostic_json(d));
  json failed = json::array();
  for (auto& [name, output] : rep.failed) failed.push_back({{"name", name}, {"output", cut(output, lim.max_output_bytes)}});
  json structured{{"command", command},
                  {"success", ok},
                  {"timed_out", ran->timed_out},
                  {"exit_status", WIFEXITED(ran->status) ? WEXITSTATUS(ran->status) : -1},
                  {"diagnostics", std::move(diags)},
                  {"errors", errors},
                  {"warnings", warnings}};
  if (command == "test")
    structured["tests"] = {{"passed", rep.passed}, {"failed", std::move(failed)}, {"ignored", rep.ignored}};
  if (command == "fmt") {
    json files = json::array();
    std::size_t p = 0;
    while ((p = rep.other.find("Diff in ", p)) != std::string::npos) {
      auto end = rep.other.find(" at line ", p);
      auto eol = rep.other.find('\n', p);
      if (end == std::string::npos || end > eol) end = rep.other.find(':', p + 8);
      files.push_back(rep.other.substr(p + 8, end - p - 8));
      p = eol == std::string::npos ? rep.other.size() : eol;
    }
    structured["unformatted"] = std::move(files);
  }
  tool::result r;
  r.content = std::move(text);
  r.is_error = !ok;
  r.structured = structured.dump();
  return r;
}

std::vector<tool_def> cargo_tools(const workspace& ws, cargo_limits lim) {
  constexpr std::string_view schema = R"J({"type":"object","properties":{
"path":{"type":"string","description":"The crate's directory in the workspace (default: the workspace)"},
"timeout_ms":{"type":"integer","minimum":1000,"description":"Time limit (default and cap: 10 minutes)"}}})J";
  std::vector<tool_def> out;
  auto add = [&](const char* name, const char* command, const char* what) {
    out.push_back({{name, what, std::string(schema), ""},
                   [&ws, lim, command = std::string(command)](const json& a, const call_context& ctx) {
                     return run(ws, command, a, ctx, lim);
                   }});
  };
  add("cargo_check", "check", "Type-check a Rust crate (cargo check, offline): errors and warnings with file, line, code.");
  add("cargo_build", "build", "Build a Rust crate (cargo build, offline): errors and warnings with file, line, code.");
  add("cargo_test", "test",
      "Run a Rust crate's tests (cargo test, offline, all of them): passed, failed with their output, ignored.");
  add("cargo_clippy", "clippy", "Lint a Rust crate (cargo clippy, offline): lints with file, line, code, suggestion.");
  add("cargo_fmt", "fmt", "Check a Rust crate's formatting (cargo fmt --check): the files that need it and the diff.");
  add("cargo_package", "package",
      "Package a Rust crate as for publishing, without publishing (cargo package --offline --allow-dirty): the .crate is built and verified.");
  add("cargo_doc", "doc", "Build a Rust crate's documentation (cargo doc --no-deps, offline): doc warnings with file and line.");
  return out;
}

}  // namespace weft::tools::cargo
