#pragma once
/// Running a shell command in a test and taking its output (a real `git` to compare with).

#include <doctest/doctest.h>

#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

namespace weft::test {

/// `cmd` under /bin/sh; its stdout. Fails the test when it exits non-zero.
inline std::string sh(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p);
  char buf[4096];
  while (auto n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  REQUIRE_MESSAGE(::pclose(p) == 0, cmd);
  return out;
}

/// The non-empty lines of `s`.
inline std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) out.push_back(l);
  return out;
}

}  // namespace weft::test
