#include "code_index.hh"

#include <tree_sitter/api.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <regex.h>

#include <memory>
#include <set>

#include <fmt/format.h>

// The grammars of this build: weak references, null for a grammar that was not compiled in
// (third_party/grammars links the ones it has whole, so each present one is found).
extern "C" {
const TSLanguage* tree_sitter_c(void) __attribute__((weak));
const TSLanguage* tree_sitter_cpp(void) __attribute__((weak));
const TSLanguage* tree_sitter_python(void) __attribute__((weak));
const TSLanguage* tree_sitter_javascript(void) __attribute__((weak));
const TSLanguage* tree_sitter_typescript(void) __attribute__((weak));
const TSLanguage* tree_sitter_tsx(void) __attribute__((weak));
const TSLanguage* tree_sitter_rust(void) __attribute__((weak));
const TSLanguage* tree_sitter_go(void) __attribute__((weak));
}

namespace weft::tools::code {

namespace {

const std::array<language, 8> languages = {{
    {"c", tree_sitter_c},
    {"cpp", tree_sitter_cpp},
    {"python", tree_sitter_python},
    {"javascript", tree_sitter_javascript},
    {"typescript", tree_sitter_typescript},
    {"tsx", tree_sitter_tsx},
    {"rust", tree_sitter_rust},
    {"go", tree_sitter_go},
}};

struct extension {
  std::string_view ext, lang;
};
// .h is C++'s: its grammar reads C headers too, and C++ headers named .h are common.
constexpr std::array<extension, 21> extensions = {{
    {".c", "c"},     {".h", "cpp"},    {".cc", "cpp"},   {".cpp", "cpp"},        {".cxx", "cpp"},
    {".c++", "cpp"}, {".hh", "cpp"},   {".hpp", "cpp"},  {".hxx", "cpp"},        {".ipp", "cpp"},
    {".py", "python"}, {".pyi", "python"}, {".js", "javascript"}, {".mjs", "javascript"},
    {".cjs", "javascript"}, {".jsx", "javascript"}, {".ts", "typescript"}, {".mts", "typescript"},
    {".tsx", "tsx"}, {".rs", "rust"},  {".go", "go"},
}};

/// A parse may take this long (a generated file of megabytes parses in well under a second).
constexpr std::uint64_t parse_timeout_us = 10'000'000;
constexpr std::size_t max_capture_text = 200;

std::string_view text_of(const std::string& text, TSNode n) {
  auto s = ts_node_start_byte(n), e = ts_node_end_byte(n);
  if (s > text.size() || e > text.size() || e < s) return {};
  return std::string_view(text).substr(s, e - s);
}

location loc(TSPoint p) { return {p.row + 1, p.column + 1}; }

/// At most `max` bytes of `t`, not ending inside a UTF-8 sequence.
std::string_view utf8_prefix(std::string_view t, std::size_t max) {
  if (t.size() <= max) return t;
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(t[n]) & 0xC0) == 0x80) --n;
  return t.substr(0, n);
}

bool is(TSNode n, std::string_view type) { return !ts_node_is_null(n) && type == ts_node_type(n); }

TSNode field(TSNode n, const char* name) { return ts_node_child_by_field_name(n, name, std::strlen(name)); }

bool is_identifier_leaf(TSNode n) {
  if (!ts_node_is_named(n) || ts_node_child_count(n) != 0) return false;
  std::string_view t = ts_node_type(n);
  return t.size() >= 10 && t.substr(t.size() - 10) == "identifier";
}

/// The depth-first walk of a tree without recursion (a deeply nested file must not exhaust
/// the stack): calls `visit(node, depth)`; a false return skips the node's children.
template <class F>
void walk(TSNode root, F&& visit) {
  TSTreeCursor c = ts_tree_cursor_new(root);
  int depth = 0;
  for (;;) {
    TSNode n = ts_tree_cursor_current_node(&c);
    if (visit(n, depth) && ts_tree_cursor_goto_first_child(&c)) {
      ++depth;
      continue;
    }
    while (!ts_tree_cursor_goto_next_sibling(&c)) {
      if (depth == 0 || !ts_tree_cursor_goto_parent(&c)) {
        ts_tree_cursor_delete(&c);
        return;
      }
      --depth;
    }
  }
}

