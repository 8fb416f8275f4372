// weftctl plugin build: a plugin's source compiled with Debian's toolchains, the commands
// docs/guides/plugins.md documents and meson runs for the examples — clang for
// wasm32-wasi (a folder of *.c) or rustc for wasm32-unknown-unknown (a folder with
// src/lib.rs, against the SDK crate) — then the module judged as weft-plugin-host would
// judge it (libs/plugin folder.hh), so a plugin that builds but would be refused says so
// here, not in the host's log.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <weft/base/command.hh>
#include <weft/base/fd.hh>
#include <weft/base/io.hh>
#include <weft/plugin/folder.hh>
#include <weft/plugin/manifest.hh>
#include <weft/plugin/profile.hh>

#include "commands.hh"
#include "plugin_admin.hh"

extern char** environ;

namespace weft::ctl {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

/// A compiler may take its time on a large crate; past this it is stopped.
constexpr std::chrono::minutes compile_timeout{10};
/// The most of a compiler's output shown.
constexpr std::size_t max_compiler_output = 64 * 1024;

constexpr const char* c_packages = "clang lld wasi-libc libclang-rt-14-dev-wasm32";
constexpr const char* rust_packages = "rustc libstd-rust-dev-wasm32";

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

/// Where the SDK is: $WEFT_SDK_DIR; the source tree's sdk/ when this weftctl runs from
/// its build tree; the installed one (configured datadir, then /usr/share/weft/sdk).
/// `marker` is the file the build needs in it (c/weft_plugin.h or the crate's lib.rs).
result<std::string> find_sdk(const std::string& marker) {
  if (const char* env = std::getenv("WEFT_SDK_DIR"); env && *env) {
    if (is_file(fs::path(env) / marker)) return std::string(env);
    return fail(errc::not_found, "$WEFT_SDK_DIR is '{}', which has no {}", env, marker);
  }
  std::vector<std::string> tried;
  std::error_code ec;
  auto self = fs::read_symlink("/proc/self/exe", ec).string();
  std::string build_root = WEFT_BUILD_ROOT;
  if (!ec && self.rfind(build_root + "/", 0) == 0) {
    if (is_file(fs::path(WEFT_SOURCE_SDK_DIR) / marker)) return std::string(WEFT_SOURCE_SDK_DIR);
    tried.push_back(WEFT_SOURCE_SDK_DIR);
  }
  for (std::string d : {std::string(WEFT_INSTALLED_SDK_DIR), std::string("/usr/share/weft/sdk")}) {
    if (is_file(fs::path(d) / marker)) return d;
    if (std::find(tried.begin(), tried.end(), d) == tried.end()) tried.push_back(d);
  }
  return fail(errc::not_found,
              "no plugin SDK with {} (looked in {}); weft installs it in <datadir>/weft/sdk — set $WEFT_SDK_DIR to the "
              "sdk/ folder of weft's source otherwise",
              marker, fmt::join(tried, ", "));
}

/// The first of `names` on $PATH, or an absolute one of them that exists.
std::optional<std::string> find_program(const std::vector<std::string>& names) {
  const char* path = std::getenv("PATH");
  for (auto& n : names) {
    if (n.front() == '/') {
      if (::access(n.c_str(), X_OK) == 0) return n;
      continue;
    }
    if (auto p = find_executable(n, path ? path : "/usr/bin:/bin")) return p;
  }
  return std::nullopt;
}

struct compiled {
  bool ok = false;
  std::string output;  ///< what the compiler wrote (stdout and stderr)
  std::string command;
};

result<compiled> compile(const std::vector<std::string>& argv) {
  command_spec c;
  c.exec = argv.front();
  c.argv = argv;
  for (char** e = environ; e && *e; ++e) c.env.emplace_back(*e);
  command_limits lim;
  lim.timeout = compile_timeout;
  compiled out;
  out.command = fmt::format("{}", fmt::join(argv, " "));
  auto r = run_command(c, lim, /*cancel_fd=*/-1, [&](std::string_view chunk) {
    if (out.output.size() < max_compiler_output) out.output.append(chunk.substr(0, max_compiler_output - out.output.size()));
    return true;
  });
  if (!r) return r.take_error();
  out.ok = r->succeeded();
  if (!out.ok) out.output += fmt::format("{}({})\n", out.output.empty() || out.output.back() == '\n' ? "" : "\n", r->describe());
  return out;
}

/// What to say besides the compiler's own words when it looks like a missing part of the
/// toolchain rather than a mistake in the source.
std::string hint(const std::string& output, bool rust) {
  if (rust) {
    if (output.find("can't find crate for `core`") != std::string::npos ||
        output.find("can't find crate for `std`") != std::string::npos ||
        output.find("wasm32-unknown-unknown") != std::string::npos)
      return fmt::format("this rustc has no wasm32-unknown-unknown standard library; on Debian: apt-get install {}",
                         rust_packages);
    return "";
  }
  for (auto s : {"stdlib.h' file not found", "string.h' file not found", "libclang_rt", "wasm-ld", "wasi",
                 "unable to execute command", "No available targets"})
    if (output.find(s) != std::string::npos)
      return fmt::format("this clang cannot link for wasm32-wasi; on Debian: apt-get install {}", c_packages);
  return "";
}

}  // namespace

