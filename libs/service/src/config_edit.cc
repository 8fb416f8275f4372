#include <weft/service/config_edit.hh>

#include <algorithm>
#include <optional>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <toml++/toml.h>

namespace weft::service {

namespace {

/// The root table of `text`, or the parser's complaint.
result<toml::table> parse_toml(std::string_view text) {
#if TOML_EXCEPTIONS
  // toml++ reports syntax errors by throwing where Debian builds it that way: this is the
  // boundary where that becomes a result.
  try {
    return toml::parse(text);
  } catch (const toml::parse_error& e) {
    return fail(errc::invalid_argument, "{}", e.description());
  }
#else
  auto parsed = toml::parse(text);
  if (!parsed) return fail(errc::invalid_argument, "{}", parsed.error().description());
  return std::move(parsed).table();
#endif
}

bool defines_server(const toml::table& root, std::string_view name) {
  auto* servers = root.at_path("tools.mcp_servers").as_table();
  return servers && servers->contains(name);
}

/// Where the comment and blank lines right before the table header at `header` begin (they
/// belong to that table), not before `floor`.
std::size_t lead_in_start(std::string_view text, std::size_t floor, std::size_t header) {
  auto begin = header;
  while (begin > floor) {
    auto prev_end = begin - 1;  // the '\n' ending the previous line
    auto prev_start = text.rfind('\n', prev_end == 0 ? 0 : prev_end - 1);
    prev_start = prev_start == std::string_view::npos || prev_end == 0 ? 0 : prev_start + 1;
    if (prev_start < floor) break;
    auto line = text.substr(prev_start, prev_end - prev_start);
    auto a = line.find_first_not_of(" \t\r");
    if (a != std::string_view::npos && line[a] != '#') break;
    begin = prev_start;
  }
  return begin;
}

/// Where `[tools.mcp_servers.<name>]` starts and ends in `text` (the header line up to the
/// next table header), when it is written as a table of its own.
std::optional<std::pair<std::size_t, std::size_t>> find_table(std::string_view text, std::string_view name) {
  auto header_of = [](std::string_view line) {
    auto a = line.find_first_not_of(" \t");
    if (a == std::string_view::npos || line[a] != '[') return std::string();
    auto b = line.find(']', a);
    if (b == std::string_view::npos) return std::string();
    std::string h;
    for (char c : line.substr(a + 1, b - a - 1))
      if (c != ' ' && c != '\t' && c != '"') h += c;
    return h;
  };
  std::string want = fmt::format("tools.mcp_servers.{}", name);
  std::optional<std::size_t> start;
  for (std::size_t pos = 0; pos < text.size();) {
    auto nl = text.find('\n', pos);
    auto end = nl == std::string_view::npos ? text.size() : nl + 1;
    auto h = header_of(text.substr(pos, end - pos));
    if (!h.empty()) {
      if (start) return std::pair{*start, lead_in_start(text, *start, pos)};
      // A sub-table of the server ([tools.mcp_servers.<name>.x]) ends it too; the check of
      // the result then refuses the edit.
      if (h == want) start = pos;
    }
    pos = end;
  }
  if (start) return std::pair{*start, text.size()};
  return std::nullopt;
}

}  // namespace

std::string toml_string(std::string_view s) {
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '"') out += "\\\"";
    else if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c < 0x20 || c == 0x7f) out += fmt::format("\\u{:04X}", c);
    else if (c == '$' && s.substr(i + 1, 1) == "{") out += "$$";
    else out += static_cast<char>(c);
  }
  return out + "\"";
}