/// C and C++: the name inside a declarator (`*f(int)`, `Foo::bar(…) const`), and whether a
/// function declarator was on the way.
TSNode declarator_name(TSNode d, bool* function) {
  for (int i = 0; i < 64 && !ts_node_is_null(d); ++i) {
    std::string_view t = ts_node_type(d);
    if (t == "function_declarator") *function = true;
    TSNode inner = field(d, "declarator");
    if (ts_node_is_null(inner)) return d;
    d = inner;
  }
  return d;
}

bool type_class_like(std::string_view kind) {
  return kind == "class" || kind == "struct" || kind == "union" || kind == "impl" || kind == "trait" ||
         kind == "interface";
}

/// What an outline entry is made of.
struct entry {
  std::string_view kind;
  TSNode name;
  TSNode container{};     ///< overrides the enclosing entry's name (a Go receiver's type)
};

/// Whether `n` is an outline entry of `lang`, and what kind and name.
std::optional<entry> entry_of(std::string_view lang, TSNode n, std::string_view parent_kind) {
  std::string_view t = ts_node_type(n);
  bool in_type = type_class_like(parent_kind);
  auto named = [&](std::string_view kind, const char* f = "name") -> std::optional<entry> {
    TSNode name = field(n, f);
    if (ts_node_is_null(name)) return std::nullopt;
    return entry{kind, name};
  };
  if (lang == "c" || lang == "cpp") {
    if (t == "function_definition" || t == "declaration" || t == "field_declaration") {
      bool function = false;
      TSNode name = declarator_name(field(n, "declarator"), &function);
      if (!function || ts_node_is_null(name)) return std::nullopt;
      bool qualified = is(name, "qualified_identifier");
      return entry{in_type || qualified ? "method" : "function", name};
    }
    if (t == "struct_specifier" || t == "class_specifier" || t == "union_specifier" || t == "enum_specifier") {
      if (ts_node_is_null(field(n, "body"))) return std::nullopt;  // a use, not a definition
      return named(t == "struct_specifier" ? "struct" : t == "class_specifier" ? "class" : t == "union_specifier" ? "union" : "enum");
    }
    if (t == "namespace_definition") return named("namespace");
    if (t == "preproc_function_def" || t == "preproc_def") return named("macro");
    return std::nullopt;
  }
  if (lang == "python") {
    if (t == "function_definition") return named(in_type ? "method" : "function");
    if (t == "class_definition") return named("class");
    return std::nullopt;
  }
  if (lang == "javascript" || lang == "typescript" || lang == "tsx") {
    if (t == "function_declaration" || t == "generator_function_declaration" || t == "function_signature")
      return named("function");
    if (t == "class_declaration" || t == "abstract_class_declaration" || t == "class") return named("class");
    if (t == "method_definition" || t == "method_signature" || t == "abstract_method_signature") return named("method");
    if (t == "interface_declaration") return named("interface");
    if (t == "type_alias_declaration") return named("type");
    if (t == "enum_declaration") return named("enum");
    if (t == "internal_module" || t == "module") return named("namespace");
    if (t == "variable_declarator") {
      TSNode v = field(n, "value");
      if (is(v, "arrow_function") || is(v, "function_expression") || is(v, "function") ||
          is(v, "generator_function"))
        return named("function");
      if (is(v, "class")) return named("class");
    }
    return std::nullopt;
  }
  if (lang == "rust") {
    if (t == "function_item" || t == "function_signature_item") return named(in_type ? "method" : "function");
    if (t == "struct_item") return named("struct");
    if (t == "enum_item") return named("enum");
    if (t == "union_item") return named("union");
    if (t == "trait_item") return named("trait");
    if (t == "impl_item") return named("impl", "type");
    if (t == "mod_item") return named("module");
    if (t == "type_item") return named("type");
    if (t == "macro_definition") return named("macro");
    return std::nullopt;
  }
  if (lang == "go") {
    if (t == "function_declaration") return named("function");
    if (t == "method_declaration") {
      auto e = named("method");
      if (!e) return e;
      // The receiver's type, without the pointer: func (s *Server) Run() → Server.
      TSNode recv = field(n, "receiver");
      for (uint32_t i = 0; !ts_node_is_null(recv) && i < ts_node_named_child_count(recv); ++i) {
        TSNode ty = field(ts_node_named_child(recv, i), "type");
        while (is(ty, "pointer_type") || is(ty, "generic_type"))
          ty = is(ty, "pointer_type") ? ts_node_named_child(ty, 0) : field(ty, "type");
        if (!ts_node_is_null(ty)) {
          e->container = ty;
          break;
        }
      }
      return e;
    }
    if (t == "type_spec") {
      TSNode ty = field(n, "type");
      return named(is(ty, "struct_type") ? "struct" : is(ty, "interface_type") ? "interface" : "type");
    }
    if (t == "method_spec" || t == "method_elem") return named("method");
    return std::nullopt;
  }
  return std::nullopt;
}

