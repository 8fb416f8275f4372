#include "cli.hh"

#include <algorithm>
#include <cctype>
#include <ostream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace weft::ctl::cli {

namespace {

/// The exit code of every usage error.
constexpr int usage_exit = 2;

/// A usage error found by weftctl's own checks; its text is shown as is.
class usage_failure : public CLI::ParseError {
 public:
  explicit usage_failure(std::string what) : CLI::ParseError("UsageFailure", std::move(what), usage_exit) {}
};

bool visible(const CLI::Option* o) { return !o->get_group().empty(); }
bool visible(const CLI::App* a) { return !a->get_group().empty(); }
bool takes_value(const CLI::Option* o) { return o->get_items_expected_max() != 0; }
bool option_like(std::string_view a) { return a.size() > 1 && a[0] == '-' && a != "--"; }

/// "-a, --agent ID": the names as typed, and what the option takes.
std::string option_label(const CLI::Option* o) {
  std::vector<std::string> names;
  for (auto& s : o->get_snames()) names.push_back("-" + s);
  for (auto& l : o->get_lnames()) names.push_back("--" + l);
  auto label = fmt::format("{}", fmt::join(names, ", "));
  if (takes_value(o)) label += " " + o->get_type_name();
  return label;
}

/// Columns a string takes on a terminal: its code points (weft's texts have no wide ones).
std::size_t width_of(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

/// Two columns: `rows` of (left, text), the text wrapped lines aligned after the widest
/// left column (at most 30 wide: a longer left stands alone on its line).
std::string columns(const std::vector<std::pair<std::string, std::string>>& rows) {
  constexpr std::size_t indent = 2, max_left = 30;
  std::size_t width = 0;
  for (auto& [l, t] : rows)
    if (width_of(l) <= max_left) width = std::max(width, width_of(l));
  std::string out;
  auto pad = std::string(indent + width + 2, ' ');
  for (auto& [l, t] : rows) {
    out += std::string(indent, ' ') + l;
    std::istringstream lines(t);
    std::string line;
    bool first = true;
    while (std::getline(lines, line)) {
      if (first && width_of(l) <= width)
        out += std::string(width - width_of(l) + 2, ' ') + line + "\n";
      else
        out += (first ? "\n" : "") + pad + line + "\n";
      first = false;
    }
    if (first) out += "\n";
  }
  return out;
}

const CLI::App* root_of(const CLI::App* a) {
  while (a->get_parent()) a = a->get_parent();
  return a;
}

std::string words(std::string_view program, const CLI::App* app) {
  auto path = command_path(app);
  return path.empty() ? std::string(program) : fmt::format("{} {}", program, path);
}

/// The option `name` of `app` or of a command above it (their options apply below: fallthrough).
const CLI::Option* find_option(const CLI::App* app, const std::string& name) {
  for (; app; app = app->get_parent())
    if (auto* o = app->get_option_no_throw(name)) return o;
  return nullptr;
}

const CLI::App* find_subcommand(const CLI::App* app, const std::string& name) {
  for (auto* s : app->get_subcommands([](const CLI::App*) { return true; }))
    if (s->check_name(name)) return s;
  return nullptr;
}

std::string quoted_list(const std::vector<std::string>& v) {
  std::vector<std::string> q;
  for (auto& s : v) q.push_back("'" + s + "'");
  return fmt::format("{}", fmt::join(q, ", "));
}

/// Whether `e` is a `Error`: by type, as CLI11 names some errors after the command they happened in.
template <class Error>
bool is(const CLI::ParseError& e) {
  return dynamic_cast<const Error*>(&e) != nullptr;
}

/// The sentence after "error: " for a parse error of `root`.
std::string message(const CLI::App& root, const CLI::ParseError& e) {
  const CLI::App* sel = selected_command(root);
  auto path = command_path(sel);
  std::string what = e.what();
  bool required = is<CLI::RequiredError>(e);
  if (required && what.rfind("A subcommand", 0) == 0) {
    std::vector<std::string> words;
    for (auto& w : root.remaining(/*recurse=*/true))
      if (!option_like(w)) words.push_back(w);
    if (!words.empty())
      return path.empty() ? fmt::format("unknown command '{}'", words[0])
                          : fmt::format("unknown {} command '{}'", path, words[0]);
    if (path.empty()) return "no command given";
    std::vector<std::string> subs;
    for (auto* s : sel->get_subcommands([](const CLI::App* s) { return visible(s); })) subs.push_back(s->get_name());
    return fmt::format("'{}' needs a command: {}", path, fmt::join(subs, ", "));
  }
  if (required) {
    // "<name> is required": say what the command needs, with what the option takes.
    auto missing = what.substr(0, what.find(" is required"));
    const CLI::Option* o = find_option(sel, missing);
    auto needed = o && takes_value(o) && !o->get_positional() ? missing + " " + o->get_type_name() : missing;
    return path.empty() ? fmt::format("{} is required", needed) : fmt::format("{} needs {}", path, needed);
  }
  if (is<CLI::ExtrasError>(e)) {
    auto extras = root.remaining(/*recurse=*/true);
    auto where = path.empty() ? std::string() : fmt::format(" for '{}'", path);
    if (extras.size() == 1) return fmt::format("unknown argument '{}'{}", extras[0], where);
    return fmt::format("unknown arguments {}{}", quoted_list(extras), where);
  }
  if (is<CLI::ArgumentMismatch>(e)) {
    // "<name>: 1 required <TYPE> missing"
    auto opt = what.substr(0, what.find(':'));
    const CLI::Option* o = find_option(sel, opt);
    if (o && what.find(" missing") != std::string::npos) return fmt::format("{} needs {}", opt, o->get_type_name());
    return what;
  }
  if (is<CLI::ValidationError>(e)) {
    // "<name>: needs …" from `needs`: "<name> needs …".
    auto colon = what.find(": needs ");
    if (colon != std::string::npos) return what.substr(0, colon) + what.substr(colon + 1);
  }
  return what;
}

/// Cuts a trailing command off `args` into its `words` (see trailing_command).
void split_trailing(const CLI::App& root, std::vector<std::string>& args, const std::vector<trailing_command>& all) {
  const CLI::App* cur = &root;
  const trailing_command* tc = nullptr;
  std::size_t positionals = 0;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& a = args[i];
    if (a == "--") {
      if (tc && positionals >= tc->leading) {
        tc->words->assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
        args.resize(i);
      }
      return;
    }
    if (option_like(a)) {
      auto eq = a.find('=');
      const CLI::Option* o = find_option(cur, a.substr(0, eq));
      if (o && takes_value(o) && eq == std::string::npos) ++i;  // its value
      continue;
    }
    if (tc) {
      if (positionals++ < tc->leading) continue;
      tc->words->assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
      args.resize(i);
      return;
    }
    if (auto* sub = find_subcommand(cur, a)) {
      cur = sub;
      for (auto& t : all)
        if (t.app == sub) tc = &t;
    }
  }
}

}  // namespace

