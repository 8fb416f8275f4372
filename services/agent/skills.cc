#include "skills.hh"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace weft::agent {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t max_skill_bytes = 50 * 1024;

std::string_view trim(std::string_view s) {
  auto b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

std::size_t indent_of(std::string_view s) {
  std::size_t n = 0;
  while (n < s.size() && (s[n] == ' ' || s[n] == '\t')) ++n;
  return n;
}

/// A scalar as written: quotes removed (with \" \\ \n escapes in double quotes), trailing
/// " # comment" removed from plain values.
result<std::string> scalar(std::string_view v, std::size_t line) {
  v = trim(v);
  if (v.empty()) return std::string();
  if (v.front() == '"') {
    std::string out;
    for (std::size_t i = 1; i < v.size(); ++i) {
      char c = v[i];
      if (c == '"') {
        if (!trim(v.substr(i + 1)).empty() && trim(v.substr(i + 1)).front() != '#')
          return fail(errc::malformed, "line {}: text after the closing quote", line);
        return out;
      }
      if (c == '\\' && i + 1 < v.size()) {
        char n = v[++i];
        out += n == 'n' ? '\n' : n == 't' ? '\t' : n;
        continue;
      }
      out += c;
    }
    return fail(errc::malformed, "line {}: unterminated double-quoted string", line);
  }
  if (v.front() == '\'') {
    std::string out;
    for (std::size_t i = 1; i < v.size(); ++i) {
      if (v[i] == '\'') {
        if (i + 1 < v.size() && v[i + 1] == '\'') {
          out += '\'';
          ++i;
          continue;
        }
        return out;
      }
      out += v[i];
    }
    return fail(errc::malformed, "line {}: unterminated single-quoted string", line);
  }
  if (auto hash = v.find(" #"); hash != std::string_view::npos) v = trim(v.substr(0, hash));
  return std::string(v);
}

result<std::vector<std::string>> flow_list(std::string_view v, std::size_t line) {
  v = trim(v);
  if (v.size() < 2 || v.back() != ']') return fail(errc::malformed, "line {}: unterminated '[' list", line);
  v = v.substr(1, v.size() - 2);
  std::vector<std::string> out;
  std::size_t start = 0;
  bool quoted = false;
  char q = 0;
  for (std::size_t i = 0; i <= v.size(); ++i) {
    if (i < v.size() && (v[i] == '"' || v[i] == '\'')) {
      if (!quoted) {
        quoted = true;
        q = v[i];
      } else if (v[i] == q) {
        quoted = false;
      }
    }
    if (i == v.size() || (v[i] == ',' && !quoted)) {
      auto item = trim(v.substr(start, i - start));
      if (!item.empty()) {
        auto s = scalar(item, line);
        if (!s) return s.take_error();
        out.push_back(std::move(*s));
      }
      start = i + 1;
    }
  }
  return out;
}

bool truthy(const std::string& s) { return s == "true" || s == "yes" || s == "on" || s == "True"; }

std::string join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (auto& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

std::string as_text(const fm_value& v) {
  if (v.k == fm_value::kind::list) return join(v.list, " ");
  if (v.k == fm_value::kind::map) {
    std::string out;
    for (auto& [k, x] : v.map) out += (out.empty() ? "" : ", ") + k + ": " + x;
    return out;
  }
  return v.scalar;
}

std::vector<std::string> as_list(const fm_value& v) {
  if (v.k == fm_value::kind::list) return v.list;
  // allowed-tools is space-delimited in the AgentSkills spec.
  std::vector<std::string> out;
  std::istringstream in(v.scalar);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

}  // namespace

result<frontmatter> parse_frontmatter(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t pos = 0;
  if (text.substr(0, 3) == "\xEF\xBB\xBF") pos = 3;  // BOM
  std::size_t body_start = std::string_view::npos;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    auto end = nl == std::string_view::npos ? text.size() : nl;
    auto line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    if (lines.empty() && trim(line) != "---")
      return fail(errc::malformed, "line 1: SKILL.md must start with a '---' frontmatter line");
    lines.push_back(line);
    if (lines.size() > 1 && trim(line) == "---") {
      body_start = pos;
      break;
    }
  }
  if (body_start == std::string_view::npos)
    return fail(errc::malformed, "the frontmatter has no closing '---' line");

  frontmatter fm;
  fm.body = std::string(text.substr(body_start));
  // lines[0] is the opening '---', lines.back() the closing one.
  std::size_t n = lines.size() - 1;
  for (std::size_t i = 1; i < n;) {
    auto line = lines[i];
    auto line_no = i + 1;
    auto t = trim(line);
    if (t.empty() || t.front() == '#') {
      ++i;
      continue;
    }
    if (indent_of(line) != 0) return fail(errc::malformed, "line {}: unexpected indentation", line_no);
    auto colon = t.find(':');
    if (colon == std::string_view::npos || colon == 0)
      return fail(errc::malformed, "line {}: expected 'key: value'", line_no);
    std::string key(trim(t.substr(0, colon)));
    auto rest = trim(t.substr(colon + 1));
    if (fm.fields.count(key)) return fail(errc::malformed, "line {}: '{}' appears twice", line_no, key);
    fm_value v;
    ++i;
    if (rest == "|" || rest == ">" || rest == "|-" || rest == ">-") {
      bool fold = rest.front() == '>';
      std::vector<std::string> block;
      while (i < n && (trim(lines[i]).empty() || indent_of(lines[i]) > 0)) block.emplace_back(trim(lines[i++]));
      while (!block.empty() && block.back().empty()) block.pop_back();
      v.scalar = join(block, fold ? " " : "\n");
    } else if (!rest.empty() && rest.front() == '[') {
      auto l = flow_list(rest, line_no);
      if (!l) return l.take_error();
      v.k = fm_value::kind::list;
      v.list = std::move(*l);
    } else if (rest.empty()) {
      // An indented list or map follows (or nothing: an empty value).
      while (i < n && (trim(lines[i]).empty() || indent_of(lines[i]) > 0)) {
        auto item = trim(lines[i]);
        auto item_no = i + 1;
        ++i;
        if (item.empty() || item.front() == '#') continue;
        if (item.front() == '-') {
          if (v.k == fm_value::kind::map) return fail(errc::malformed, "line {}: list item inside a map", item_no);
          v.k = fm_value::kind::list;
          auto s = scalar(item.substr(1), item_no);
          if (!s) return s.take_error();
          v.list.push_back(std::move(*s));
          continue;
        }
        auto c = item.find(':');
        if (c == std::string_view::npos || c == 0)
          return fail(errc::malformed, "line {}: expected '- item' or 'key: value'", item_no);
        if (v.k == fm_value::kind::list) return fail(errc::malformed, "line {}: map entry inside a list", item_no);
        v.k = fm_value::kind::map;
        // Deeper nesting (metadata.openclaw.requires …) is kept as its raw text.
        auto s = trim(item.substr(c + 1)).empty() ? result<std::string>(std::string()) : scalar(item.substr(c + 1), item_no);
        if (!s) return s.take_error();
        v.map[std::string(trim(item.substr(0, c)))] = std::move(*s);
      }
    } else {
      auto s = scalar(rest, line_no);
      if (!s) return s.take_error();
      v.scalar = std::move(*s);
    }
    fm.fields.emplace(std::move(key), std::move(v));
  }
  return fm;
}

result<skill> make_skill(const frontmatter& fm, std::string path, std::string origin) {
  skill s;
  s.path = std::move(path);
  s.origin = std::move(origin);
  auto get = [&](std::string_view k) -> const fm_value* {
    auto it = fm.fields.find(std::string(k));
    return it == fm.fields.end() ? nullptr : &it->second;
  };
  auto* name = get("name");
  auto* desc = get("description");
  if (!name || name->k != fm_value::kind::scalar || name->scalar.empty())
    return fail(errc::malformed, "'name' is missing");
  if (!desc || desc->k != fm_value::kind::scalar || desc->scalar.empty())
    return fail(errc::malformed, "'description' is missing");
  s.name = name->scalar;
  bool ok = s.name.size() <= 64 && s.name.front() != '-' && s.name.back() != '-' &&
            s.name.find("--") == std::string::npos;
  for (char c : s.name) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
  if (!ok)
    return fail(errc::malformed, "name '{}' must be 1–64 of a-z, 0-9 and '-' (no leading, trailing or double '-')",
                s.name);
  if (desc->scalar.size() > 1024) return fail(errc::malformed, "'description' is longer than 1024 characters");
  s.description = desc->scalar;
  for (auto& [k, v] : fm.fields) {
    if (k == "name" || k == "description") continue;
    if (k == "version") s.version = as_text(v);
    else if (k == "license") s.license = as_text(v);
    else if (k == "compatibility") s.compatibility = as_text(v);
    else if (k == "argument-hint" || k == "argument_hint") s.argument_hint = as_text(v);
    else if (k == "allowed-tools" || k == "allowed_tools") s.allowed_tools = as_list(v);
    else if (k == "variables") s.variables = as_list(v);
    else if (k == "user-invocable") s.user_invocable = truthy(as_text(v));
    else if (k == "disable-model-invocation") s.disable_model_invocation = truthy(as_text(v));
    else if (k == "metadata" && v.k == fm_value::kind::map)
      for (auto& [mk, mv] : v.map) s.metadata[mk] = mv;
    else s.metadata[k] = as_text(v);  // every other key is kept (OpenClaw keys survive)
  }
  return s;
}

namespace {

result<std::string> read_capped(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return fail(errc::io, "Failed to read '{}'", path);
  std::string text(max_skill_bytes + 1, '\0');
  f.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(f.gcount()));
  if (text.size() > max_skill_bytes) return fail(errc::malformed, "larger than {} bytes", max_skill_bytes);
  return text;
}

}  // namespace