/// The ranges of outline entries that may be a scope of their own (functions, methods).
bool is_scope_kind(std::string_view kind) { return kind == "function" || kind == "method"; }

}  // namespace

const language* language_named(std::string_view name) {
  for (auto& l : languages)
    if (l.name == name) return &l;
  return nullptr;
}

const language* language_for(std::string_view path) {
  auto slash = path.rfind('/');
  auto base = slash == std::string_view::npos ? path : path.substr(slash + 1);
  auto dot = base.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return nullptr;
  std::string ext(base.substr(dot));
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  if (base.substr(dot) == ".C") ext = ".cc";  // the old C++ convention
  for (auto& e : extensions)
    if (e.ext == ext) return language_named(e.lang);
  return nullptr;
}

std::string supported_summary() {
  std::string out;
  for (auto& l : languages) {
    if (!l.grammar) continue;
    std::string exts;
    for (auto& e : extensions)
      if (e.lang == l.name) exts += (exts.empty() ? "" : " ") + std::string(e.ext);
    out += fmt::format("{}{} ({})", out.empty() ? "" : ", ", l.name, exts);
  }
  return out.empty() ? "none: this build has no tree-sitter grammars (tools/fetch-grammars, then rebuild)" : out;
}

location location_of(std::string_view text, std::size_t offset) {
  offset = std::min(offset, text.size());
  auto before = text.substr(0, offset);
  auto nl = before.rfind('\n');
  auto line = static_cast<std::uint32_t>(std::count(before.begin(), before.end(), '\n')) + 1;
  auto col = static_cast<std::uint32_t>(nl == std::string_view::npos ? offset : offset - nl - 1) + 1;
  return {line, col};
}

result<parsed> parsed::parse(const language& lang, std::string text, std::string_view shown) {
  if (!lang.grammar)
    return fail(errc::unavailable,
                "Failed to parse '{}': the {} grammar is not compiled into this build (tools/fetch-grammars, then rebuild)",
                shown, lang.name);
  if (text.size() > UINT32_MAX / 2)
    return fail(errc::invalid_argument, "Failed to parse '{}': {} bytes is too large", shown, text.size());
  std::unique_ptr<TSParser, void (*)(TSParser*)> p(ts_parser_new(), ts_parser_delete);
  if (!ts_parser_set_language(p.get(), lang.grammar()))
    return fail(errc::unavailable, "Failed to parse '{}': the {} grammar's ABI {} is not one this tree-sitter takes",
                shown, lang.name, ts_language_version(lang.grammar()));
  ts_parser_set_timeout_micros(p.get(), parse_timeout_us);
  TSTree* tree = ts_parser_parse_string(p.get(), nullptr, text.data(), static_cast<std::uint32_t>(text.size()));
  if (!tree)
    return fail(errc::timeout, "Failed to parse '{}': tree-sitter gave up after {} s", shown, parse_timeout_us / 1'000'000);
  return parsed(&lang, std::move(text), tree);
}

