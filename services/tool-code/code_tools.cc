#include "code_tools.hh"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <functional>

#include <fmt/format.h>

#include <weft/base/io.hh>

#include "services/tool-code/code_index.hh"
#include "services/tool-code/lsp.hh"

namespace weft::tools::code {

namespace {

constexpr std::size_t binary_probe = 8192;

tool::result failed(std::string text) { return tool::result{std::move(text), /*is_error=*/true, false}; }

json loc_json(location l) { return {{"line", l.line}, {"column", l.column}}; }

bool skipped_dir(std::string_view name) {
  return name.empty() || name[0] == '.' || name == "node_modules" || name == "target" || name == "__pycache__";
}

bool looks_binary(std::string_view content) {
  return content.substr(0, binary_probe).find('\0') != std::string_view::npos;
}

/// The content of one source file named by the model, with the checks every tool makes.
struct source {
  std::string path;  ///< as given
  const language* lang = nullptr;
  std::string content;
};

result<source> read_source(const workspace& ws, const std::string& path, const code_limits& lim, std::string_view verb) {
  auto rel = ws.relative(path, verb);
  if (!rel) return rel.take_error();
  const language* lang = language_for(path);
  if (!lang)
    return tool::make(tool::error_code::bad_arguments, "Failed to {} '{}': no grammar for this kind of file (supported: {})",
                      verb, path, supported_summary());
  auto fd = ws.open_beneath(path, O_RDONLY | O_NOCTTY | O_NONBLOCK, verb);
  if (!fd) return fd.take_error();
  struct stat st;
  if (::fstat(fd->get(), &st) != 0) return fail(errc::io, "Failed to {} '{}': {}", verb, path, std::strerror(errno));
  if (!S_ISREG(st.st_mode))
    return fail(errc::invalid_argument, "Failed to {} '{}': {}", verb, path,
                S_ISDIR(st.st_mode) ? "it is a directory" : "not a regular file");
  if (static_cast<std::size_t>(st.st_size) > lim.max_file_bytes)
    return fail(errc::invalid_argument, "Failed to {} '{}': it has {} bytes, over the limit of {} ({} in [tools.code])",
                verb, path, st.st_size, lim.max_file_bytes, "max_file_bytes");
  auto content = read_to_end(fd->get(), lim.max_file_bytes);
  if (!content) return fail(errc::io, "Failed to {} '{}': {}", verb, path, content.err().message);
  if (looks_binary(*content)) return fail(errc::invalid_argument, "Failed to {} '{}': it is a binary file", verb, path);
  return source{path, lang, std::move(*content)};
}

result<parsed> parse_source(source&& s) { return parsed::parse(*s.lang, std::move(s.content), s.path); }

/// Writes the edited text back whole (atomically, keeping the file's mode) if the file is
/// still what was edited (`was`). A symlink is not replaced: the edit names its target.
status write_back(const workspace& ws, const std::string& path, std::string_view was, std::string_view text) {
  auto parent = ws.open_parent(path, false, "write");
  if (!parent) return parent.take_error();
  struct stat st;
  if (::fstatat(parent->dir.get(), parent->name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
    return fail(errc::io, "Failed to write '{}': {}", path, std::strerror(errno));
  if (S_ISLNK(st.st_mode))
    return fail(errc::invalid_argument, "Failed to write '{}': it is a symbolic link; edit the file it points to", path);
  if (!S_ISREG(st.st_mode)) return fail(errc::invalid_argument, "Failed to write '{}': not a regular file", path);
  unsigned mode = st.st_mode & 07777;
  {
    unique_fd cur(::openat(parent->dir.get(), parent->name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    auto now = cur ? read_to_end(cur.get(), was.size() + 1) : result<std::string>(fail(errc::io, "gone"));
    if (!now || *now != was)
      return fail(errc::io, "Failed to write '{}': it changed while the edit was made; nothing was written (try again)", path);
  }
  if (auto s = write_file_atomic_at(parent->dir.get(), parent->name, text, mode); !s)
    return fail(errc::io, "Failed to write '{}': {}", path, s.err().message);
  return {};
}

std::string join_path(const std::string& dir, std::string_view name) {
  return dir.empty() ? std::string(name) : dir + "/" + std::string(name);
}

struct walker {
  const code_limits& lim;
  const std::function<void(const std::string&, std::string&&)>& visit;
  std::size_t files = 0;
  bool complete = true;

  void dir(int fd, const std::string& rel, int depth) {
    if (depth > 64) {
      ::close(fd);
      return;
    }
    std::unique_ptr<DIR, int (*)(DIR*)> d(::fdopendir(fd), ::closedir);
    if (!d) {
      ::close(fd);
      return;
    }
    std::vector<std::pair<std::string, unsigned char>> entries;
    while (dirent* e = ::readdir(d.get())) {
      std::string_view name = e->d_name;
      if (name == "." || name == "..") continue;
      entries.emplace_back(std::string(name), e->d_type);
    }
    std::sort(entries.begin(), entries.end());
    for (auto& [name, type] : entries) {
      if (!complete) return;
      unsigned char t = type;
      if (t == DT_UNKNOWN) {
        struct stat st;
        if (::fstatat(::dirfd(d.get()), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        t = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
      }
      if (t == DT_DIR) {
        if (skipped_dir(name)) continue;
        int sub = ::openat(::dirfd(d.get()), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub >= 0) dir(sub, join_path(rel, name), depth + 1);
      } else if (t == DT_REG && language_for(name)) {
        if (files >= lim.max_files) {
          complete = false;
          return;
        }
        ++files;
        unique_fd f(::openat(::dirfd(d.get()), name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
        struct stat st;
        if (!f || ::fstat(f.get(), &st) != 0 || !S_ISREG(st.st_mode) ||
            static_cast<std::size_t>(st.st_size) > lim.max_file_bytes)
          continue;
        auto content = read_to_end(f.get(), lim.max_file_bytes);
        if (!content || looks_binary(*content)) continue;
        visit(join_path(rel, name), std::move(*content));
      }
    }
  }
};

/// The directory a search covers: `path` (default the workspace), relative.
result<std::pair<unique_fd, std::string>> search_root(const workspace& ws, const std::optional<std::string>& path) {
  std::string shown = path.value_or(".");
  auto rel = ws.relative(shown, "search");
  if (!rel) return rel.take_error();
  auto fd = ws.open_beneath(shown, O_RDONLY | O_DIRECTORY, "search");
  if (!fd) return fd.take_error();
  return std::pair{std::move(*fd), *rel};
}

/// A search over one file or a directory tree: calls `per_file` with each parsed file.
result<std::size_t> search(const workspace& ws, const std::optional<std::string>& path, std::string_view needle,
                           const code_limits& lim, const std::function<void(const std::string&, const parsed&)>& per_file,
                           bool* complete) {
  *complete = true;
  std::size_t files = 0;
  auto one = [&](const std::string& rel, std::string&& content) {
    ++files;
    // Only files that contain the name are parsed: most of a workspace never is.
    if (!needle.empty() && content.find(needle) == std::string::npos) return;
    auto* lang = language_for(rel);
    if (!lang || !lang->grammar) return;
    auto p = parsed::parse(*lang, std::move(content), rel);
    if (p) per_file(rel, *p);
  };
  if (path) {
    struct stat st;
    auto fd = ws.open_beneath(*path, O_PATH, "search");
    if (!fd) return fd.take_error();
    if (::fstat(fd->get(), &st) == 0 && S_ISREG(st.st_mode)) {
      auto s = read_source(ws, *path, lim, "search");
      if (!s) return s.take_error();
      auto rel = ws.relative(*path, "search");
      one(*rel, std::move(s->content));
      return files;
    }
  }
  auto root = search_root(ws, path);
  if (!root) return root.take_error();
  std::function<void(const std::string&, std::string&&)> visit = one;
  walker w{lim, visit};
  w.dir(root->first.release(), root->second, 0);
  *complete = w.complete;
  return files;
}

const json* find_arg(const json& args, std::string_view name) {
  auto it = args.find(std::string(name));
  return it == args.end() || it->is_null() ? nullptr : &*it;
}

// --- the tools --------------------------------------------------------------------------

result<tool::result> outline(const workspace& ws, const json& args, const code_limits& lim) {
  auto path = string_arg(args, "path");
  if (!path) return path.take_error();
  auto s = read_source(ws, *path, lim, "outline");
  if (!s) return ran_and_failed(s.take_error());
  auto lang = s->lang->name;
  auto p = parse_source(std::move(*s));
  if (!p) return ran_and_failed(p.take_error());
  auto items = p->outline();
  std::string text = fmt::format("{} ({}, {} lines): {} entries\n", *path, lang, p->lines(), items.size());
  json arr = json::array();
  std::size_t shown = 0;
  for (auto& i : items) {
    if (shown++ >= lim.max_results) break;
    text += fmt::format("{:>5}-{:<5} {:{}}{} {}\n", i.start_line, i.end_line, "", i.depth * 2, i.kind, i.name);
    json j{{"kind", i.kind}, {"name", i.name}, {"start_line", i.start_line}, {"end_line", i.end_line},
           {"name_at", loc_json(i.at)}, {"depth", i.depth}};
    if (!i.container.empty()) j["container"] = i.container;
    arr.push_back(std::move(j));
  }
  if (items.size() > lim.max_results) text += fmt::format("[… cut: {} of {} entries shown]\n", lim.max_results, items.size());
  auto errs = p->errors(1);
  if (!errs.empty())
    text += fmt::format("note: the file has syntax errors (first at {}:{}); the outline may be incomplete\n",
                        errs[0].at.line, errs[0].at.column);
  return answer(std::move(text), {{"path", *path}, {"language", lang}, {"lines", p->lines()}, {"symbols", std::move(arr)},
                                {"total", items.size()}, {"syntax_errors", !errs.empty()}});
}

result<tool::result> definitions(const workspace& ws, const json& args, const code_limits& lim) {
  auto name = string_arg(args, "symbol");
  if (!name) return name.take_error();
  auto path = optional_string_arg(args, "path");
  if (!path) return path.take_error();
  if (name->empty()) return tool::make(tool::error_code::bad_arguments, "argument 'symbol' must not be empty");
  json arr = json::array();
  std::string text;
  std::size_t found = 0;
  bool complete = true;
  auto files = search(ws, *path, *name, lim, [&](const std::string& rel, const parsed& p) {
    for (auto& s : p.outline()) {
      std::string_view n = s.name;
      auto tail = n.substr(n.find_last_of(":.") == std::string_view::npos ? 0 : n.find_last_of(":.") + 1);
      if (n != *name && tail != *name) continue;
      if (found++ >= lim.max_results) continue;
      text += fmt::format("{}:{}-{}: {} {}{}\n", rel, s.start_line, s.end_line, s.kind, s.name,
                          s.container.empty() ? "" : " (in " + s.container + ")");
      json j{{"path", rel}, {"kind", s.kind}, {"name", s.name}, {"start_line", s.start_line}, {"end_line", s.end_line},
             {"name_at", loc_json(s.at)}};
      if (!s.container.empty()) j["container"] = s.container;
      arr.push_back(std::move(j));
    }
  }, &complete);
  if (!files) return ran_and_failed(files.take_error());
  std::string head = found ? fmt::format("{} definition{} of '{}' ({} files searched)\n", found, found == 1 ? "" : "s", *name, *files)
                           : fmt::format("no definition of '{}' ({} files searched)\n", *name, *files);
  if (found > lim.max_results) text += fmt::format("[… cut: {} of {} shown]\n", lim.max_results, found);
  if (!complete) text += fmt::format("[… the search stopped after {} files (max_files)]\n", lim.max_files);
  return answer(head + text, {{"symbol", *name}, {"definitions", std::move(arr)}, {"files", *files}, {"complete", complete}});
}

result<tool::result> usages(const workspace& ws, const json& args, const code_limits& lim) {
  auto name = string_arg(args, "symbol");
  if (!name) return name.take_error();
  auto path = optional_string_arg(args, "path");
  if (!path) return path.take_error();
  auto max = optional_uint_arg(args, "max");
  if (!max) return max.take_error();
  if (name->empty()) return tool::make(tool::error_code::bad_arguments, "argument 'symbol' must not be empty");
  std::size_t cap = std::min<std::size_t>(max->value_or(lim.max_results), lim.max_results);
  json arr = json::array();
  std::string text;
  std::size_t found = 0, in_files = 0;
  bool complete = true;
  auto files = search(ws, *path, *name, lim, [&](const std::string& rel, const parsed& p) {
    auto us = p.usages(*name);
    if (!us.empty()) ++in_files;
    for (auto& u : us) {
      if (found++ >= cap) continue;
      // The line's text, for the model to see the use without reading the file.
      std::string_view t = p.text();
      std::size_t start = 0;
      for (std::uint32_t l = 1; l < u.at.line; ++l) start = t.find('\n', start) + 1;
      auto end = t.find('\n', start);
      auto line = t.substr(start, std::min<std::size_t>(end == std::string_view::npos ? t.size() - start : end - start, 160));
      auto first = line.find_first_not_of(" \t");
      line = first == std::string_view::npos ? std::string_view() : line.substr(first);
      text += fmt::format("{}:{}:{}:{} {}\n", rel, u.at.line, u.at.column, u.definition ? " [definition]" : "", line);
      arr.push_back({{"path", rel}, {"line", u.at.line}, {"column", u.at.column}, {"definition", u.definition},
                     {"node_type", u.node_type}});
    }
  }, &complete);
  if (!files) return ran_and_failed(files.take_error());
  std::string head = fmt::format("{} usage{} of '{}' in {} file{} ({} searched)\n", found, found == 1 ? "" : "s", *name,
                                 in_files, in_files == 1 ? "" : "s", *files);
  if (found > cap) text += fmt::format("[… cut: {} of {} shown]\n", cap, found);
  if (!complete) text += fmt::format("[… the search stopped after {} files (max_files)]\n", lim.max_files);
  return answer(head + text, {{"symbol", *name}, {"usages", std::move(arr)}, {"total", found}, {"files", *files}, {"complete", complete}});
}

result<tool::result> query(const workspace& ws, const json& args, const code_limits& lim) {
  auto path = string_arg(args, "path");
  if (!path) return path.take_error();
  auto q = string_arg(args, "query");
  if (!q) return q.take_error();
  auto max = optional_uint_arg(args, "max");
  if (!max) return max.take_error();
  auto s = read_source(ws, *path, lim, "query");
  if (!s) return ran_and_failed(s.take_error());
  auto p = parse_source(std::move(*s));
  if (!p) return ran_and_failed(p.take_error());
  bool truncated = false;
  std::size_t cap = std::min<std::size_t>(max->value_or(lim.max_results), lim.max_results);
  auto caps = p->query(*q, cap, &truncated);
  if (!caps) return tool::make(tool::error_code::bad_arguments, "{}", caps.err().message);
  std::string text = fmt::format("{} capture{} in {}\n", caps->size(), caps->size() == 1 ? "" : "s", *path);
  json arr = json::array();
  for (auto& c : *caps) {
    auto nl = c.text.find('\n');
    text += fmt::format("@{} {} {}:{}-{}:{}: {}{}\n", c.name, c.node_type, c.at.line, c.at.column, c.end.line,
                        c.end.column, c.text.substr(0, nl), nl == std::string::npos ? "" : " …");
    arr.push_back({{"capture", c.name}, {"node_type", c.node_type}, {"start", loc_json(c.at)}, {"end", loc_json(c.end)},
                   {"text", c.text}});
  }
  if (truncated) text += fmt::format("[… cut at {} captures]\n", cap);
  return answer(std::move(text), {{"path", *path}, {"captures", std::move(arr)}, {"truncated", truncated}});
}

result<tool::result> check(const workspace& ws, const json& args, const code_limits& lim) {
  auto path = string_arg(args, "path");
  if (!path) return path.take_error();
  auto s = read_source(ws, *path, lim, "check");
  if (!s) return ran_and_failed(s.take_error());
  auto lang = s->lang->name;
  auto p = parse_source(std::move(*s));
  if (!p) return ran_and_failed(p.take_error());
  auto errs = p->errors(lim.max_results);
  std::string text = errs.empty() ? fmt::format("{} ({}): no syntax errors\n", *path, lang)
                                  : fmt::format("{} ({}): {} syntax error{}\n", *path, lang, errs.size(), errs.size() == 1 ? "" : "s");
  json arr = json::array();
  for (auto& e : errs) {
    text += fmt::format("{}:{}:{}: {}\n", *path, e.at.line, e.at.column, e.what);
    arr.push_back({{"start", loc_json(e.at)}, {"end", loc_json(e.end)}, {"missing", e.missing}, {"message", e.what}});
  }
  tool::result r = answer(std::move(text), {{"path", *path}, {"language", lang}, {"errors", std::move(arr)}});
  return r;
}

tool::result edited(const std::string& path, const edit_result& e, std::string what) {
  json where = json::array();
  for (auto& l : e.where) where.push_back(loc_json(l));
  return answer(fmt::format("{} in {}; the file parses as before\n", what, path),
              {{"path", path}, {"replacements", e.replacements}, {"where", std::move(where)}});
}

result<tool::result> rename_tool(const workspace& ws, const json& args, const code_limits& lim) {
  auto path = string_arg(args, "path");
  if (!path) return path.take_error();
  auto from = string_arg(args, "symbol");
  if (!from) return from.take_error();
  auto to = string_arg(args, "new_name");
  if (!to) return to.take_error();
  auto line = optional_uint_arg(args, "line");
  if (!line) return line.take_error();
  auto s = read_source(ws, *path, lim, "rename in");
  if (!s) return ran_and_failed(s.take_error());
  auto p = parse_source(std::move(*s));
  if (!p) return ran_and_failed(p.take_error());
  std::optional<std::uint32_t> at;
  if (*line) at = static_cast<std::uint32_t>(**line);
  auto e = rename(*p, *from, *to, at);
  if (!e) return ran_and_failed(e.take_error());
  if (auto w = write_back(ws, *path, p->text(), e->text); !w) return ran_and_failed(w.take_error());
  return edited(*path, *e, fmt::format("renamed '{}' to '{}' ({} place{})", *from, *to, e->replacements,
                                       e->replacements == 1 ? "" : "s"));
}

result<tool::result> replace_tool(const workspace& ws, const json& args, const code_limits& lim) {
  auto path = string_arg(args, "path");
  if (!path) return path.take_error();
  auto with = string_arg(args, "text");
  if (!with) return with.take_error();
  auto sym = optional_string_arg(args, "symbol");
  if (!sym) return sym.take_error();
  auto line = optional_uint_arg(args, "line");
  if (!line) return line.take_error();
  auto column = optional_uint_arg(args, "column");
  if (!column) return column.take_error();
  auto node_type = optional_string_arg(args, "node_type");
  if (!node_type) return node_type.take_error();
  if (!*sym && !*line)
    return tool::make(tool::error_code::bad_arguments, "Failed to replace in '{}': name the node with symbol or with line (and column)", *path);
  auto s = read_source(ws, *path, lim, "replace in");
  if (!s) return ran_and_failed(s.take_error());
  auto p = parse_source(std::move(*s));
  if (!p) return ran_and_failed(p.take_error());
  std::uint32_t start = 0, end = 0;
  std::string what;
  if (*sym) {
    std::vector<symbol> hits;
    for (auto& d : p->outline())
      if (d.name == **sym && (!*line || (d.start_line <= **line && **line <= d.end_line))) hits.push_back(d);
    if (hits.empty()) return failed(fmt::format("Failed to replace '{}' in '{}': no definition of that name (see code_outline)", **sym, *path));
    if (hits.size() > 1) {
      std::string lines;
      for (auto& h : hits) lines += fmt::format("{}{}", lines.empty() ? "" : ", ", h.start_line);
      return failed(fmt::format("Failed to replace '{}' in '{}': {} definitions have that name (lines {}); add line to choose one",
                                **sym, *path, hits.size(), lines));
    }
    start = hits[0].start_byte;
    end = hits[0].end_byte;
    what = fmt::format("replaced {} '{}' (lines {}-{})", hits[0].kind, hits[0].name, hits[0].start_line, hits[0].end_line);
  } else {
    location at{static_cast<std::uint32_t>(**line), 0};
    if (*column) {
      at.column = static_cast<std::uint32_t>(**column);
    } else {  // the line's first non-blank character
      std::string_view t = p->text();
      std::size_t off = 0;
      for (std::uint32_t l = 1; l < at.line && off != std::string_view::npos; ++l) {
        off = t.find('\n', off);
        if (off != std::string_view::npos) ++off;
      }
      if (off == std::string_view::npos || off >= t.size())
        return failed(fmt::format("Failed to replace in '{}': it has no line {}", *path, at.line));
      auto first = t.find_first_not_of(" \t", off);
      at.column = static_cast<std::uint32_t>((first == std::string_view::npos ? off : first) - off + 1);
    }
    auto range = p->node_at(at, node_type->value_or(""));
    if (!range)
      return failed(fmt::format("Failed to replace in '{}': no {} node at {}:{}", *path,
                                *node_type ? "'" + **node_type + "'" : std::string("named"), at.line, at.column));
    start = range->first;
    end = range->second;
    auto a = location_of(p->text(), start), b = location_of(p->text(), end);
    what = fmt::format("replaced {}:{}-{}:{}", a.line, a.column, b.line, b.column);
  }
  auto e = replace(*p, start, end, *with);
  if (!e) return ran_and_failed(e.take_error());
  if (auto w = write_back(ws, *path, p->text(), e->text); !w) return ran_and_failed(w.take_error());
  return edited(*path, *e, what);
}

}  // namespace

bool for_each_source(const workspace& ws, const std::string& dir, const code_limits& lim,
                     const std::function<void(const std::string& path, std::string&& content)>& visit) {
  auto root = search_root(ws, dir.empty() ? std::optional<std::string>() : dir);
  if (!root) return false;
  walker w{lim, visit};
  w.dir(root->first.release(), root->second, 0);
  return w.complete;
}

std::vector<tool_def> code_tools(const workspace& ws, code_limits lim, std::shared_ptr<lsp_pool> servers) {
  std::vector<tool_def> out;
  auto add = [&](const char* name, const char* what, std::string_view schema,
                 result<tool::result> (*fn)(const workspace&, const json&, const code_limits&)) {
    out.push_back({{name, what, std::string(schema), ""},
                   [&ws, lim, fn](const json& a, const call_context&) { return fn(ws, a, lim); }});
  };
  const std::string langs = supported_summary();
  add("code_outline", "Outline of a source file (tree-sitter): functions, classes, methods, types with their line ranges.",
      R"J({"type":"object","required":["path"],"properties":{
"path":{"type":"string","description":"A source file in the workspace (C, C++, Python, JavaScript, TypeScript, Rust, Go)"}}})J",
      outline);
  add("code_definitions", "Find where a symbol (function, class, method, type) is defined, across the workspace or under a path.",
      R"J({"type":"object","required":["symbol"],"properties":{
"symbol":{"type":"string","description":"The name (a method's own name, or Class::method as written)"},
"path":{"type":"string","description":"A file or directory to search (default: the whole workspace)"}}})J",
      definitions);
  add("code_usages", "Find every identifier naming a symbol across the workspace or under a path (syntax-aware: no comments or strings).",
      R"J({"type":"object","required":["symbol"],"properties":{
"symbol":{"type":"string","description":"The identifier"},
"path":{"type":"string","description":"A file or directory to search (default: the whole workspace)"},
"max":{"type":"integer","minimum":1,"description":"At most this many (default and cap: 500)"}}})J",
      usages);
  add("code_query", "Run a tree-sitter query on a source file: the captures with their positions and text.",
      R"J({"type":"object","required":["path","query"],"properties":{
"path":{"type":"string","description":"A source file in the workspace"},
"query":{"type":"string","description":"A tree-sitter query, e.g. (function_definition declarator: (_) @fn); #eq?, #not-eq?, #match?, #not-match? apply"},
"max":{"type":"integer","minimum":1,"description":"At most this many captures (default and cap: 500)"}}})J",
      query);
  add("code_check", "Report the syntax errors of a source file (tree-sitter): where, and what was unexpected or missing.",
      R"J({"type":"object","required":["path"],"properties":{
"path":{"type":"string","description":"A source file in the workspace"}}})J",
      check);
  add("code_rename", "Rename an identifier in one file (in the function around line, or the whole file); refused if the new name is taken or the result does not parse.",
      R"J({"type":"object","required":["path","symbol","new_name"],"properties":{
"path":{"type":"string","description":"A source file in the workspace"},
"symbol":{"type":"string","description":"The identifier to rename"},
"new_name":{"type":"string","description":"Its new name"},
"line":{"type":"integer","minimum":1,"description":"Rename only inside the function or method around this line"}}})J",
      rename_tool);
  add("code_replace", "Replace one syntax node's text (a definition by symbol, or the node at line/column); refused if the result does not parse.",
      R"J({"type":"object","required":["path","text"],"properties":{
"path":{"type":"string","description":"A source file in the workspace"},
"text":{"type":"string","description":"The new text of the node"},
"symbol":{"type":"string","description":"Replace the whole definition of this name (from code_outline)"},
"line":{"type":"integer","minimum":1,"description":"The node's line (or which of several definitions of symbol)"},
"column":{"type":"integer","minimum":1,"description":"The node's column (default: the line's first non-blank)"},
"node_type":{"type":"string","description":"Widen to the enclosing node of this tree-sitter type (e.g. if_statement)"}}})J",
      replace_tool);
  if (servers) {
    auto more = lsp_tools(ws, servers);
    out.insert(out.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
  }
  return out;
}

}  // namespace weft::tools::code