std::vector<skill> discover_skills(const std::vector<skill_dir>& dirs, std::vector<std::string>& warnings) {
  std::map<std::string, skill> by_name;
  for (auto& d : dirs) {
    std::error_code ec;
    if (d.path.empty() || !fs::is_directory(d.path, ec)) continue;
    std::vector<fs::path> folders;
    for (auto it = fs::directory_iterator(d.path, ec); !ec && it != fs::directory_iterator(); it.increment(ec))
      if (it->is_directory(ec)) folders.push_back(it->path());
    std::sort(folders.begin(), folders.end());
    for (auto& folder : folders) {
      auto file = (folder / "SKILL.md").string();
      if (!fs::is_regular_file(file, ec)) continue;
      auto text = read_capped(file);
      if (!text) {
        warnings.push_back(fmt::format("Failed to load skill '{}': {}, skipping it.", file, text.err().message));
        continue;
      }
      auto fm = parse_frontmatter(*text);
      if (!fm) {
        warnings.push_back(fmt::format("Failed to load skill '{}': {}, skipping it.", file, fm.err().message));
        continue;
      }
      auto s = make_skill(*fm, file, d.origin);
      if (!s) {
        warnings.push_back(fmt::format("Failed to load skill '{}': {}, skipping it.", file, s.err().message));
        continue;
      }
      auto name = s->name;
      by_name.insert_or_assign(name, std::move(*s));
    }
  }
  std::vector<skill> out;
  for (auto& [n, s] : by_name) out.push_back(std::move(s));
  return out;
}