parsed::parsed(parsed&& o) noexcept : _lang(o._lang), _text(std::move(o._text)), _tree(std::exchange(o._tree, nullptr)) {}
parsed& parsed::operator=(parsed&& o) noexcept {
  if (this != &o) {
    if (_tree) ts_tree_delete(_tree);
    _lang = o._lang;
    _text = std::move(o._text);
    _tree = std::exchange(o._tree, nullptr);
  }
  return *this;
}
parsed::~parsed() {
  if (_tree) ts_tree_delete(_tree);
}

std::uint32_t parsed::lines() const {
  auto n = static_cast<std::uint32_t>(std::count(_text.begin(), _text.end(), '\n'));
  return n + (!_text.empty() && _text.back() != '\n' ? 1 : 0);
}

std::vector<symbol> parsed::outline() const {
  std::vector<symbol> out;
  // The enclosing entries of the node being visited, by tree depth.
  struct open {
    int depth;
    std::size_t index;
  };
  std::vector<open> stack;
  walk(ts_tree_root_node(_tree), [&](TSNode n, int depth) {
    while (!stack.empty() && stack.back().depth >= depth) stack.pop_back();
    if (!ts_node_is_named(n)) return false;
    std::string_view parent_kind = stack.empty() ? "" : std::string_view(out[stack.back().index].kind);
    auto e = entry_of(_lang->name, n, parent_kind);
    if (!e) return true;
    symbol s;
    s.kind = e->kind;
    s.name = std::string(text_of(_text, e->name));
    if (!ts_node_is_null(e->container)) {
      s.container = std::string(text_of(_text, e->container));
    } else if (!stack.empty()) {
      s.container = out[stack.back().index].name;
    }
    auto sp = ts_node_start_point(n), ep = ts_node_end_point(n);
    s.start_line = sp.row + 1;
    s.end_line = ep.row + 1;
    s.at = loc(ts_node_start_point(e->name));
    s.name_byte = ts_node_start_byte(e->name);
    s.start_byte = ts_node_start_byte(n);
    s.end_byte = ts_node_end_byte(n);
    s.depth = static_cast<int>(stack.size());
    out.push_back(std::move(s));
    stack.push_back({depth, out.size() - 1});
    return true;
  });
  return out;
}

std::vector<usage> parsed::usages(std::string_view name, std::size_t max) const {
  std::vector<usage> out;
  if (name.empty()) return out;
  std::set<std::uint32_t> defined;  // start bytes of the identifiers outline entries are named by
  bool outlined = false;
  walk(ts_tree_root_node(_tree), [&](TSNode n, int) {
    if (max && out.size() >= max) return false;
    if (!is_identifier_leaf(n) || text_of(_text, n) != name) return true;
    if (!outlined) {
      outlined = true;
      // A qualified name (Foo::bar) ends in the identifier that is defined.
      for (auto& s : outline())
        if (s.name.size() >= name.size() && std::string_view(s.name).substr(s.name.size() - name.size()) == name)
          defined.insert(s.name_byte + static_cast<std::uint32_t>(s.name.size() - name.size()));
    }
    usage u;
    u.at = loc(ts_node_start_point(n));
    u.byte = ts_node_start_byte(n);
    u.node_type = ts_node_type(n);
    u.definition = defined.count(ts_node_start_byte(n)) > 0;
    out.push_back(std::move(u));
    return true;
  });
  return out;
}

