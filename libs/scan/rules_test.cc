// The rule table's own tests: every id unique and well formed, every pattern accepted by
// RE2, and every rule with a sample it must flag and a look-alike it must not — from the
// table (content and configuration rules) or from the cases below (files and permissions).
#include <doctest/doctest.h>

#include <re2/re2.h>

#include <set>

#include <weft/scan/audit.hh>
#include <weft/scan/rules.hh>
#include <weft/scan/scanner.hh>

using namespace weft::scan;

namespace {

bool flags(const std::vector<finding>& f, std::string_view id) {
  for (auto& x : f)
    if (x.r->id == id) return true;
  return false;
}

std::vector<finding> run_sample(const rule& r, std::string_view text) {
  if (r.fam == family::config) return audit_config_text(text, "clawft.toml");
  return scan_text(r.sample_file, text);
}

}  // namespace

// Rules whose samples are folders or homes rather than text: each has a positive and a
// negative case in tree_test.cc (SKL-*), audit_test.cc (FS-*) or runtime_test.cc (RT-*), named after the rule. A
// rule without samples that is not listed here fails "every rule has a positive and a
// negative case".
const std::set<std::string_view> tree_tested = {"SKL-070", "SKL-071", "SKL-072", "SKL-073", "SKL-074", "SKL-075",
                                                "SKL-076", "SKL-078", "FS-001",  "FS-002",  "FS-003",  "FS-004",
                                                "FS-005",  "FS-006",  "FS-007",  "FS-008",  "FS-009",
                                                // tests/integration/plugins/plugin_ctl_test.cc: needs a built module
                                                "SKL-079",
                                                // runtime_test.cc (tests/security): crafted weftd status
                                                "RT-001",  "RT-002",  "RT-003",  "RT-004",  "RT-005"};

TEST_CASE("rule ids are unique, well formed and in order") {
  std::set<std::string_view> seen;
  std::string_view prev;
  for (auto& r : rules()) {
    CAPTURE(r.id);
    CHECK(seen.insert(r.id).second);
    CHECK(RE2::FullMatch(std::string(r.id), R"((SKL|CFG|FS|RT)-\d{3})"));
    CHECK(!r.title.empty());
    CHECK(!r.matches.empty());
    CHECK(!r.remediation.empty());
    if (!prev.empty() && prev.substr(0, 3) == r.id.substr(0, 3)) CHECK(prev < r.id);
    prev = r.id;
    CHECK(find_rule(r.id) == &r);
  }
  CHECK(rules().size() >= 60);
}

TEST_CASE("every pattern compiles") {
  RE2::Options o;
  o.set_case_sensitive(false);
  o.set_log_errors(false);
  for (auto& r : rules())
    for (auto p : {r.pattern, r.also, r.unless, r.section}) {
      if (p.empty()) continue;
      RE2 re(std::string(p), o);
      CAPTURE(r.id);
      CAPTURE(re.error());
      CHECK(re.ok());
    }
}

TEST_CASE("every rule has a positive and a negative case") {
  for (auto& r : rules()) {
    CAPTURE(r.id);
    if (r.positive.empty() || r.negative.empty()) {
      CHECK_MESSAGE(tree_tested.count(r.id), "rule has no samples and no folder/home case");
      continue;
    }
    auto pos = run_sample(r, r.positive);
    auto neg = run_sample(r, r.negative);
    CHECK_MESSAGE(flags(pos, r.id), "positive sample not flagged");
    CHECK_MESSAGE(!flags(neg, r.id), "negative sample flagged");
  }
}
