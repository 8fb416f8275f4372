#include <weft/skills/skills.hh>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/ranges.h>

namespace weft::skills {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t max_skill_bytes = 50 * 1024;

bool truthy(const std::string& s) { return s == "true" || s == "yes" || s == "on" || s == "True"; }

std::string as_text(const fm_value& v) {
  if (v.k == fm_value::kind::list) return fmt::format("{}", fmt::join(v.list, " "));
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
    else if (k == "network") s.network = as_list(v);
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
    for (auto it = fs::directory_iterator(d.path, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
      // A hidden folder is not a skill: `weftctl skill install` stages its copies under
      // '.<name>.install-…' until they are complete.
      if (it->path().filename().string().front() == '.') continue;
      if (it->is_directory(ec)) folders.push_back(it->path());
    }
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

}  // namespace weft::skills
