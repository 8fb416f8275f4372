#include <weft/skills/frontmatter.hh>

namespace weft::skills {

namespace {

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

std::string join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (auto& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
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

}  // namespace weft::skills
