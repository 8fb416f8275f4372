// Security scan throughput: `weftctl security scan` over a large generated skill tree (files/s,
// MB/s), and the content rules alone over one big Markdown file (MB/s). The tree is made of
// the corpus's skills (tests/security/corpus, malicious and benign) with generated prose and
// code padding, so the mix of prose, code blocks, scripts and findings is a real one.
//
// usage: weft-bench-scan [--skills N] [--runs R]   (defaults 2000 skills, 3 runs; best run shown)
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <fmt/format.h>

#include <weft/scan/scanner.hh>

namespace fs = std::filesystem;
using clk = std::chrono::steady_clock;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string prose(std::mt19937& rng, std::size_t bytes) {
  static const char* words[] = {"the", "skill", "reads", "a", "file", "and", "writes", "notes", "for", "user", "when",
                                "asked", "summary", "of", "report", "calendar", "weather", "in", "with", "data", "agent",
                                "returns", "table", "from", "project", "build", "tests", "docs", "markdown", "output"};
  std::string out;
  std::uniform_int_distribution<std::size_t> w(0, std::size(words) - 1), para(8, 40);
  while (out.size() < bytes) {
    for (std::size_t i = 0, n = para(rng); i < n; ++i) {
      out += words[w(rng)];
      out += ' ';
    }
    out += ".\n\n";
    if (rng() % 4 == 0) out += "```bash\npip install requests==2.32.3\npython3 scripts/run.py --input data.csv\n```\n\n";
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t skills = 2000;
  int runs = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--skills") skills = std::stoul(argv[i + 1]);
    else if (a == "--runs") runs = std::stoi(argv[i + 1]);
  }
  fs::path corpus = fs::path(WEFT_SOURCE_ROOT) / "tests" / "security" / "corpus";
  std::vector<std::pair<std::string, std::string>> templates;  // relative path in a skill, text
  std::vector<std::vector<std::pair<std::string, std::string>>> by_skill;
  for (auto kind : {"malicious", "benign"})
    for (auto& d : fs::directory_iterator(corpus / kind)) {
      std::vector<std::pair<std::string, std::string>> files;
      for (auto& f : fs::recursive_directory_iterator(d.path()))
        if (!f.is_symlink() && f.is_regular_file())
          files.emplace_back(fs::relative(f.path(), d.path()).string(), slurp(f.path()));
      by_skill.push_back(std::move(files));
    }
  std::sort(by_skill.begin(), by_skill.end());

  auto root = fs::temp_directory_path() / fmt::format("weft-bench-scan-{}", ::getpid());
  std::mt19937 rng(42);
  std::uint64_t made_files = 0, made_bytes = 0;
  for (std::size_t i = 0; i < skills; ++i) {
    auto& t = by_skill[i % by_skill.size()];
    auto dir = root / fmt::format("skill-{:05}", i);
    for (auto& [rel, text] : t) {
      auto p = dir / rel;
      fs::create_directories(p.parent_path());
      std::string body = text;
      if (rel == "SKILL.md") body += prose(rng, 1500);
      std::ofstream(p, std::ios::binary) << body;
      ++made_files, made_bytes += body.size();
    }
    // A reference document and a helper script in every skill; a large reference in one of ten.
    std::string ref = "# Reference\n\n" + prose(rng, i % 10 == 0 ? 200000 : 4000);
    std::string script = "#!/bin/sh\nset -eu\n" + std::string("echo \"step\"\n") + "python3 \"$(dirname \"$0\")/run.py\" \"$@\"\n";
    fs::create_directories(dir / "references");
    fs::create_directories(dir / "scripts");
    std::ofstream(dir / "references" / "guide.md", std::ios::binary) << ref;
    std::ofstream(dir / "scripts" / "helper.sh", std::ios::binary) << script;
    made_files += 2, made_bytes += ref.size() + script.size();
  }
  fmt::print("tree: {} skills, {} files, {:.1f} MB in {}\n", skills, made_files, made_bytes / 1e6, root.string());

  double best = 1e30;
  weft::scan::tree_report last;
  for (int r = 0; r < runs; ++r) {
    auto t0 = clk::now();
    last = weft::scan::scan_paths({root.string()});
    best = std::min(best, std::chrono::duration<double>(clk::now() - t0).count());
  }
  std::size_t high = 0;
  for (auto& f : last.findings) high += f.r->sev >= weft::scan::severity::high;
  fmt::print("tree scan (best of {}): {:.3f} s, {} files read, {:.1f} MB: {:.0f} files/s, {:.1f} MB/s; {} findings ({} at >= high)\n",
             runs, best, last.files, last.bytes / 1e6, last.files / best, last.bytes / 1e6 / best, last.findings.size(), high);

  // The content rules alone over one 4 MB Markdown file (the per-file limit).
  std::string big = prose(rng, 4u << 20);
  best = 1e30;
  for (int r = 0; r < runs; ++r) {
    auto t0 = clk::now();
    auto f = weft::scan::scan_text("references/big.md", big);
    best = std::min(best, std::chrono::duration<double>(clk::now() - t0).count());
  }
  fmt::print("content rules, one {:.1f} MB Markdown file (best of {}): {:.3f} s = {:.1f} MB/s\n", big.size() / 1e6, runs, best,
             big.size() / 1e6 / best);
  fs::remove_all(root);
  return 0;
}
