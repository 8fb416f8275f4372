// The content rules over one file's text: each line is matched against every line and block
// pattern of the rule table at once (an RE2::Set, linear in the line whatever the pattern),
// knowing whether the line is code (a script, a fenced block, an `inline span`) or prose and
// under which Markdown headings it stands; then the detectors that are not patterns (hidden
// Unicode, HTML comments, split strings, the manifest's tools, invalid UTF-8).
#include <algorithm>
#include <map>
#include <memory>
#include <optional>

#include <re2/re2.h>
#include <re2/set.h>

#include <weft/scan/scanner.hh>
#include <weft/skills/frontmatter.hh>

#include "text.hh"

namespace weft::scan {

using detail::file_kind;

namespace {

struct compiled_rule {
  const rule* r;
  int pat = -1, also = -1, unless = -1;
  std::unique_ptr<RE2> section;
};

/// Every pattern of the table compiled once: `set` finds which match a line, `res` the same
/// patterns one by one (positions, and a fallback if the set runs out of memory).
struct engine {
  std::vector<std::unique_ptr<RE2>> res;
  std::unique_ptr<RE2::Set> set;
  std::vector<compiled_rule> line_rules, block_rules;
  std::unique_ptr<RE2> comment_words, split_words, broad_tools;

  static RE2::Options options() {
    RE2::Options o;
    o.set_case_sensitive(false);
    o.set_log_errors(false);
    o.set_max_mem(64 << 20);
    return o;
  }
  int add(std::string_view p) {
    if (p.empty()) return -1;
    res.push_back(std::make_unique<RE2>(re2::StringPiece(p.data(), p.size()), options()));
    std::string err;
    int i = set->Add(re2::StringPiece(p.data(), p.size()), &err);
    // A pattern RE2 refuses is a bug in the table; rules_test compiles every one.
    if (i < 0 || !res.back()->ok()) return -1;
    return i;
  }
  engine() : set(std::make_unique<RE2::Set>(options(), RE2::UNANCHORED)) {
    for (auto& r : rules()) {
      if (r.kind == match_kind::detector) {
        if (r.id == "SKL-013") comment_words = std::make_unique<RE2>(std::string(r.pattern), options());
        if (r.id == "SKL-020") split_words = std::make_unique<RE2>(std::string(r.pattern), options());
        if (r.id == "SKL-067") broad_tools = std::make_unique<RE2>(std::string(r.pattern), options());
        continue;
      }
      compiled_rule c{&r};
      c.pat = add(r.pattern);
      c.also = add(r.also);
      c.unless = add(r.unless);
      if (!r.section.empty()) c.section = std::make_unique<RE2>(std::string(r.section), options());
      (r.kind == match_kind::line ? line_rules : block_rules).push_back(std::move(c));
    }
    if (!set->Compile()) set.reset();
  }