std::vector<syntax_error> parsed::errors(std::size_t max) const {
  std::vector<syntax_error> out;
  TSNode root = ts_tree_root_node(_tree);
  if (!ts_node_has_error(root)) return out;
  walk(root, [&](TSNode n, int) {
    if (out.size() >= max) return false;
    if (!ts_node_has_error(n)) return false;
    if (ts_node_is_missing(n)) {
      out.push_back({loc(ts_node_start_point(n)), loc(ts_node_end_point(n)), true,
                     fmt::format("missing '{}'", ts_node_type(n))});
      return false;
    }
    if (is(n, "ERROR")) {
      auto t = text_of(_text, n);
      auto nl = t.find('\n');
      std::string shown(utf8_prefix(t.substr(0, std::min(nl, t.size())), 40));
      out.push_back({loc(ts_node_start_point(n)), loc(ts_node_end_point(n)), false,
                     fmt::format("unexpected '{}{}'", shown, shown.size() < t.size() ? "…" : "")});
      return false;
    }
    return true;
  });
  return out;
}

std::optional<std::pair<std::uint32_t, std::uint32_t>> parsed::node_at(location at, std::string_view node_type) const {
  if (at.line == 0 || at.column == 0) return std::nullopt;
  TSPoint p{at.line - 1, at.column - 1};
  TSNode n = ts_node_named_descendant_for_point_range(ts_tree_root_node(_tree), p, p);
  if (ts_node_is_null(n)) return std::nullopt;
  if (!node_type.empty()) {
    while (!ts_node_is_null(n) && node_type != ts_node_type(n)) n = ts_node_parent(n);
    if (ts_node_is_null(n)) return std::nullopt;
  }
  return std::pair{ts_node_start_byte(n), ts_node_end_byte(n)};
}