std::string command_path(const CLI::App* app) {
  std::vector<std::string> words;
  for (; app && app->get_parent(); app = app->get_parent()) words.push_back(app->get_name());
  std::reverse(words.begin(), words.end());
  return fmt::format("{}", fmt::join(words, " "));
}

const CLI::App* selected_command(const CLI::App& root) {
  const CLI::App* cur = &root;
  for (;;) {
    auto subs = cur->get_subcommands();
    if (subs.empty()) return cur;
    cur = subs.front();
  }
}

const command_text* help_formatter::text_of(const CLI::App* app) const {
  auto it = _text.find(app);
  return it == _text.end() ? nullptr : &it->second;
}

std::string help_formatter::usage_of(const CLI::App* app) const {
  if (auto* t = text_of(app); t && !t->usage.empty()) {
    // One line per form: "weftctl mcp add … COMMAND" and "weftctl mcp add … URL".
    std::string out;
    std::istringstream forms(t->usage);
    for (std::string form; std::getline(forms, form);)
      out += (out.empty() ? "" : "\n       ") + fmt::format("{} {}", _program, form);
    return out;
  }
  auto out = words(_program, app);
  if (!app->get_subcommands([](const CLI::App*) { return true; }).empty()) out += " COMMAND";
  auto opts = app->get_options([&](const CLI::Option* o) { return !o->get_positional() && o != app->get_help_ptr(); });
  if (!opts.empty()) out += " [OPTIONS]";
  for (auto* p : app->get_options([](const CLI::Option* o) { return o->get_positional(); }))
    out += " " + p->get_name(/*positional=*/true);
  return out;
}