  /// Which patterns match `text`, by index.
  std::vector<bool> hits(std::string_view text) const {
    std::vector<bool> h(res.size());
    if (text.empty()) return h;
    re2::StringPiece sp(text.data(), text.size());
    std::vector<int> ids;
    RE2::Set::ErrorInfo info{};
    if (set && (set->Match(sp, &ids, &info) || info.kind == RE2::Set::kNoError)) {
      for (int i : ids) h[static_cast<std::size_t>(i)] = true;
      return h;
    }
    for (std::size_t i = 0; i < res.size(); ++i) h[i] = RE2::PartialMatch(sp, *res[i]);
    return h;
  }
};

const engine& the_engine() {
  static const engine e;
  return e;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

/// The `inline code` spans of a Markdown line, one per line of the result.
std::string inline_code(std::string_view line) {
  std::string out;
  std::size_t p = 0;
  while ((p = line.find('`', p)) != std::string_view::npos) {
    std::size_t n = 0;
    while (p + n < line.size() && line[p + n] == '`') ++n;
    std::string ticks(n, '`');
    auto end = line.find(ticks, p + n);
    if (end == std::string_view::npos) break;
    out.append(line.substr(p + n, end - p - n));
    out.push_back('\n');
    p = end + n;
  }
  return out;
}

/// Whether [b, e) of `line` lies inside a short quotation ("…", “…”, `…`) that holds little
/// more than the match: a mention of the phrase, not an instruction built around it.
bool quoted(std::string_view line, std::size_t b, std::size_t e) {
  constexpr std::size_t slack = 24;
  for (auto [open, close] : {std::pair<std::string_view, std::string_view>{"\"", "\""}, {"\u201c", "\u201d"}, {"`", "`"}}) {
    auto o = line.rfind(open, b);
    if (o == std::string_view::npos || o >= b) continue;
    if (open == close && std::count(line.begin(), line.begin() + static_cast<std::ptrdiff_t>(o), open[0]) % 2) continue;
    auto c = line.find(close, e);
    if (c == std::string_view::npos) continue;
    if ((c - (o + open.size())) <= (e - b) + slack) return true;
  }
  return false;
}

/// First match of `re` in `text` that is not a quoted mention (when `skip_quoted`); its offset.
std::optional<std::size_t> first_match(const RE2& re, std::string_view text, bool skip_quoted) {
  re2::StringPiece all(text.data(), text.size()), m;
  std::size_t from = 0;
  // Each quoted mention costs a look back along the line: after this many, the rest of a
  // line that repeats a phrase in quotes thousands of times counts as unquoted.
  constexpr int max_quoted = 32;
  for (int seen = 0; from <= text.size() && re.Match(all, from, text.size(), RE2::UNANCHORED, &m, 1); ++seen) {
    if (seen == max_quoted) return static_cast<std::size_t>(m.data() - text.data());
    auto b = static_cast<std::size_t>(m.data() - text.data());
    auto e = b + m.size();
    if (!skip_quoted || !quoted(text, b, e)) return b;
    from = e > b ? e : b + 1;
  }
  return std::nullopt;
}

class collector {
 public:
  collector(std::string name) : _name(std::move(name)) {}
  void add(const rule& r, std::uint32_t line, std::string_view seen) {
    auto it = _index.find(r.id);
    if (it != _index.end()) {
      ++_out[it->second].more;
      return;
    }
    _index.emplace(r.id, _out.size());
    std::string msg(r.title);
    if (!seen.empty()) msg += ": " + detail::excerpt(trim(seen));
    _out.push_back(finding{&r, _name, line, std::move(msg), 0});
  }
  std::vector<finding> take() { return std::move(_out); }

 private:
  std::string _name;
  std::map<std::string_view, std::size_t> _index;
  std::vector<finding> _out;
};

struct block_state {
  std::uint32_t pat_line = 0, also_line = 0;
  std::string pat_text, also_text;
  bool unless = false;
};

bool emoji_like(std::int32_t cp) {
  return cp >= 0x1F000 || (cp >= 0x2600 && cp <= 0x27BF) || (cp >= 0xFE00 && cp <= 0xFE0F) || cp == 0x2640 || cp == 0x2642;
}

void unicode_detectors(std::string_view text, collector& out) {
  std::size_t p = 0;
  std::uint32_t line = 1, zw_line = 0, bidi_line = 0, tag_line = 0, bad_line = 0;
  unsigned zw = 0;
  std::int32_t prev = 0, prev_visible = 0;
  bool in_flag = false;
  std::vector<std::int32_t> zwj_pending;  // a ZWJ is judged by the character after it
  std::uint32_t zwj_line = 0;
  while (p < text.size()) {
    auto at = p;
    auto cp = detail::next_code_point(text, p);
    if (cp < 0) {
      if (!bad_line) bad_line = line;
      prev = cp;
      continue;
    }
    if (!zwj_pending.empty()) {
      if (!(emoji_like(prev_visible) && emoji_like(cp))) {
        zw += 1;
        if (!zw_line) zw_line = zwj_line;
      }
      zwj_pending.clear();
    }
    if (cp == '\n') ++line;
    if (cp == 0x200B || cp == 0x200C || cp == 0x2060 || (cp == 0xFEFF && at != 0)) {
      ++zw;
      if (!zw_line) zw_line = line;
    } else if (cp == 0x200D) {
      zwj_pending.push_back(cp);
      zwj_line = line;
      prev = cp;
      continue;
    } else if ((cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069)) {
      if (!bidi_line) bidi_line = line;
    } else if (cp >= 0xE0000 && cp <= 0xE007F) {
      // Subdivision flags are U+1F3F4 followed by tags and ended by U+E007F.
      if (prev == 0x1F3F4) in_flag = true;
      if (!in_flag && !tag_line) tag_line = line;
      if (cp == 0xE007F) in_flag = false;
    } else {
      in_flag = false;
    }
    if (!detail::invisible(cp)) prev_visible = cp;
    prev = cp;
  }
  if (!zwj_pending.empty()) ++zw;
  if (zw >= 3) out.add(*find_rule("SKL-010"), zw_line, std::to_string(zw) + " zero-width characters");
  if (bidi_line) out.add(*find_rule("SKL-011"), bidi_line, "");
  if (tag_line) out.add(*find_rule("SKL-012"), tag_line, "");
  if (bad_line) out.add(*find_rule("SKL-077"), bad_line, "");
}

void comment_detector(std::string_view text, collector& out) {
  auto& re = *the_engine().comment_words;
  std::size_t p = 0, counted = 0;
  std::uint32_t line = 1;  // of `counted`, advanced as comments are found (never recounted)
  while ((p = text.find("<!--", p)) != std::string_view::npos) {
    auto end = text.find("-->", p + 4);
    auto inner = text.substr(p + 4, end == std::string_view::npos ? std::string_view::npos : end - p - 4);
    line += static_cast<std::uint32_t>(std::count(text.begin() + static_cast<std::ptrdiff_t>(counted),
                                                  text.begin() + static_cast<std::ptrdiff_t>(p), '\n'));
    counted = p;
    if (RE2::PartialMatch(re2::StringPiece(inner.data(), inner.size()), re)) out.add(*find_rule("SKL-013"), line, inner.substr(0, 120));
    if (end == std::string_view::npos) break;
    p = end + 3;
  }
}

/// The line with string pieces joined: "cu"+"rl" → curl, c""url → curl, c\url → curl.
std::string joined(std::string_view line) {
  static const RE2 concat(R"(["']\s*(\+|\.|\.\.|&)\s*["'])");
  static const RE2 empty_quotes(R"(([A-Za-z])(""|'')([A-Za-z]))");
  static const RE2 escaped(R"(([A-Za-z])\\([a-z]))");
  std::string s(line);
  RE2::GlobalReplace(&s, concat, "");
  RE2::GlobalReplace(&s, empty_quotes, "\\1\\3");
  RE2::GlobalReplace(&s, escaped, "\\1\\2");
  return s;
}

int count_matches(const RE2& re, std::string_view text) {
  re2::StringPiece in(text.data(), text.size());
  int n = 0;
  while (RE2::FindAndConsume(&in, re)) {
    if (++n > 64) break;
  }
  return n;
}

void split_detector(std::string_view line, std::uint32_t n, collector& out) {
  if (line.find_first_of("\"'\\") == std::string_view::npos) return;
  auto j = joined(line);
  if (j.size() == line.size()) return;
  auto& re = *the_engine().split_words;
  if (count_matches(re, j) > count_matches(re, line)) out.add(*find_rule("SKL-020"), n, line);
}

void manifest_detector(std::string_view name, std::string_view text, collector& out) {
  if (!(name == "SKILL.md" || (name.size() > 9 && name.substr(name.size() - 9) == "/SKILL.md"))) return;
  auto fm = skills::parse_frontmatter(text);
  if (!fm) return;
  std::string tools;
  for (auto key : {"allowed-tools", "allowed_tools"}) {
    auto it = fm->fields.find(key);
    if (it == fm->fields.end()) continue;
    tools += it->second.scalar;
    for (auto& t : it->second.list) tools += " " + t;
  }
  if (tools.empty() || !RE2::PartialMatch(tools, *the_engine().broad_tools)) return;
  auto& body = fm->body;
  if (body.find("```") != std::string::npos || body.find("~~~") != std::string::npos ||
      body.find("scripts/") != std::string::npos || body.find("{baseDir}") != std::string::npos)
    return;
  out.add(*find_rule("SKL-067"), 1, "allowed-tools: " + tools);
}

}  // namespace

std::vector<finding> scan_text(std::string_view name, std::string_view text, const limits&) {
  auto& e = the_engine();
  collector out{std::string(name)};
  auto kind = detail::kind_of(name, text);
  bool markdown = kind == file_kind::markdown;

  std::vector<block_state> blocks(e.block_rules.size());
  auto end_block = [&] {
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      auto& b = blocks[i];
      if (b.pat_line && b.also_line && !b.unless)
        out.add(*e.block_rules[i].r, std::max(b.pat_line, b.also_line), b.also_line >= b.pat_line ? b.also_text : b.pat_text);
      b = {};
    }
  };

