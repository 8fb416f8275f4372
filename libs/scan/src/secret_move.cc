// --fix for inline secrets: find them with the config audit (the same paths its findings
// name), replace each literal with libs/service's replace_string_value (which checks that
// nothing else changed), and append NAME='value' lines to the env file beside the config.
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

#include <weft/base/io.hh>
#include <weft/scan/audit.hh>
#include <weft/scan/secret_move.hh>
#include <weft/service/config_edit.hh>

namespace weft::scan {

namespace fs = std::filesystem;

namespace {

std::optional<std::string> slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// NAME → value of an env file's NAME=value, NAME='value', NAME="value" and `export` lines.
std::map<std::string, std::string> env_vars(std::string_view text) {
  std::map<std::string, std::string> out;
  std::istringstream in{std::string(text)};
  for (std::string line; std::getline(in, line);) {
    auto a = line.find_first_not_of(" \t");
    if (a == std::string::npos || line[a] == '#') continue;
    line = line.substr(a);
    if (line.rfind("export ", 0) == 0) line = line.substr(7);
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    auto v = line.substr(eq + 1);
    while (!v.empty() && (v.back() == '\r' || v.back() == ' ')) v.pop_back();
    if (v.size() >= 2 && (v[0] == '\'' || v[0] == '"') && v.back() == v[0]) v = v.substr(1, v.size() - 2);
    out[line.substr(0, eq)] = v;
  }
  return out;
}

std::string var_name(const std::vector<std::string>& path) {
  std::string v = "WEFT_SECRET";
  for (auto& k : path) {
    v += '_';
    for (char c : k) v += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : '_';
  }
  return v;
}

std::string line_at(std::string_view text, std::uint32_t line) {
  std::size_t pos = 0;
  for (std::uint32_t l = 1; l < line && pos != std::string_view::npos; ++l) {
    pos = text.find('\n', pos);
    if (pos != std::string_view::npos) ++pos;
  }
  if (pos == std::string_view::npos || pos > text.size()) return {};
  auto e = text.find('\n', pos);
  return std::string(text.substr(pos, e == std::string_view::npos ? std::string_view::npos : e - pos));
}

/// The old line with the part the edit replaced (the literal) shown masked.
std::string masked_line(const std::string& before, const std::string& after, const std::string& value) {
  std::size_t p = 0;
  while (p < before.size() && p < after.size() && before[p] == after[p]) ++p;
  std::size_t s = 0;
  while (s < before.size() - p && s < after.size() - p && before[before.size() - 1 - s] == after[after.size() - 1 - s]) ++s;
  // The literal's quotes may be shared with the new text: keep them, mask what is inside.
  auto mid = before.substr(p, before.size() - p - s);
  bool quoted = !mid.empty() && (mid.front() == '"' || mid.front() == '\'');
  return before.substr(0, p) + (quoted ? std::string(1, mid.front()) : "") + mask(value) +
         (quoted ? std::string(1, mid.back()) : "") + before.substr(before.size() - s);
}

/// The string at `path` as the loader reads it (escapes decoded).
std::optional<std::string> string_at(std::string_view text, const std::vector<std::string>& path) {
  toml::table root;
#if TOML_EXCEPTIONS
  try {
    root = toml::parse(text);
  } catch (const toml::parse_error&) {
    return std::nullopt;
  }
#else
  auto parsed = toml::parse(text);
  if (!parsed) return std::nullopt;
  root = std::move(parsed).table();
#endif
  toml::node* n = &root;
  for (auto& k : path) {
    auto* t = n->as_table();
    if (!t || !(n = t->get(k))) return std::nullopt;
  }
  if (!n->is_string()) return std::nullopt;
  return n->as_string()->get();
}

std::size_t count_lines(std::string_view t) {
  std::size_t n = 0;
  for (char c : t) n += c == '\n';
  if (!t.empty() && t.back() != '\n') ++n;
  return n;
}

}  // namespace

std::string env_file_for(const std::string& config_path) {
  return (fs::path(config_path).parent_path() / "weft.env").string();
}

std::string mask(std::string_view secret) {
  return secret.size() >= 12 ? std::string(secret.substr(0, 3)) + "…" : std::string("…");
}

secret_plan plan_secret_moves(const std::string& config_path) {
  secret_plan p;
  std::error_code ec;
  auto resolved = fs::canonical(config_path, ec);
  p.config = ec ? config_path : resolved.string();
  p.env_file = env_file_for(p.config);
  auto text = slurp(p.config);
  if (!text) {
    p.errors.push_back(fmt::format("Failed to read config '{}': {}", p.config, std::strerror(errno)));
    return p;
  }
  struct stat st {};
  if (::stat(p.config.c_str(), &st) == 0) p.config_mode = st.st_mode & 07777;
  std::string env;
  if (fs::exists(p.env_file, ec)) {
    auto e = slurp(p.env_file);
    if (!e) {
      p.errors.push_back(fmt::format("Failed to read '{}': {}", p.env_file, std::strerror(errno)));
      return p;
    }
    env = *e;
  }
  auto existing = env_vars(env);
  std::set<std::string> taken;
  std::string cur = *text, appended;
  std::size_t env_lines = count_lines(env);
  for (auto& s : find_inline_secrets(*text, p.config)) {
    std::string key;
    for (auto& k : s.path) key += (key.empty() ? "" : ".") + k;
    secret_move m{s.rule, key, s.line, var_name(s.path), false, {}};
    auto fail_one = [&](std::string_view why) {
      p.errors.push_back(fmt::format("Failed to move the secret at {}:{} ({}): {}; move it by hand", p.config, s.line, key, why));
    };
    auto secret_value = string_at(cur, s.path);
    if (!secret_value) {
      fail_one("it is not a string any more");
      continue;
    }
    auto& v = *secret_value;
    if (v.find_first_of("'\n\r") != std::string::npos ||
        std::any_of(v.begin(), v.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
      fail_one("the value holds a quote or a control character, which an environment file cannot hold as written");
      continue;
    }
    // Never change a variable the env file has: reuse it when it holds this value, else
    // take the next free name.
    for (int i = 2;; ++i) {
      auto it = existing.find(m.var);
      if (taken.count(m.var) == 0 && (it == existing.end() || it->second == v)) {
        m.reused = it != existing.end();
        break;
      }
      m.var = var_name(s.path) + "_" + std::to_string(i);
    }
    auto edited = service::replace_string_value(cur, s.path, "\"${" + m.var + "}\"");
    if (!edited) {
      fail_one(edited.err().message);
      continue;
    }
    taken.insert(m.var);
    auto before = line_at(cur, s.line), after = line_at(*edited, s.line);
    m.diff = fmt::format("--- {0}\n+++ {0}\n@@ -{1} +{1} @@\n-{2}\n+{3}\n", p.config, s.line, masked_line(before, after, v), after);
    if (!m.reused) {
      m.diff += fmt::format("--- {0}\n+++ {0}\n@@ -{1},0 +{2} @@\n+{3}='{4}'\n", p.env_file, env_lines, env_lines + 1, m.var, mask(v));
      appended += fmt::format("{}='{}'\n", m.var, v);
      ++env_lines;
    } else {
      m.diff += fmt::format("({} already holds {} with this value)\n", p.env_file, m.var);
    }
    cur = std::move(*edited);
    p.moves.push_back(std::move(m));
  }
  p.new_config = std::move(cur);
  if (!env.empty() && env.back() != '\n') env += '\n';
  p.new_env = env + appended;
  return p;
}

std::string apply(const secret_plan& p) {
  if (p.moves.empty()) return {};
  // The env file first: if the config write fails, the old config still holds the secrets
  // and the env file only has unused lines.
  if (auto w = write_file_atomic(p.env_file, p.new_env, 0600); !w)
    return fmt::format("Failed to write '{}': {}", p.env_file, w.err().message);
  if (auto w = write_file_atomic(p.config, p.new_config, p.config_mode); !w)
    return fmt::format("Failed to write config '{}': {}", p.config, w.err().message);
  return {};
}

}  // namespace weft::scan