std::string help_formatter::make_help(const CLI::App* app, std::string, CLI::AppFormatMode) const {
  std::string out = "usage: " + usage_of(app) + "\n";
  auto* text = text_of(app);
  if (auto d = text && !text->about.empty() ? text->about : app->get_description(); !d.empty()) {
    // A command's one-line description ("store a note") as a sentence.
    d[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(d[0])));
    if (d.find('\n') == std::string::npos && d.back() != '.' && d.back() != ')') d += '.';
    out += "\n" + d + "\n";
  }

  std::vector<std::pair<std::string, std::string>> rows;
  auto path = words(_program, app);
  for (auto* s : app->get_subcommands([](const CLI::App* s) { return visible(s); })) {
    auto* t = text_of(s);
    std::string left = t && !t->synopsis.empty() ? t->synopsis : usage_of(s);
    if (left.rfind(path + " ", 0) == 0) left = left.substr(path.size() + 1);
    rows.emplace_back(left, s->get_description().substr(0, s->get_description().find('\n')));
  }
  if (!rows.empty()) out += "\nCommands:\n" + columns(rows);

  rows.clear();
  for (auto* p : app->get_options([](const CLI::Option* o) { return o->get_positional() && visible(o); }))
    if (!p->get_description().empty()) rows.emplace_back(p->get_name(/*positional=*/true), p->get_description());
  if (!rows.empty()) out += "\nArguments:\n" + columns(rows);

  rows.clear();
  for (auto* o : app->get_options(
           [&](const CLI::Option* o) { return !o->get_positional() && visible(o) && o != app->get_help_ptr(); }))
    rows.emplace_back(option_label(o), o->get_description());
  if (auto* h = app->get_help_ptr()) rows.emplace_back(option_label(h), h->get_description());  // last
  if (!rows.empty()) out += "\nOptions:\n" + columns(rows);

  if (app->get_parent()) {
    std::vector<std::string> globals;
    auto* root = root_of(app);
    for (auto* o : root->get_options([&](const CLI::Option* o) {
           return !o->get_positional() && visible(o) && o != root->get_help_ptr() && o != root->get_version_ptr();
         })) {
      auto label = option_label(o);
      if (auto comma = label.find(", "); comma != std::string::npos) label.replace(comma, 2, "/");
      globals.push_back(label);
    }
    if (!globals.empty())
      out += fmt::format("\nGlobal options (before or after the command; see '{} --help'):\n  {}\n", _program,
                         fmt::join(globals, ", "));
  }
  if (text && !text->notes.empty()) out += "\n" + text->notes + (text->notes.back() == '\n' ? "" : "\n");
  return out;
}

CLI::Validator needs(std::string what, std::function<bool(const std::string&)> ok) {
  return CLI::Validator(
      [what = std::move(what), ok = std::move(ok)](std::string& v) -> std::string {
        return ok(v) ? std::string() : fmt::format("needs {}, not '{}'", what, v);
      },
      /*validator_desc=*/"");
}

CLI::Validator one_of(std::vector<std::string> values) {
  std::string what;
  for (std::size_t i = 0; i < values.size(); ++i)
    what += (i == 0 ? "" : i + 1 == values.size() ? " or " : ", ") + values[i];
  return needs(what, [values = std::move(values)](const std::string& v) {
    return std::find(values.begin(), values.end(), v) != values.end();
  });
}

CLI::Validator number_in(long min, long max, std::string what) {
  return needs(std::move(what), [min, max](const std::string& v) {
    char* end = nullptr;
    errno = 0;
    long n = std::strtol(v.c_str(), &end, 10);
    return !v.empty() && *end == '\0' && errno == 0 && n >= min && n <= max;
  });
}

void usage(std::string what) { throw usage_failure(std::move(what)); }

std::optional<int> parse(CLI::App& app, std::vector<std::string> args, const std::vector<trailing_command>& trailing,
                         std::ostream& out, std::ostream& err) {
  for (auto& t : trailing) t.words->clear();
  split_trailing(app, args, trailing);
  std::reverse(args.begin(), args.end());  // CLI11 takes the words last first
  try {
    app.parse(args);
    return std::nullopt;
  } catch (const CLI::CallForHelp&) {
    out << app.help();
    return 0;
  } catch (const CLI::CallForAllHelp&) {
    out << app.help();
    return 0;
  } catch (const CLI::CallForVersion& e) {
    out << e.what() << "\n";
    return 0;
  } catch (const CLI::ParseError& e) {
    auto* f = dynamic_cast<const help_formatter*>(app.get_formatter().get());
    auto program = f ? f->program() : app.get_name();
    auto path = command_path(selected_command(app));
    err << "error: " << message(app, e) << "\n"
        << "Try '" << (path.empty() ? program : program + " " + path) << " --help'.\n";
    return usage_exit;
  }
}

