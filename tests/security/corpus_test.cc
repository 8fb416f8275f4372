// The scanner over tests/security/corpus: malicious skills modelled on real incidents
// (ClawHavoc's fake prerequisites and paste-site one-liners, stealers reading keychains and
// browser profiles, clawhub#662's openclaw.json exfiltration, SOUL.md/MEMORY.md persistence,
// hidden Unicode, obfuscated payloads) and benign skills that look like them. Detection is
// "a finding at severity high or above"; the confusion matrix is printed.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>

#include <weft/scan/scanner.hh>

namespace fs = std::filesystem;
using namespace weft::scan;

namespace {

std::vector<fs::path> skills_in(const fs::path& dir) {
  std::vector<fs::path> out;
  for (auto& e : fs::directory_iterator(dir))
    if (e.is_directory()) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

std::string worst(const std::vector<finding>& f) {
  const finding* w = nullptr;
  for (auto& x : f)
    if (!w || x.r->sev > w->r->sev) w = &x;
  return w ? fmt::format("{} {} {}", to_string(w->r->sev), w->r->id, w->message.substr(0, 90)) : "no findings";
}

}  // namespace

TEST_CASE("corpus: detection of malicious skills and false alarms on benign ones") {
  fs::path corpus = fs::path(WEFT_SOURCE_ROOT) / "tests" / "security" / "corpus";
  auto mal = skills_in(corpus / "malicious");
  auto ben = skills_in(corpus / "benign");
  REQUIRE(mal.size() >= 40);
  REQUIRE(ben.size() >= 40);

  std::size_t tp = 0, fn = 0, fp = 0, tn = 0;
  std::vector<std::string> missed, false_alarms;
  for (auto& d : mal) {
    auto r = scan_paths({d.string()});
    CHECK_MESSAGE(r.errors.empty(), d.filename().string());
    if (any_at_or_above(r.findings, severity::high)) ++tp;
    else ++fn, missed.push_back(d.filename().string() + ": " + worst(r.findings));
  }
  for (auto& d : ben) {
    auto r = scan_paths({d.string()});
    CHECK_MESSAGE(r.errors.empty(), d.filename().string());
    if (any_at_or_above(r.findings, severity::high)) ++fp, false_alarms.push_back(d.filename().string() + ": " + worst(r.findings));
    else ++tn;
  }
  double detection = 100.0 * static_cast<double>(tp) / static_cast<double>(mal.size());
  double false_rate = 100.0 * static_cast<double>(fp) / static_cast<double>(ben.size());
  std::cout << fmt::format("\nconfusion matrix (flagged = a finding at severity >= high)\n"
                           "                 flagged  not flagged\n"
                           "  malicious {:>3}  {:>7}  {:>11}   detection {:.1f} %\n"
                           "  benign    {:>3}  {:>7}  {:>11}   false alarms {:.1f} %\n",
                           mal.size(), tp, fn, detection, ben.size(), fp, tn, false_rate);
  for (auto& m : missed) std::cout << "  missed: " << m << "\n";
  for (auto& f : false_alarms) std::cout << "  false alarm: " << f << "\n";
  CHECK(detection >= 95.0);
  CHECK(false_rate <= 5.0);
}