  bool in_fence = !markdown;  // scripts and data files are code throughout
  char fence_char = 0;
  std::size_t fence_len = 0;
  std::vector<std::pair<int, std::string>> headings;
  std::vector<bool> in_section(e.line_rules.size());
  auto update_sections = [&] {
    for (std::size_t i = 0; i < e.line_rules.size(); ++i) {
      auto& c = e.line_rules[i];
      if (!c.section) continue;
      in_section[i] = std::any_of(headings.begin(), headings.end(),
                                  [&](auto& h) { return RE2::PartialMatch(h.second, *c.section); });
    }
  };

  std::uint32_t n = 0;
  std::size_t p = 0;
  while (p < text.size()) {
    auto nl = text.find('\n', p);
    auto line = text.substr(p, nl == std::string_view::npos ? std::string_view::npos : nl - p);
    p = nl == std::string_view::npos ? text.size() : nl + 1;
    ++n;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);

    if (markdown) {
      auto t = line;
      std::size_t indent = 0;
      while (indent < 3 && indent < t.size() && t[indent] == ' ') ++indent;
      t.remove_prefix(indent);
      std::size_t run = 0;
      while (run < t.size() && (t[run] == '`' || t[run] == '~') && t[run] == t[0]) ++run;
      if (run >= 3) {
        if (!in_fence) {
          in_fence = true;
          fence_char = t[0];
          fence_len = run;
          continue;
        }
        if (t[0] == fence_char && run >= fence_len && trim(t.substr(run)).empty()) {
          in_fence = false;
          end_block();
          continue;
        }
      }
      if (!in_fence && !t.empty() && t[0] == '#') {
        std::size_t level = 0;
        while (level < t.size() && t[level] == '#') ++level;
        if (level <= 6 && (level == t.size() || t[level] == ' ' || t[level] == '\t')) {
          while (!headings.empty() && headings.back().first >= static_cast<int>(level)) headings.pop_back();
          headings.emplace_back(static_cast<int>(level), std::string(trim(t.substr(level))));
          update_sections();
        }
      }
    }

