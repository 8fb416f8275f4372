#pragma once
/// Source code as tree-sitter sees it: which grammar a file takes, its outline (functions,
/// classes, methods with line ranges), the identifiers that name a symbol, syntax errors,
/// tree-sitter queries, and structural edits that are refused when they break the syntax.
/// Pure functions over text: the tools (code_tools.hh) read and write the workspace.
///
/// Grammars are compiled in from the pinned npm packages of third_party/grammars; a build
/// without one (they could not be fetched) knows the language but says it is missing.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <weft/base/result.hh>

struct TSLanguage;
struct TSTree;

namespace weft::tools::code {

struct language {
  std::string_view name;               ///< "cpp", "python", …
  const TSLanguage* (*grammar)();      ///< nullptr: not compiled into this build
};

/// The language of a file by its name's extension; nullptr when none is known.
const language* language_for(std::string_view path);
/// The language called `name`; nullptr when none is known.
const language* language_named(std::string_view name);
/// The languages this build can parse, and the extensions of each (for error messages).
std::string supported_summary();

/// 1-based lines, 1-based byte columns.
struct location {
  std::uint32_t line = 0, column = 0;
};

/// One entry of an outline.
struct symbol {
  std::string kind;       ///< function, method, class, struct, union, enum, interface, trait, impl, type, namespace, module, macro
  std::string name;       ///< as written ("Foo::bar" for a C++ out-of-class definition)
  std::string container;  ///< the name of the enclosing entry ("" at the top)
  std::uint32_t start_line = 0, end_line = 0;
  location at;            ///< where the name is
  std::uint32_t name_byte = 0;
  std::uint32_t start_byte = 0, end_byte = 0;
  int depth = 0;          ///< nesting in the outline
};

/// One identifier equal to a symbol's name.
struct usage {
  location at;
  std::uint32_t byte = 0;   ///< its offset in the text
  bool definition = false;  ///< it is the name of an outline entry
  std::string node_type;    ///< identifier, type_identifier, field_identifier, …
};

struct syntax_error {
  location at, end;
  bool missing = false;   ///< a MISSING node (the parser inserted an expected token)
  std::string what;       ///< "unexpected '…'" or "missing ';'"
};

struct capture {
  std::string name;       ///< the @capture
  std::string node_type;
  location at, end;
  std::string text;       ///< capped
};

/// A parsed file. Holds its text; moves, never copies.
class parsed {
 public:
  /// Parses `text` with `lang`'s grammar. Fails when the grammar is not compiled in, or
  /// when parsing exceeds the time limit (a pathological file).
  static result<parsed> parse(const language& lang, std::string text, std::string_view shown);

  const language& lang() const { return *_lang; }
  const std::string& text() const { return _text; }
  std::uint32_t lines() const;

  std::vector<symbol> outline() const;
  /// Every identifier (a named leaf whose type ends in "identifier") whose text is `name`,
  /// in order; at most `max` (0: all).
  std::vector<usage> usages(std::string_view name, std::size_t max = 0) const;
  /// ERROR and MISSING nodes in order, at most `max`.
  std::vector<syntax_error> errors(std::size_t max = 100) const;
  /// Runs a tree-sitter query (with #eq?, #not-eq?, #match?, #not-match? applied); at most
  /// `max` captures. A bad query is an error naming where and what.
  result<std::vector<capture>> query(std::string_view source, std::size_t max, bool* truncated = nullptr) const;

  /// The byte range of the smallest named node at `at`, or its nearest ancestor whose
  /// type is `node_type` (when given).
  std::optional<std::pair<std::uint32_t, std::uint32_t>> node_at(location at, std::string_view node_type) const;

  parsed(parsed&&) noexcept;
  parsed& operator=(parsed&&) noexcept;
  ~parsed();

 private:
  parsed(const language* lang, std::string text, TSTree* tree) : _lang(lang), _text(std::move(text)), _tree(tree) {}
  const language* _lang;
  std::string _text;
  TSTree* _tree;
};

/// The result of an edit: the new text (already checked) and what changed.
struct edit_result {
  std::string text;
  std::size_t replacements = 0;
  std::vector<location> where;  ///< of each replaced identifier (rename)
};

/// Renames the identifiers `from` to `to` in `file`: all of them, or when `line` is given
/// those inside the innermost function or method around that line. Refuses a `to` that is
/// not an identifier or already names something in that scope, and an edit whose result
/// has more syntax errors than the file had.
result<edit_result> rename(const parsed& file, std::string_view from, std::string_view to,
                           std::optional<std::uint32_t> line);

/// Replaces the bytes [start, end) of `file` with `with`; refused when the result has more
/// syntax errors than the file had.
result<edit_result> replace(const parsed& file, std::uint32_t start, std::uint32_t end, std::string_view with);

/// The line and column of byte `offset` in `text`.
location location_of(std::string_view text, std::size_t offset);

}  // namespace weft::tools::code