std::string toml_key(std::string_view k) {
  bool bare = !k.empty() && std::all_of(k.begin(), k.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
  return bare ? std::string(k) : toml_string(k);
}

std::string toml_inline_table(const std::map<std::string, std::string>& m) {
  std::vector<std::string> items;
  for (auto& [k, v] : m) items.push_back(toml_key(k) + " = " + toml_string(v));
  return "{ " + fmt::format("{}", fmt::join(items, ", ")) + " }";
}

result<std::string> add_mcp_server_table(std::string_view text, std::string_view name, const mcp_server_entry& e) {
  auto root = parse_toml(text);
  if (!root) return fail(errc::invalid_argument, "the file is not TOML: {}", root.err().message);
  if (defines_server(*root, name)) return fail(errc::invalid_argument, "'{}' is already configured", name);
  std::string table = fmt::format("\n[tools.mcp_servers.{}]\n", toml_key(name));
  if (!e.url.empty()) {
    table += "url = " + toml_string(e.url) + "\n";
    if (!e.headers.empty()) table += "headers = " + toml_inline_table(e.headers) + "\n";
  } else {
    table += "command = " + toml_string(e.command) + "\n";
    if (!e.args.empty()) {
      std::vector<std::string> quoted;
      for (auto& a : e.args) quoted.push_back(toml_string(a));
      table += fmt::format("args = [{}]\n", fmt::join(quoted, ", "));
    }
    if (!e.env.empty()) table += "env = " + toml_inline_table(e.env) + "\n";
    if (!e.cwd.empty()) table += "cwd = " + toml_string(e.cwd) + "\n";
  }
  if (e.era != "auto") table += "era = " + toml_string(e.era) + "\n";
  if (!e.enabled) table += "enabled = false\n";
  std::string out(text);
  if (!out.empty() && out.back() != '\n') out += '\n';
  out += table;
  // [tools.mcp_servers] written elsewhere as an inline table or an array cannot take a
  // table of its own: the result does not parse, and the edit is refused.
  auto check = parse_toml(out);
  if (!check) return fail(errc::invalid_argument, "the file would not parse with the table added: {}",
                          check.err().message);
  if (!defines_server(*check, name))
    return fail(errc::invalid_argument, "the table added does not define '{}'", name);
  return out;
}

result<std::string> remove_mcp_server_table(std::string_view text, std::string_view name) {
  auto span = find_table(text, name);
  if (!span) return fail(errc::not_found, "no [tools.mcp_servers.{}] table of its own", name);
  std::string edited = std::string(text.substr(0, span->first)) + std::string(text.substr(span->second));
  // Drop the blank line `mcp add` put before the table.
  if (span->first >= 2 && edited.substr(span->first - 2, 2) == "\n\n") edited.erase(span->first - 1, 1);
  auto check = parse_toml(edited);
  if (!check || defines_server(*check, name))
    return fail(errc::invalid_argument, "its table has parts that cannot be cut from the rest");
  return edited;
}

namespace {

/// The node at `path`, through tables and inline tables.
toml::node* node_at(toml::table& root, const std::vector<std::string>& path) {
  toml::node* n = &root;
  for (auto& k : path) {
    auto* t = n->as_table();
    if (!t) return nullptr;
    n = t->get(k);
    if (!n) return nullptr;
  }
  return n;
}

/// The byte offset of toml++'s 1-based line and column (columns count code points).
std::optional<std::size_t> offset_of(std::string_view text, std::uint32_t line, std::uint32_t column) {
  std::size_t pos = 0;
  for (std::uint32_t l = 1; l < line; ++l) {
    pos = text.find('\n', pos);
    if (pos == std::string_view::npos) return std::nullopt;
    ++pos;
  }
  for (std::uint32_t c = 1; c < column; ++c) {
    if (pos >= text.size() || text[pos] == '\n') return std::nullopt;
    ++pos;
    while (pos < text.size() && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) ++pos;  // continuation bytes
  }
  return pos;
}

/// Where the one-line string literal starting at `begin` ends (one past its closing quote).
std::optional<std::size_t> literal_end(std::string_view text, std::size_t begin) {
  if (begin >= text.size()) return std::nullopt;
  char q = text[begin];
  if (q != '"' && q != '\'') return std::nullopt;
  if (text.substr(begin, 3) == std::string(3, q)) return std::nullopt;  // multi-line
  for (auto i = begin + 1; i < text.size() && text[i] != '\n'; ++i) {
    if (q == '"' && text[i] == '\\') {
      ++i;
      continue;
    }
    if (text[i] == q) return i + 1;
  }
  return std::nullopt;
}

}  // namespace

result<std::string> replace_string_value(std::string_view text, const std::vector<std::string>& path,
                                         std::string_view value_toml) {
  auto root = parse_toml(text);
  if (!root) return fail(errc::invalid_argument, "the file is not TOML: {}", root.err().message);
  auto dotted = fmt::format("{}", fmt::join(path, "."));
  auto* n = path.empty() ? nullptr : node_at(*root, path);
  if (!n || !n->is_string()) return fail(errc::not_found, "no string at {}", dotted);
  auto where = n->source().begin;
  auto begin = offset_of(text, where.line, where.column);
  auto end = begin ? literal_end(text, *begin) : std::nullopt;
  if (!end) return fail(errc::not_found, "{} is not a string on one line", dotted);
  std::string out = std::string(text.substr(0, *begin)) + std::string(value_toml) + std::string(text.substr(*end));
  // What the edit must give: the same document with only that value changed.
  auto edited = parse_toml(out);
  if (!edited) return fail(errc::invalid_argument, "the file would not parse after the edit: {}", edited.err().message);
  auto* changed = node_at(*edited, path);
  if (!changed || !changed->is_string())
    return fail(errc::invalid_argument, "the edit did not give a string at {}", dotted);
  std::vector<std::string> parent(path.begin(), path.end() - 1);
  auto* p = parent.empty() ? &*root : node_at(*root, parent)->as_table();
  p->insert_or_assign(path.back(), changed->as_string()->get());
  if (!(*root == *edited)) return fail(errc::invalid_argument, "the edit would change more than {}", dotted);
  return out;
}

}  // namespace weft::service