result<std::string> load_skill_body(const skill& s) {
  auto text = read_capped(s.path);
  if (!text) return text.take_error();
  auto fm = parse_frontmatter(*text);
  if (!fm) return fm.take_error();
  auto body = std::move(fm->body);
  auto base = fs::path(s.path).parent_path().string();
  for (std::size_t p = 0; (p = body.find("{baseDir}", p)) != std::string::npos; p += base.size())
    body.replace(p, 9, base);
  return body;
}

std::string skills_prompt(const std::vector<skill>& skills) {
  std::string items;
  auto esc = [](const std::string& s) {
    std::string o;
    for (char c : s) {
      if (c == '<') o += "&lt;";
      else if (c == '>') o += "&gt;";
      else if (c == '&') o += "&amp;";
      else o += c;
    }
    return o;
  };
  for (auto& s : skills) {
    if (s.disable_model_invocation) continue;
    items += fmt::format("<skill><name>{}</name><description>{}</description></skill>\n", esc(s.name),
                         esc(s.description));
  }
  if (items.empty()) return {};
  return "# Skills\n\nThese skills are available. When one fits the task, call the load_skill tool with its "
         "name to read its instructions, then follow them.\n\n<available_skills>\n" +
         items + "</available_skills>";
}

std::vector<skill_dir> skill_dirs_of(const std::string& home, const std::string& workspace) {
  const char* builtin = std::getenv("WEFT_SKILLS_DIR");
  return {{builtin ? builtin : "", "built-in"}, {home + "/skills", "shared"}, {workspace + "/skills", "workspace"}};
}

}  // namespace weft::agent