result<std::vector<capture>> parsed::query(std::string_view source, std::size_t max, bool* truncated) const {
  std::uint32_t err_offset = 0;
  TSQueryError err = TSQueryErrorNone;
  std::unique_ptr<TSQuery, void (*)(TSQuery*)> q(
      ts_query_new(_lang->grammar(), source.data(), static_cast<std::uint32_t>(source.size()), &err_offset, &err),
      ts_query_delete);
  if (!q) {
    auto at = location_of(source, err_offset);
    auto near = source.substr(std::min<std::size_t>(err_offset, source.size()), 30);
    const char* what = err == TSQueryErrorNodeType ? "no such node type"
                       : err == TSQueryErrorField  ? "no such field"
                       : err == TSQueryErrorCapture ? "no such capture"
                       : err == TSQueryErrorStructure ? "impossible pattern structure"
                       : err == TSQueryErrorLanguage ? "wrong language"
                                                    : "syntax error";
    return fail(errc::invalid_argument, "Failed to compile the query at {}:{}: {} for {} near '{}'", at.line, at.column,
                what, _lang->name, near);
  }
  // The predicates of each pattern: (#eq? @a @b|"text"), (#match? @a "regex") and their not- forms.
  struct predicate {
    std::string op;
    std::uint32_t capture = 0;
    std::optional<std::uint32_t> other;
    std::string literal;
    std::shared_ptr<regex_t> re;  ///< POSIX extended, compiled once
  };
  std::vector<std::vector<predicate>> preds(ts_query_pattern_count(q.get()));
  for (std::uint32_t i = 0; i < preds.size(); ++i) {
    std::uint32_t steps = 0;
    auto* s = ts_query_predicates_for_pattern(q.get(), i, &steps);
    for (std::uint32_t k = 0; k < steps;) {
      std::uint32_t end = k;
      while (end < steps && s[end].type != TSQueryPredicateStepTypeDone) ++end;
      if (end - k != 3 || s[k].type != TSQueryPredicateStepTypeString ||
          s[k + 1].type != TSQueryPredicateStepTypeCapture) {
        std::uint32_t len = 0;
        const char* v = s[k].type == TSQueryPredicateStepTypeString ? ts_query_string_value_for_id(q.get(), s[k].value_id, &len) : "?";
        std::string name(v, s[k].type == TSQueryPredicateStepTypeString ? len : 1);
        return fail(errc::invalid_argument,
                    "Failed to compile the query: predicate #{} is not one this tool applies (#eq?, #not-eq?, #match?, #not-match? with a capture and one argument)",
                    name);
      }
      auto str = [&](std::uint32_t id) {
        std::uint32_t len = 0;
        const char* v = ts_query_string_value_for_id(q.get(), id, &len);
        return std::string(v, len);
      };
      predicate p;
      p.op = str(s[k].value_id);
      p.capture = s[k + 1].value_id;
      if (s[k + 2].type == TSQueryPredicateStepTypeCapture) p.other = s[k + 2].value_id;
      else p.literal = str(s[k + 2].value_id);
      if (p.op != "eq?" && p.op != "not-eq?" && p.op != "match?" && p.op != "not-match?")
        return fail(errc::invalid_argument, "Failed to compile the query: predicate #{} is not one this tool applies (#eq?, #not-eq?, #match?, #not-match?)", p.op);
      if (p.op.find("match") != std::string::npos) {
        if (p.other) return fail(errc::invalid_argument, "Failed to compile the query: #{} takes a regular expression, not a capture", p.op);
        // POSIX extended expressions (glibc's matcher; no backtracking blow-up on nested
        // repetition, unlike std::regex): the common part of tree-sitter's regex syntax.
        auto raw = std::make_unique<regex_t>();
        if (int rc = ::regcomp(raw.get(), p.literal.c_str(), REG_EXTENDED | REG_NOSUB); rc != 0) {
          char why[256];
          ::regerror(rc, raw.get(), why, sizeof why);
          return fail(errc::invalid_argument, "Failed to compile the query: '{}' is not a POSIX extended regular expression: {}",
                      p.literal, why);
        }
        p.re = std::shared_ptr<regex_t>(raw.release(), [](regex_t* r) {
          ::regfree(r);
          delete r;
        });
      }
      preds[i].push_back(std::move(p));
      k = end + 1;
    }
  }
  std::unique_ptr<TSQueryCursor, void (*)(TSQueryCursor*)> cur(ts_query_cursor_new(), ts_query_cursor_delete);
  ts_query_cursor_set_match_limit(cur.get(), 10000);
  ts_query_cursor_exec(cur.get(), q.get(), ts_tree_root_node(_tree));
  std::vector<capture> out;
  TSQueryMatch m;
  std::uint32_t index = 0;
  if (truncated) *truncated = false;
  auto node_of = [&](const TSQueryMatch& m, std::uint32_t id) -> std::optional<TSNode> {
    for (std::uint16_t i = 0; i < m.capture_count; ++i)
      if (m.captures[i].index == id) return m.captures[i].node;
    return std::nullopt;
  };
  std::size_t seen = 0;
  while (ts_query_cursor_next_capture(cur.get(), &m, &index)) {
    bool ok = true;
    for (auto& p : preds[m.pattern_index]) {
      auto a = node_of(m, p.capture);
      if (!a) continue;
      auto at = text_of(_text, *a);
      bool r;
      if (p.re) {
        std::string subject(at.substr(0, 4096));  // a capture's first 4 KiB are matched
        r = ::regexec(p.re.get(), subject.c_str(), 0, nullptr, 0) == 0;
      } else {
        std::string_view b = p.literal;
        if (p.other) {
          auto o = node_of(m, *p.other);
          b = o ? text_of(_text, *o) : std::string_view();
        }
        r = at == b;
      }
      if (p.op.starts_with("not-")) r = !r;
      if (!r) ok = false;
    }
    if (!ok) continue;
    if (++seen > max) {
      if (truncated) *truncated = true;
      break;
    }
    auto& c = m.captures[index];
    std::uint32_t len = 0;
    const char* name = ts_query_capture_name_for_id(q.get(), c.index, &len);
    auto t = text_of(_text, c.node);
    std::string text(utf8_prefix(t, max_capture_text));
    if (text.size() < t.size()) text += "…";
    out.push_back({std::string(name, len), ts_node_type(c.node), loc(ts_node_start_point(c.node)),
                   loc(ts_node_end_point(c.node)), std::move(text)});
  }
  return out;
}

