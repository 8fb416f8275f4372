#include "services/agent/tool_paths.hh"

#include <algorithm>
#include <array>
#include <cctype>
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

std::vector<std::string> paths_of(const nlohmann::json& args, const std::string& workspace) {
  std::vector<std::string> out;
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

/// "scheme://[user@]host[:port][/?#…]" → host, lower-cased; anything else: empty.
std::string host_of(std::string_view url) {
  auto sep = url.find("://");
  if (sep == std::string_view::npos || sep == 0) return {};
  for (char c : url.substr(0, sep))
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') return {};
  auto auth = url.substr(sep + 3);
  // A backslash ends the authority as a slash does (WHATWG, for http and https).
  auth = auth.substr(0, auth.find_first_of("/?#\\"));
  if (auto at = auth.rfind('@'); at != std::string_view::npos) auth = auth.substr(at + 1);
  std::string_view host;
  if (!auth.empty() && auth.front() == '[') {
    auto close = auth.find(']');
    if (close == std::string_view::npos) return {};
    host = auth.substr(1, close - 1);
  } else {
    host = auth.substr(0, auth.find(':'));
  }
  while (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (host.empty()) return {};
  std::string out;
  out.reserve(std::min(host.size(), max_tool_host_bytes));
  for (char c : host.substr(0, max_tool_host_bytes)) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return {};
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

std::vector<std::string> hosts_of(const nlohmann::json& args) {
  std::vector<std::string> out;
  if (!args.is_object()) return out;
  auto add = [&](const nlohmann::json& v) {
    if (out.size() == max_tool_hosts || !v.is_string()) return;
    auto h = host_of(v.get_ref<const std::string&>());
    if (!h.empty() && std::find(out.begin(), out.end(), h) == out.end()) out.push_back(std::move(h));
  };
  for (auto& [key, value] : args.items()) {
    if (out.size() == max_tool_hosts) break;
    std::string_view k = key;
    if (k == "url" || (k.size() > 4 && k.substr(k.size() - 4) == "_url")) add(value);
    else if (k == "urls" && value.is_array())
      for (auto& v : value) add(v);
  }
  return out;
}

}  // namespace

std::vector<std::string> tool_paths(std::string_view arguments_json, const std::string& workspace) {
  return paths_of(nlohmann::json::parse(arguments_json, nullptr, /*allow_exceptions=*/false), workspace);
}

std::vector<std::string> tool_hosts(std::string_view arguments_json) {
  return hosts_of(nlohmann::json::parse(arguments_json, nullptr, /*allow_exceptions=*/false));
}

tool_names names_of(std::string_view arguments_json, const std::string& workspace) {
  auto args = nlohmann::json::parse(arguments_json, nullptr, /*allow_exceptions=*/false);
  tool_names n{paths_of(args, workspace), hosts_of(args), {}};
  if (args.is_object())
    if (auto it = args.find("command"); it != args.end() && it->is_string())
      n.commands = shell_commands(it->get_ref<const std::string&>());
  return n;
}

std::vector<std::string> shell_commands(std::string_view command) {
  // Words that put the command after them: skipped with their options ("sudo -u x bash").
  static constexpr std::array<std::string_view, 21> wrappers = {
      "sudo", "doas",  "env",  "exec", "nohup", "time", "nice", "command", "builtin", "xargs", "if",
      "then", "else", "elif", "do",   "while", "until", "!",   "{",       "fi",      "done"};
  std::vector<std::string> out;
  std::string word;
  bool in_word = false, expecting = true, after_wrapper = false;
  char quote = 0;
  auto finish = [&] {
    if (!in_word) return;
    in_word = false;
    if (expecting && out.size() < max_tool_commands) {
      auto eq = word.find('=');
      bool assignment = eq != std::string::npos && eq > 0 &&
                        !std::isdigit(static_cast<unsigned char>(word[0])) &&
                        std::all_of(word.begin(), word.begin() + static_cast<std::ptrdiff_t>(eq),
                                    [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
      bool option = after_wrapper && (word.front() == '-' || std::all_of(word.begin(), word.end(), [](char c) {
                                        return std::isdigit(static_cast<unsigned char>(c));
                                      }));
      bool redirect = word.find_first_of("<>") != std::string::npos;
      auto base = std::string_view(word).substr(word.rfind('/') == std::string::npos ? 0 : word.rfind('/') + 1);
      if (assignment || option || redirect || base.empty()) {
      } else if (std::find(wrappers.begin(), wrappers.end(), base) != wrappers.end()) {
        after_wrapper = true;
      } else {
        std::string w(base.substr(0, max_tool_command_bytes));
        if (std::find(out.begin(), out.end(), w) == out.end()) out.push_back(std::move(w));
        expecting = after_wrapper = false;
      }
    }
    word.clear();
  };
  for (std::size_t i = 0; i < command.size(); ++i) {
    char c = command[i];
    if (quote) {
      if (c == quote) quote = 0;
      else if (word.size() < 256) word.push_back(c);
      continue;
    }
    switch (c) {
      case '\'':
      case '"':
        quote = c;
        in_word = true;
        break;
      case '\\':
        if (i + 1 < command.size() && word.size() < 256) word.push_back(command[++i]);
        in_word = true;
        break;
      case '&':
        // Part of a redirection ("2>&1", "&>file"), not a separator.
        if ((!word.empty() && (word.back() == '>' || word.back() == '<')) ||
            (i + 1 < command.size() && command[i + 1] == '>')) {
          word.push_back(c);
          in_word = true;
          break;
        }
        finish();
        expecting = true, after_wrapper = false;
        break;
      case '(':
        if (!word.empty() && word.back() == '$') word.pop_back();  // $( … )
        if (word.empty()) in_word = false;
        [[fallthrough]];
      case '|':
      case ';':
      case '\n':
      case ')':
      case '`':
        finish();
        expecting = true, after_wrapper = false;
        break;
      case ' ':
      case '\t':
      case '\r':
        finish();
        break;
      default:
        if (word.size() < 256) word.push_back(c);
        in_word = true;
    }
  }
  finish();
  return out;
}

}  // namespace weft::agent
