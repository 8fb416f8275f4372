#include "services/agent/tool_paths.hh"

#include <algorithm>
#include <array>
#include <filesystem>

#include <nlohmann/json.hpp>

namespace weft::agent {

namespace {

bool names_a_file(std::string_view key) {
  static constexpr std::array<std::string_view, 11> keys = {"path", "file", "dir", "directory", "cwd", "from",
                                                            "to", "source", "destination", "src", "dst"};
  if (std::find(keys.begin(), keys.end(), key) != keys.end()) return true;
  for (std::string_view suffix : {"_path", "_file", "_dir"})
    if (key.size() > suffix.size() && key.substr(key.size() - suffix.size()) == suffix) return true;
  return false;
}

}  // namespace

std::vector<std::string> tool_paths(std::string_view arguments_json, const std::string& workspace) {
  std::vector<std::string> out;
  auto args = nlohmann::json::parse(arguments_json, nullptr, /*allow_exceptions=*/false);
  if (!args.is_object()) return out;
  for (auto& [key, value] : args.items()) {
    if (out.size() == max_tool_paths) break;
    if (!value.is_string() || !names_a_file(key)) continue;
    auto s = value.get<std::string>();
    if (s.empty() || s.find('\0') != std::string::npos) continue;
    if (s.rfind("http://", 0) == 0 || s.rfind("https://", 0) == 0) continue;  // a URL, not a file
    std::filesystem::path p(s);
    if (p.is_relative()) p = std::filesystem::path(workspace.empty() ? "/" : workspace) / p;
    auto norm = p.lexically_normal().string();
    if (norm.size() > 1 && norm.back() == '/') norm.pop_back();
    if (norm.size() > max_tool_path_bytes) norm.resize(max_tool_path_bytes);
    out.push_back(std::move(norm));
  }
  return out;
}

}  // namespace weft::agent
