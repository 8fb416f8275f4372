#pragma once
/// A test's private directory under the system's temp dir, removed with all it holds when
/// the test is done.

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

namespace weft::test {

struct temp_dir {
  std::filesystem::path path;
  explicit temp_dir(std::string_view prefix = "weft-test") {
    auto tmpl = (std::filesystem::temp_directory_path() / (std::string(prefix) + "-XXXXXX")).string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
};

}  // namespace weft::test
