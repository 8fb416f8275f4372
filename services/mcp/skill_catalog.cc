#include "services/mcp/skill_catalog.hh"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <set>
#include <sstream>

#include <weft/base/fd.hh>
#include <weft/base/io.hh>
#include <weft/mcp/jsonrpc.hh>

namespace weft::mcpsrv {

namespace {

result<std::string> read_small(const std::string& path, std::size_t max) {
  unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return fail(errc::io, "Failed to open '{}': {}", path, std::strerror(errno));
  return read_to_end(fd.get(), max);
}

bool starts_with_folded(std::string_view text, std::string_view prefix) {
  if (prefix.size() > text.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(text[i])) != std::tolower(static_cast<unsigned char>(prefix[i])))
      return false;
  return true;
}

/// The literal words opening each alternative of an argument-hint ("add [tag] | list" →
/// "add", "list"); placeholders ([x], <x>, {x}) end an alternative's words.
std::vector<std::string> hint_words(std::string_view hint) {
  std::vector<std::string> out;
  while (!hint.empty()) {
    auto bar = hint.find('|');
    auto alt = hint.substr(0, bar);
    hint = bar == std::string_view::npos ? std::string_view() : hint.substr(bar + 1);
    std::istringstream in{std::string(alt)};
    std::string words;
    for (std::string w; in >> w;) {
      if (w.front() == '[' || w.front() == '<' || w.front() == '{') break;
      words += (words.empty() ? "" : " ") + w;
    }
    if (!words.empty() && std::find(out.begin(), out.end(), words) == out.end()) out.push_back(std::move(words));
  }
  return out;
}

json completion(const std::vector<std::string>& candidates, std::string_view typed) {
  json values = json::array();
  for (auto& c : candidates)
    if (starts_with_folded(c, typed)) values.push_back(c);
  auto n = values.size();
  return json{{"completion", {{"values", std::move(values)}, {"total", n}, {"hasMore", false}}}};
}

}  // namespace

skill_catalog::changes skill_catalog::refresh(std::vector<std::string>& warnings) {
  std::vector<std::string> found;
  auto now = skills::discover_skills(_dirs, found);
  for (auto& w : found)
    if (std::find(_warned.begin(), _warned.end(), w) == _warned.end()) {
      warnings.push_back(w);
      _warned.push_back(w);
    }
  std::map<std::string, stamp> stamps;
  for (auto& s : now) {
    stamp st{s.path};
    struct stat sb{};
    if (::stat(s.path.c_str(), &sb) == 0) {
      st.mtime_ns = static_cast<std::int64_t>(sb.st_mtim.tv_sec) * 1000000000 + sb.st_mtim.tv_nsec;
      st.size = static_cast<std::int64_t>(sb.st_size);
    }
    stamps.emplace(s.name, std::move(st));
  }
  bool first = _listing.empty();
  _skills = std::move(now);
  auto listing = list_resources().dump() + list_prompts().dump();
  changes c;
  if (!first) {
    c.lists = listing != _listing;
    std::set<std::string> names;
    for (auto& [n, s] : _stamps) names.insert(n);
    for (auto& [n, s] : stamps) names.insert(n);
    for (auto& n : names) {
      auto a = _stamps.find(n);
      auto b = stamps.find(n);
      if (a == _stamps.end() || b == stamps.end() || !(a->second == b->second))
        c.updated.push_back(std::string(skill_uri_prefix) + n);
    }
  }
  _stamps = std::move(stamps);
  _listing = std::move(listing);
  return c;
}

const skills::skill* skill_catalog::find(std::string_view name) const {
  for (auto& s : _skills)
    if (s.name == name) return &s;
  return nullptr;
}

json skill_catalog::list_resources() const {
  json out = json::array();
  for (auto& s : _skills)
    out.push_back({{"uri", std::string(skill_uri_prefix) + s.name},
                   {"name", s.name},
                   {"description", s.description},
                   {"mimeType", "text/markdown"}});
  return json{{"resources", std::move(out)}};
}

json skill_catalog::resource_templates() const {
  return json{{"resourceTemplates",
               json::array({json{{"uriTemplate", skill_uri_template},
                                 {"name", "skill"},
                                 {"title", "A skill by name"},
                                 {"description", "The SKILL.md of one of the agent's skills (names complete)"},
                                 {"mimeType", "text/markdown"}}})}};
}

result<json> skill_catalog::read_resource(const std::string& uri) const {
  const skills::skill* s = nullptr;
  if (uri.rfind(skill_uri_prefix, 0) == 0) s = find(std::string_view(uri).substr(skill_uri_prefix.size()));
  if (!s) return make_error(mcp::domain, mcp::code_name(mcp::code::resource_not_found), "Resource not found: {}", uri);
  auto text = read_small(s->path, max_skill_bytes);
  if (!text) return make_error(mcp::domain, "InternalError", "Failed to read skill '{}': {}", s->name, text.err().message);
  return json{{"contents", json::array({json{{"uri", uri}, {"mimeType", "text/markdown"}, {"text", *text}}})}};
}

json skill_catalog::list_prompts() const {
  json out = json::array();
  for (auto& s : _skills) {
    if (!s.user_invocable) continue;
    out.push_back(
        {{"name", s.name},
         {"description", s.description},
         {"arguments",
          json::array({json{{"name", "request"},
                            {"description", s.argument_hint.empty() ? "What you want done with this skill" : s.argument_hint},
                            {"required", false}}})}});
  }
  return json{{"prompts", std::move(out)}};
}

result<json> skill_catalog::get_prompt(const std::string& name, const json& arguments) const {
  auto* s = find(name);
  if (!s || !s->user_invocable) return make_error(mcp::domain, "InvalidParams", "Unknown prompt: {}", name);
  auto body = skills::load_skill_body(*s);
  if (!body) return make_error(mcp::domain, "InternalError", "Failed to read skill '{}': {}", name, body.err().message);
  std::string text = *body;
  if (auto q = arguments.find("request"); q != arguments.end()) {
    if (!q->is_string()) return make_error(mcp::domain, "InvalidParams", "Invalid params: 'request' must be a string");
    if (!q->get<std::string>().empty()) text += "\n\n" + q->get<std::string>();
  }
  return json{{"description", s->description},
              {"messages", json::array({json{{"role", "user"}, {"content", {{"type", "text"}, {"text", text}}}}})}};
}

result<json> skill_catalog::complete(const json& params) const {
  auto& ref = params["ref"];
  auto arg = params["argument"]["name"].get<std::string>();
  auto typed = params["argument"]["value"].get<std::string>();
  if (ref["type"] == "ref/prompt") {
    auto name = ref["name"].get<std::string>();
    auto* s = find(name);
    if (!s || !s->user_invocable) return make_error(mcp::domain, "InvalidParams", "Unknown prompt: {}", name);
    if (arg != "request") return completion({}, typed);
    return completion(hint_words(s->argument_hint), typed);
  }
  auto uri = ref["uri"].get<std::string>();
  if (uri != skill_uri_template && uri.rfind(skill_uri_prefix, 0) != 0)
    return make_error(mcp::domain, "InvalidParams", "Unknown resource template: {} (weft offers {})", uri,
                      skill_uri_template);
  if (arg != "name") return completion({}, typed);
  std::vector<std::string> names;
  for (auto& s : _skills) names.push_back(s.name);
  return completion(names, typed);
}

}  // namespace weft::mcpsrv