int cmd_plugin_build(const options& o, const plugin_args& a) {
  auto dir = fs::path(a.path);
  std::string name = a.path;
  auto failed = [&](const std::string& why) { return failure(fmt::format("Failed to build plugin '{}': {}", name, why)); };
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return failed(fmt::format("'{}' is not a folder", a.path));
  // The manifest gives the name and the entry; the entry need not exist yet.
  auto toml_path = (dir / "plugin.toml").string();
  unique_fd tf(::open(toml_path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!tf) return failed(fmt::format("Failed to read plugin manifest '{}': {}", toml_path, std::strerror(errno)));
  auto text = read_to_end(tf.get(), plugin::max_manifest_bytes);
  if (!text) return failed(fmt::format("Failed to read plugin manifest '{}': {}", toml_path, text.err().message));
  auto m = plugin::parse_manifest(*text, toml_path);
  if (!m) return failed(m.err().message);
  name = m->name;

  bool rust = is_file(dir / "src" / "lib.rs");
  std::vector<std::string> sources;
  if (!rust) {
    for (auto& e : fs::directory_iterator(dir, ec))
      if (e.path().extension() == ".c" && e.is_regular_file(ec)) sources.push_back(e.path().string());
    std::sort(sources.begin(), sources.end());
    if (sources.empty())
      return failed(fmt::format("'{}' has neither src/lib.rs (Rust) nor *.c files (C) to build", a.path));
  }
  auto out = a.out.empty() ? (dir / m->entry).string() : a.out;
  if (auto parent = fs::path(out).parent_path(); !parent.empty()) fs::create_directories(parent, ec);

  std::vector<compiled> steps;
  auto run_step = [&](const std::vector<std::string>& argv) -> result<bool> {
    auto c = compile(argv);
    if (!c) return c.take_error();
    steps.push_back(std::move(*c));
    return steps.back().ok;
  };
  auto compiler_failed = [&](const std::string& compiler) {
    auto& last = steps.back();
    fmt::print(stderr, "$ {}\n{}", last.command, last.output);
    auto h = hint(last.output, rust);
    return failed(fmt::format("{} failed (its output is above){}", compiler, h.empty() ? "" : "; " + h));
  };
  std::string tmp;
  if (!rust) {
    auto sdk = find_sdk("c/weft_plugin.h");
    if (!sdk) return failed(sdk.err().message);
    auto clang = find_program({"clang", "clang-19", "clang-18", "clang-17", "clang-16", "clang-15", "clang-14"});
    if (!clang) return failed(fmt::format("no clang on $PATH; on Debian: apt-get install {}", c_packages));
    std::vector<std::string> argv{*clang, "--target=wasm32-wasi", "-mexec-model=reactor", "-O2", "-Wall", "-Wextra",
                                  "-I", *sdk + "/c"};
    argv.insert(argv.end(), sources.begin(), sources.end());
    argv.insert(argv.end(), {"-o", out});
    auto r = run_step(argv);
    if (!r) return failed(r.err().message);
    if (!*r) return compiler_failed("clang");
  } else {
    auto sdk = find_sdk("rust/weft-plugin/src/lib.rs");
    if (!sdk) return failed(sdk.err().message);
    // PATH's rustc first, then Debian's: a rustup toolchain often lacks the wasm32 target.
    std::vector<std::string> rustcs;
    for (auto cand : {find_program({"rustc"}), find_program({"/usr/bin/rustc"})})
      if (cand && std::find(rustcs.begin(), rustcs.end(), *cand) == rustcs.end()) rustcs.push_back(*cand);
    if (rustcs.empty()) return failed(fmt::format("no rustc on $PATH; on Debian: apt-get install {}", rust_packages));
    auto t = (fs::temp_directory_path() / "weft-plugin-build-XXXXXX").string();
    if (!::mkdtemp(t.data())) return failed(fmt::format("Failed to create a temporary folder: {}", std::strerror(errno)));
    tmp = t;
    auto rlib = tmp + "/libweft_plugin.rlib";
    auto crate = m->name;
    std::replace(crate.begin(), crate.end(), '-', '_');
    bool built = false;
    for (auto& rustc : rustcs) {
      auto r = run_step({rustc, "--edition", "2021", "-O", "--target", "wasm32-unknown-unknown", "--crate-type", "rlib",
                         "--crate-name", "weft_plugin", *sdk + "/rust/weft-plugin/src/lib.rs", "-o", rlib});
      if (!r) {
        fs::remove_all(tmp, ec);
        return failed(r.err().message);
      }
      if (!*r) continue;  // the next rustc may have the target
      auto r2 = run_step({rustc, "--edition", "2021", "-O", "-C", "strip=debuginfo", "--target", "wasm32-unknown-unknown",
                          "--crate-type", "cdylib", "--crate-name", crate, "--extern", "weft_plugin=" + rlib,
                          (dir / "src" / "lib.rs").string(), "-o", out});
      if (!r2) {
        fs::remove_all(tmp, ec);
        return failed(r2.err().message);
      }
      built = *r2;
      break;
    }
    fs::remove_all(tmp, ec);
    if (!built) return compiler_failed("rustc");
  }
  // The warnings of the steps that made the module (not of a rustc passed over for another).
  for (auto& s : steps)
    if (s.ok && !s.output.empty() && !o.json) fmt::print(stderr, "{}", s.output);

  // Judged as the host judges it: the agent's policy with --agent, else what the host
  // grants every agent's plugins, without the network (as weftd runs it).
  plugin::agent_policy policy;
  if (!a.agent.empty()) {
    auto site = find_plugin_site(o);
    if (!site) return failed(site.err().message);
    if (auto st = has_agent(*site, a.agent); !st) return failed(st.err().message);
    policy = policy_for(*site, a.agent);
  } else {
    using hf = plugin::host_function;
    policy = {.agent = "(any)", .workspace = "/nonexistent-workspace", .network = false,
              .host_functions = {hf::log, hf::result, hf::clock, hf::kv_get, hf::kv_put, hf::file_read, hf::file_write,
                                 hf::http_fetch}};
  }
  auto c = plugin::check_module(std::move(*m), out, policy);
  std::uintmax_t size = fs::file_size(out, ec);
  json doc{{"plugin", name}, {"language", rust ? "rust" : "c"}, {"output", out}, {"bytes", size},
           {"commands", json::array()}, {"loads", c.ok()}};
  for (auto& s : steps) doc["commands"].push_back(s.command);
  if (!c.ok()) doc["error"] = c.error;
  if (c.profile) {
    std::vector<std::string> granted, refused;
    for (auto f : c.profile->granted) granted.emplace_back(plugin::name_of(f));
    for (auto& r : c.profile->refused) refused.push_back(r.what + ": " + r.why);
    doc["granted"] = granted;
    doc["refused"] = refused;
    if (!a.agent.empty()) doc["explain"] = plugin::explain(*c.profile);
  }
  if (o.json) {
    fmt::print("{}\n", doc.dump(2, ' ', false, json::error_handler_t::replace));
  } else {
    fmt::print("built plugin '{}' ({}): {} ({} bytes)\n", name, rust ? "Rust" : "C", out, size);
    if (c.ok()) {
      fmt::print("check: weft-plugin-host would load it{}\n", a.agent.empty() ? "" : " for agent '" + a.agent + "'");
      if (!a.agent.empty()) fmt::print("\n{}", plugin::explain(*c.profile));
      else if (c.profile) fmt::print("host functions: {}\n", fmt::join(doc["granted"].get<std::vector<std::string>>(), ", "));
    }
  }
  if (!c.ok()) return failure(fmt::format("Failed to build plugin '{}': it built, but weft-plugin-host would refuse it: {}", name, c.error));
  return 0;
}

}  // namespace weft::ctl