    bool code_line = in_fence;
    auto full = e.hits(line);
    std::string spans = code_line ? std::string() : inline_code(line);
    auto inl = spans.empty() ? std::vector<bool>(e.res.size()) : e.hits(spans);

    for (std::size_t i = 0; i < e.line_rules.size(); ++i) {
      auto& c = e.line_rules[i];
      auto& r = *c.r;
      if (c.section && !in_section[i]) continue;
      const std::vector<bool>* h = nullptr;
      std::string_view where_text;
      switch (r.where) {
        case scope::any: h = &full, where_text = line; break;
        case scope::prose:
          if (code_line) continue;
          h = &full, where_text = line;
          break;
        case scope::code:
          if (code_line) h = &full, where_text = line;
          else h = &inl, where_text = spans;
          break;
      }
      if (c.pat < 0 || !(*h)[static_cast<std::size_t>(c.pat)]) continue;
      if (c.also >= 0 && !(*h)[static_cast<std::size_t>(c.also)]) continue;
      if (c.unless >= 0 && (*h)[static_cast<std::size_t>(c.unless)]) continue;
      auto at = first_match(*e.res[static_cast<std::size_t>(c.pat)], where_text, r.skip_quoted);
      if (!at) continue;
      out.add(r, n, where_text.substr(*at > 20 ? *at - 20 : 0));
    }
    if (code_line) {
      for (std::size_t i = 0; i < e.block_rules.size(); ++i) {
        auto& c = e.block_rules[i];
        auto& b = blocks[i];
        if (c.pat >= 0 && full[static_cast<std::size_t>(c.pat)] && !b.pat_line) b.pat_line = n, b.pat_text = line;
        if (c.also >= 0 && full[static_cast<std::size_t>(c.also)] && !b.also_line) b.also_line = n, b.also_text = line;
        if (c.unless >= 0 && full[static_cast<std::size_t>(c.unless)]) b.unless = true;
      }
    }
    split_detector(line, n, out);
  }
  end_block();

  unicode_detectors(text, out);
  if (markdown) comment_detector(text, out);
  manifest_detector(name, text, out);
  return out.take();
}

bool any_at_or_above(const std::vector<finding>& f, severity s) {
  return std::any_of(f.begin(), f.end(), [s](auto& x) { return x.r->sev >= s; });
}

}  // namespace weft::scan
