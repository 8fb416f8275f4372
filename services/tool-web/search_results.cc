#include "search_results.hh"

#include <algorithm>

#include "html_text.hh"

namespace weft::tools {

namespace {

/// `j[k]` when `j` is an object and that is a string, else "" (outside input: never throws).
std::string text_of(const json& j, const char* k) {
  if (!j.is_object()) return {};
  auto it = j.find(k);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

/// `s` cut to at most `n` bytes, not inside a UTF-8 character, "…" marking a cut.
std::string cut(std::string s, std::size_t n) {
  if (s.size() <= n) return s;
  std::size_t at = n;
  while (at > 0 && (static_cast<unsigned char>(s[at]) & 0xc0) == 0x80) --at;
  s.resize(at);
  return s + "…";
}

bool http_url(std::string_view u) { return u.rfind("https://", 0) == 0 || u.rfind("http://", 0) == 0; }

}  // namespace

std::string first_string(const json& j, std::initializer_list<const char*> keys) {
  for (auto* k : keys)
    if (auto v = text_of(j, k); !v.empty()) return v;
  return {};
}

std::string one_line(const std::string& html, std::size_t cap) {
  auto t = html_to_text(html);
  std::string out;
  out.reserve(t.size());
  for (char c : t) {
    if (c == '\n' || c == '\t' || c == '\r') c = ' ';
    if (c == ' ' && (out.empty() || out.back() == ' ')) continue;
    out += c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return cut(std::move(out), cap);
}

std::string_view provider_name(search_provider p) {
  switch (p) {
    case search_provider::searxng: return "searxng";
    case search_provider::brave: return "brave";
    case search_provider::tavily: return "tavily";
    case search_provider::json: return "json";
  }
  return "?";
}

result<std::vector<search_hit>> parse_results(search_provider p, std::string_view body, const std::string& results_path,
                                              std::size_t limit, const search_caps& caps) {
  auto j = json::parse(body, nullptr, false);
  if (j.is_discarded()) return fail(errc::malformed, "the answer is not JSON");
  if (!j.is_object() && p != search_provider::json) return fail(errc::malformed, "the answer is not a JSON object");
  const json* list = nullptr;
  const char* snippet_key = "content";
  switch (p) {
    case search_provider::searxng:
    case search_provider::tavily:
      if (auto it = j.find("results"); it != j.end() && it->is_array()) list = &*it;
      else return fail(errc::malformed, "the answer has no 'results' list");
      break;
    case search_provider::brave: {
      snippet_key = "description";
      auto web = j.find("web");
      if (web == j.end()) return std::vector<search_hit>{};  // Brave leaves "web" out when nothing was found
      if (!web->is_object() || !web->contains("results") || !(*web)["results"].is_array())
        return fail(errc::malformed, "the answer's 'web' has no 'results' list");
      list = &(*web)["results"];
      break;
    }
    case search_provider::json: {
      json::json_pointer ptr;
      try {
        ptr = json::json_pointer(results_path);
      } catch (const json::exception&) {
        return fail(errc::malformed, "results_path '{}' is not a JSON pointer", results_path);
      }
      if (!j.contains(ptr) || !j.at(ptr).is_array())
        return fail(errc::malformed, "the answer has no list at '{}'", results_path);
      list = &j.at(ptr);
      break;
    }
  }
  std::vector<search_hit> out;
  for (auto& item : *list) {
    if (out.size() >= limit) break;
    search_hit h;
    if (p == search_provider::json) {
      h.url = first_string(item, {"url", "link", "href"});
      h.title = first_string(item, {"title", "name"});
      h.snippet = first_string(item, {"snippet", "content", "description", "body"});
    } else {
      h.url = text_of(item, "url");
      h.title = text_of(item, "title");
      h.snippet = text_of(item, snippet_key);
    }
    // Only web links are offered: a javascript: or file: URL is no result to follow.
    if (!http_url(h.url) || h.url.size() > caps.url_bytes ||
        std::any_of(h.url.begin(), h.url.end(), [](unsigned char c) { return c <= 0x20 || c == 0x7f; }))
      continue;
    h.title = one_line(h.title, caps.title_bytes);
    h.snippet = one_line(h.snippet, caps.snippet_bytes);
    out.push_back(std::move(h));
  }
  return out;
}

}  // namespace weft::tools
