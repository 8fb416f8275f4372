#include "search.hh"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace weft::tools {

namespace {

std::string url_encode(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string replace_all(std::string s, std::string_view what, const std::string& with) {
  for (auto at = s.find(what); at != std::string::npos; at = s.find(what, at + with.size())) s.replace(at, what.size(), with);
  return s;
}

/// What a provider said about an error, from the shapes they use: Brave
/// {"error":{"detail"}}, Tavily {"detail":{"error"}}, SearXNG and others {"error"},
/// {"message"}, {"detail"}; else the start of a short text body.
std::string provider_detail(std::string_view body) {
  auto j = json::parse(body, nullptr, false);
  std::string d;
  if (j.is_object()) {
    if (auto it = j.find("error"); it != j.end() && it->is_object()) d = first_string(*it, {"detail", "message", "code"});
    if (auto it = j.find("detail"); d.empty() && it != j.end() && it->is_object()) d = first_string(*it, {"error", "message"});
    if (d.empty()) d = first_string(j, {"error", "message", "detail"});
  } else if (!j.is_discarded()) {
    return {};
  } else if (body.find('\0') == std::string_view::npos) {
    d = std::string(body.substr(0, 400));
  }
  return one_line(d, 200);
}

std::string status_advice(search_provider p, long status) {
  if (status == 401 || (status == 403 && p != search_provider::searxng))
    return fmt::format("HTTP {} (check [tools.web_search] api_key)", status);
  if (status == 403)
    return "HTTP 403 (a SearXNG instance refuses format=json unless its settings.yml lists json in search.formats)";
  if (status == 429) return "HTTP 429: the provider's rate limit was reached; try again later";
  if (status >= 500) return fmt::format("HTTP {}: the provider failed; try again later", status);
  return fmt::format("HTTP {}", status);
}

}  // namespace

web_request search_request(const search_settings& s, const std::string& query, unsigned count) {
  web_request r;
  r.headers.push_back("Accept: application/json");
  auto q = url_encode(query);
  switch (s.provider) {
    case search_provider::searxng:
      r.url = fmt::format("{}/search?q={}&format=json", s.base_url, q);
      if (!s.api_key.empty()) r.headers.push_back("Authorization: Bearer " + s.api_key);
      break;
    case search_provider::brave:
      r.url = fmt::format("{}/res/v1/web/search?q={}&count={}", s.base_url, q, count);
      if (!s.api_key.empty()) r.headers.push_back("X-Subscription-Token: " + s.api_key);
      break;
    case search_provider::tavily:
      r.method = "POST";
      r.url = s.base_url + "/search";
      r.headers.push_back("Content-Type: application/json");
      if (!s.api_key.empty()) r.headers.push_back("Authorization: Bearer " + s.api_key);
      r.body = json{{"query", query}, {"max_results", count}}.dump();
      break;
    case search_provider::json:
      r.url = replace_all(replace_all(s.base_url, "{query}", q), "{count}", std::to_string(count));
      if (!s.api_key.empty()) r.headers.push_back("Authorization: Bearer " + s.api_key);
      break;
  }
  r.timeout = s.timeout;
  return r;
}

result<tool::result> web_search(const json& args, const call_context& ctx, const search_settings& s, const web_limits& lim,
                                const search_caps& caps) {
  auto query = string_arg(args, "query");
  if (!query) return query.take_error();
  auto count_arg = optional_uint_arg(args, "count");
  if (!count_arg) return count_arg.take_error();
  std::string q = *query;
  auto blank = [](unsigned char c) { return std::isspace(c) != 0; };
  q.erase(q.begin(), std::find_if_not(q.begin(), q.end(), blank));
  q.erase(std::find_if_not(q.rbegin(), q.rend(), blank).base(), q.end());
  if (q.empty()) return tool::make(tool::error_code::bad_arguments, "argument 'query' must not be empty");
  if (q.size() > caps.max_query_bytes)
    return tool::make(tool::error_code::bad_arguments, "argument 'query' is {} bytes long; at most {}", q.size(),
                      caps.max_query_bytes);
  if (std::any_of(q.begin(), q.end(), [](unsigned char c) { return c < 0x20 && c != '\t'; }))
    return tool::make(tool::error_code::bad_arguments, "argument 'query' must be one line of text");
  unsigned count = s.max_results;
  if (*count_arg) {
    if (**count_arg < 1 || **count_arg > s.max_results)
      return tool::make(tool::error_code::bad_arguments, "argument 'count' must be 1 to {}, not {}", s.max_results,
                        **count_arg);
    count = static_cast<unsigned>(**count_arg);
  }

  auto name = provider_name(s.provider);
  auto req = search_request(s, q, count);
  if (ctx.call.timeout_ms) req.timeout = std::min(req.timeout, std::chrono::milliseconds(ctx.call.timeout_ms));
  req.max_bytes = caps.max_response_bytes;
  req.allow_private = s.allow_private || lim.allow_private;
  auto r = web_transfer(req, ctx);
  switch (r.outcome) {
    case web_outcome::answered:
      break;
    case web_outcome::blocked:
      return tool::make(tool::error_code::denied,
                        "Failed to search with '{}': {}, which tools may not reach (set [tools.web_search] "
                        "allow_private = true for a provider on this machine or the LAN)",
                        name, r.reason);
    case web_outcome::timed_out:
      return tool::make(tool::error_code::timeout,
                        "Failed to search with '{}': no answer within {} ms (see [tools.web_search] timeout_ms)", name,
                        req.timeout.count());
    case web_outcome::cancelled:
      return tool::make(tool::error_code::failed, "Failed to search with '{}': cancelled, tool-web is stopping", name);
    case web_outcome::failed:
      return tool::make(tool::error_code::failed, "Failed to search with '{}': {} (check [tools.web_search] base_url)",
                        name, r.reason);
  }
  if (r.status < 200 || r.status > 299) {
    auto detail = provider_detail(r.body);
    return tool::make(tool::error_code::failed, "Failed to search with '{}': {}{}", name, status_advice(s.provider, r.status),
                      detail.empty() ? std::string() : fmt::format(": '{}'", detail));
  }
  if (r.truncated)
    return tool::make(tool::error_code::failed, "Failed to search with '{}': the answer passed {} bytes", name,
                      caps.max_response_bytes);
  auto hits = parse_results(s.provider, r.body, s.results_path, count, caps);
  if (!hits) return tool::make(tool::error_code::failed, "Failed to search with '{}': {}", name, hits.err().message);

  json list = json::array();
  std::string text;
  bool truncated = false;
  std::size_t shown = 0;
  for (auto& h : *hits) {
    std::string entry = fmt::format("{}. {}{}\n", shown + 1, h.title.empty() ? "" : h.title + " — ", h.url);
    if (!h.snippet.empty()) entry += fmt::format("   {}\n", h.snippet);
    if (text.size() + entry.size() > caps.total_bytes) {
      truncated = true;
      break;
    }
    text += entry;
    list.push_back({{"title", h.title}, {"url", h.url}, {"snippet", h.snippet}});
    ++shown;
  }
  std::string head = shown == 0 ? fmt::format("No results for '{}' from {}.\n", q, name)
                                 : fmt::format("Results for '{}' from {}:\n", q, name);
  if (truncated)
    text += fmt::format("[… {} more results not shown: the list is cut at {} bytes]\n", hits->size() - shown,
                        caps.total_bytes);
  auto out = answer(head + text, {{"provider", name}, {"query", q}, {"results", std::move(list)}});
  out.truncated = truncated;
  return out;
}

tool_def web_search_tool(search_settings s, web_limits lim) {
  auto name = provider_name(s.provider);
  return {{"web_search",
           fmt::format("Search the web ({}) and return up to count results (default and at most {}), each a title, "
                       "a URL and a snippet. Read a result with web_fetch.",
                       name, s.max_results),
           fmt::format(
               R"json({{"type":"object","properties":{{"query":{{"type":"string","minLength":1,"maxLength":{},"description":"What to search for"}},"count":{{"type":"integer","minimum":1,"maximum":{},"description":"How many results (default {})"}}}},"required":["query"],"additionalProperties":false}})json",
               search_caps{}.max_query_bytes, s.max_results, s.max_results)},
          [s, lim](const json& args, const call_context& ctx) { return web_search(args, ctx, s, lim); }};
}

}  // namespace weft::tools