namespace {

bool valid_identifier(std::string_view lang, std::string_view s) {
  if (s.empty() || s.size() > 256) return false;
  auto head = [&](unsigned char c) { return std::isalpha(c) || c == '_' || c >= 0x80 || (c == '$' && (lang == "javascript" || lang == "typescript" || lang == "tsx")); };
  if (!head(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin() + 1, s.end(), [&](char c) { return head(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)); });
}

/// Checks the edited text: refused when it parses with more errors than `before`.
result<edit_result> checked(const parsed& before, std::string text, edit_result r) {
  auto after = parsed::parse(before.lang(), std::move(text), "the edited file");
  if (!after) return after.take_error();
  constexpr std::size_t all = 1'000'000;
  auto was = before.errors(all).size();
  auto now = after->errors(all);
  if (now.size() > was) {
    auto& e = now.front();
    return fail(errc::invalid_argument,
                "Refused: the edit would break the syntax ({} at {}:{} of the result; the file had {} syntax error{} before); nothing was written",
                e.what, e.at.line, e.at.column, was, was == 1 ? "" : "s");
  }
  r.text = after->text();
  return r;
}

}  // namespace

result<edit_result> rename(const parsed& file, std::string_view from, std::string_view to,
                           std::optional<std::uint32_t> line) {
  auto lang = file.lang().name;
  if (!valid_identifier(lang, from))
    return fail(errc::invalid_argument, "Failed to rename '{}': it is not an identifier", from);
  if (!valid_identifier(lang, to))
    return fail(errc::invalid_argument, "Failed to rename '{}' to '{}': the new name is not an identifier", from, to);
  if (from == to) return fail(errc::invalid_argument, "Failed to rename '{}': the new name is the same", from);
  std::uint32_t lo = 0, hi = static_cast<std::uint32_t>(file.text().size());
  std::string scope = "the file";
  if (line) {
    const symbol* best = nullptr;
    auto outline = file.outline();  // best points into it
    for (auto& s : outline)
      if (is_scope_kind(s.kind) && s.start_line <= *line && *line <= s.end_line &&
          (!best || s.end_byte - s.start_byte < best->end_byte - best->start_byte))
        best = &s;
    if (!best)
      return fail(errc::invalid_argument, "Failed to rename '{}': line {} is inside no function or method (leave out line to rename in the whole file)", from, *line);
    lo = best->start_byte;
    hi = best->end_byte;
    scope = fmt::format("{} '{}' (lines {}-{})", best->kind, best->name, best->start_line, best->end_line);
  }
  std::vector<std::size_t> at;
  edit_result r;
  for (auto& u : file.usages(from))
    if (u.byte >= lo && u.byte < hi) at.push_back(u.byte), r.where.push_back(u.at);
  if (at.empty()) return fail(errc::not_found, "Failed to rename '{}': no identifier of that name in {}", from, scope);
  for (auto& u : file.usages(to))
    if (u.byte >= lo && u.byte < hi)
      return fail(errc::invalid_argument, "Refused: '{}' already names something in {} (line {}); renaming '{}' would merge two names", to, scope, u.at.line, from);
  std::string text;
  std::size_t prev = 0;
  for (auto off : at) {
    text.append(file.text(), prev, off - prev);
    text.append(to);
    prev = off + from.size();
  }
  text.append(file.text(), prev);
  r.replacements = at.size();
  return checked(file, std::move(text), std::move(r));
}

result<edit_result> replace(const parsed& file, std::uint32_t start, std::uint32_t end, std::string_view with) {
  if (start > end || end > file.text().size())
    return fail(errc::invalid_argument, "Failed to replace bytes {}-{}: outside the file", start, end);
  std::string text = file.text().substr(0, start);
  text.append(with);
  text.append(file.text(), end);
  edit_result r;
  r.replacements = 1;
  r.where.push_back(location_of(file.text(), start));
  return checked(file, std::move(text), std::move(r));
}

}  // namespace weft::tools::code