std::string bash_completion(const CLI::App& app, const std::vector<std::string>& names) {
  // Every command's words (its commands and options, with the global ones), keyed by its
  // path; the options that take a value, by what the value is.
  std::vector<std::pair<std::string, std::string>> nodes;
  std::vector<std::string> file_nodes;                     // commands that take a FILE argument
  std::vector<std::pair<std::string, std::string>> moves;  // "path|word" -> next path
  std::set<std::string> file_opts, dir_opts, value_opts;
  std::vector<std::string> globals;
  auto names_of = [](const CLI::Option* o) {
    std::vector<std::string> n;
    for (auto& s : o->get_snames()) n.push_back("-" + s);
    for (auto& l : o->get_lnames()) n.push_back("--" + l);
    return n;
  };
  auto note_values = [&](const CLI::Option* o) {
    if (!takes_value(o)) return;
    auto type = o->get_type_name();
    auto& set = type == "FILE" ? file_opts : type == "DIR" ? dir_opts : value_opts;
    for (auto& n : names_of(o)) set.insert(n);
  };
  for (auto* o : app.get_options([](const CLI::Option* o) { return !o->get_positional(); })) {
    note_values(o);
    if (visible(o) && o != app.get_help_ptr())
      for (auto& n : names_of(o)) globals.push_back(n);
  }
  std::function<void(const CLI::App*)> walk = [&](const CLI::App* a) {
    auto path = command_path(a);
    std::vector<std::string> w;
    for (auto* s : a->get_subcommands([](const CLI::App*) { return true; })) {
      w.push_back(s->get_name());
      moves.emplace_back(path + "|" + s->get_name(), command_path(s));
    }
    for (auto* o : a->get_options([](const CLI::Option* o) { return !o->get_positional(); })) {
      if (a->get_parent()) note_values(o);
      if (visible(o) || o == a->get_help_ptr())
        for (auto& n : names_of(o))
          if (std::find(w.begin(), w.end(), n) == w.end()) w.push_back(n);
    }
    for (auto& g : globals)
      if (std::find(w.begin(), w.end(), g) == w.end()) w.push_back(g);
    nodes.emplace_back(path, fmt::format("{}", fmt::join(w, " ")));
    for (auto* p : a->get_options([](const CLI::Option* o) { return o->get_positional(); }))
      if (p->get_type_name() == "FILE") file_nodes.push_back(path);
    for (auto* s : a->get_subcommands([](const CLI::App*) { return true; })) walk(s);
  };
  walk(&app);

  auto alternatives = [](const std::set<std::string>& s) { return fmt::format("{}", fmt::join(s, "|")); };
  auto fn = "_" + names.front();
  for (auto& c : fn)
    if (c == '-') c = '_';
  std::string out = fmt::format(
      "# bash completion for {0}, generated by `{0} completion bash`. Load it with\n"
      "#   source <({0} completion bash)\n"
      "# or save it as /usr/share/bash-completion/completions/{0}.\n"
      "{1}() {{\n"
      "  local cur=${{COMP_WORDS[COMP_CWORD]}} prev=${{COMP_WORDS[COMP_CWORD-1]}}\n"
      "  local node='' i word skip=0\n"
      "  # The command being typed: follow the command words, skipping option values.\n"
      "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
      "    word=${{COMP_WORDS[i]}}\n"
      "    if ((skip)); then skip=0; continue; fi\n"
      "    case \"$node|$word\" in\n",
      names.front(), fn);
  for (auto& [from, to] : moves) out += fmt::format("      '{}') node='{}' ;;\n", from, to);
  std::set<std::string> all_values = file_opts;
  all_values.insert(dir_opts.begin(), dir_opts.end());
  all_values.insert(value_opts.begin(), value_opts.end());
  if (!all_values.empty())
    out += fmt::format("      *)\n        case \"$word\" in {}) skip=1 ;; esac ;;\n", alternatives(all_values));
  out += "    esac\n  done\n  case \"$prev\" in\n";
  if (!file_opts.empty())
    out += fmt::format("    {}) COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n", alternatives(file_opts));
  if (!dir_opts.empty())
    out += fmt::format("    {}) COMPREPLY=($(compgen -d -- \"$cur\")); return ;;\n", alternatives(dir_opts));
  if (!value_opts.empty()) out += fmt::format("    {}) COMPREPLY=(); return ;;\n", alternatives(value_opts));
  out += "  esac\n  local words\n  case \"$node\" in\n";
  for (auto& [path, w] : nodes) out += fmt::format("    '{}') words='{}' ;;\n", path, w);
  out += "  esac\n  COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n";
  if (!file_nodes.empty()) {
    std::vector<std::string> q;
    for (auto& n : file_nodes) q.push_back("'" + n + "'");
    out += fmt::format("  case \"$node\" in {}) [[ $cur == -* ]] || COMPREPLY+=($(compgen -f -- \"$cur\")) ;; esac\n",
                       fmt::join(q, "|"));
  }
  out += fmt::format(
      "}}\n"
      "complete -F {} {}\n",
      fn, fmt::join(names, " "));
  return out;
}

}  // namespace weft::ctl::cli
