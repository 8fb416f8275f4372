// weft-bench-git [--files N] [--runs R] — the git tools on a repository of N files (default
// 10,000 in 100 directories, 50 of them changed): git_status and git_diff (working tree) as
// the tool runs them (libgit2, in this process), against `git status --porcelain` and
// `git diff --numstat` run as processes on the same repository. Prints p50/p99 of R runs.
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "services/tool-git/git_tools.hh"
#include "tools/bench/measure.hh"

using namespace weft;
namespace fs = std::filesystem;
using bench::figures;
using bench::measure;

namespace {

void run(const std::string& cmd) {
  if (std::system(cmd.c_str()) != 0) {
    fmt::print(stderr, "error: '{}' failed\n", cmd);
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  int files = 10000, runs = 30;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--files") files = std::atoi(argv[i + 1]);
    else if (a == "--runs") runs = std::atoi(argv[i + 1]);
    else {
      fmt::print(stderr, "usage: weft-bench-git [--files N] [--runs R]\n");
      return 2;
    }
  }
  char tmpl[] = "/tmp/weft-bench-git-XXXXXX";
  if (!::mkdtemp(tmpl)) return 1;
  fs::path ws = tmpl, repo = ws / "repo";
  for (int i = 0; i < files; ++i) {
    auto dir = repo / fmt::format("d{:02}", i % 100);
    if (i < 100) fs::create_directories(dir);
    std::ofstream(dir / fmt::format("f{:05}.txt", i)) << fmt::format("line one of {}\nline two\nline three\n", i);
  }
  auto g = "git -C '" + repo.string() + "' -c user.name=b -c user.email=b@b ";
  run(g + "init -q -b main && " + g + "add -A && " + g + "commit -qm files");
  for (int i = 0; i < 50; ++i)
    std::ofstream(repo / fmt::format("d{:02}", (i * 7) % 100) / fmt::format("f{:05}.txt", (i * 7) % files), std::ios::app)
        << "changed\n";
  auto w = tools::workspace::open(ws.string(), "bench");
  if (!w) return 1;
  tools::git::init();
  nlohmann::json args{{"repo", "repo"}};
  auto check = tools::git::status(*w, args);
  if (!check) {
    fmt::print(stderr, "error: {}\n", check.err().message);
    return 1;
  }
  fmt::print("git tools on a repository of {} files, 50 changed ({} runs each; ms)\n", files, runs);
  auto row = [&](const char* name, figures f) { fmt::print("  {:<36} p50 {:7.2f}   p99 {:7.2f}\n", name, f.p50, f.p99); };
  row("git_status (libgit2, in process)", measure(runs, [&] { (void)tools::git::status(*w, args); }));
  row("git status --porcelain (process)", measure(runs, [&] { run(g + "status --porcelain > /dev/null"); }));
  row("git_diff (libgit2, in process)", measure(runs, [&] { (void)tools::git::diff(*w, args); }));
  row("git diff --numstat (process)", measure(runs, [&] { run(g + "diff --numstat > /dev/null"); }));
  fs::remove_all(ws);
  return 0;
}
