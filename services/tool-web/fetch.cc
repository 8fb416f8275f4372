#include "fetch.hh"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <memory>

#include "request.hh"

namespace weft::tools {

namespace {

bool is_text_type(std::string_view ct) {
  std::string t(ct.substr(0, ct.find(';')));
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
  return t.empty() || t.rfind("text/", 0) == 0 || t.find("json") != std::string::npos ||
         t.find("xml") != std::string::npos || t.find("javascript") != std::string::npos ||
         t == "application/x-www-form-urlencoded";
}

bool is_html(std::string_view ct) {
  std::string t(ct);
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
  return t.find("html") != std::string::npos;
}

}  // namespace

std::string html_to_text(std::string_view html) {
  std::string out;
  out.reserve(html.size() / 2);
  auto lower_starts = [&](std::size_t i, std::string_view what) {
    if (i + what.size() > html.size()) return false;
    for (std::size_t k = 0; k < what.size(); ++k)
      if (std::tolower(static_cast<unsigned char>(html[i + k])) != what[k]) return false;
    return true;
  };
  auto find_ci = [&](std::size_t from, std::string_view what) {
    for (std::size_t i = from; i + what.size() <= html.size(); ++i)
      if (lower_starts(i, what)) return i;
    return std::string_view::npos;
  };
  static constexpr std::string_view blocks[] = {"p", "br", "div", "li", "ul", "ol", "tr", "h1", "h2", "h3", "h4",
                                                "h5", "h6", "section", "article", "header", "footer", "pre", "table",
                                                "blockquote", "title", "hr"};
  std::size_t i = 0;
  while (i < html.size()) {
    char c = html[i];
    if (c == '<') {
      if (lower_starts(i, "<!--")) {
        auto end = html.find("-->", i + 4);
        i = end == std::string_view::npos ? html.size() : end + 3;
        continue;
      }
      bool skipped = false;
      for (std::string_view tag : {std::string_view("script"), std::string_view("style"), std::string_view("noscript")}) {
        if (lower_starts(i + 1, tag)) {
          auto close = find_ci(i, fmt::format("</{}", tag));
          auto end = close == std::string_view::npos ? std::string_view::npos : html.find('>', close);
          i = end == std::string_view::npos ? html.size() : end + 1;
          skipped = true;
          break;
        }
      }
      if (skipped) continue;
      auto end = html.find('>', i);
      std::size_t name_at = i + 1 + (i + 1 < html.size() && html[i + 1] == '/' ? 1 : 0);
      std::size_t name_end = name_at;
      while (name_end < html.size() && std::isalnum(static_cast<unsigned char>(html[name_end]))) ++name_end;
      std::string name(html.substr(name_at, name_end - name_at));
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char ch) { return std::tolower(ch); });
      bool block = std::find(std::begin(blocks), std::end(blocks), name) != std::end(blocks);
      out += block ? '\n' : ' ';
      i = end == std::string_view::npos ? html.size() : end + 1;
      continue;
    }
    if (c == '&') {
      auto semi = html.find(';', i);
      if (semi != std::string_view::npos && semi - i <= 10) {
        std::string_view ent = html.substr(i + 1, semi - i - 1);
        std::string rep;
        if (ent == "amp") rep = "&";
        else if (ent == "lt") rep = "<";
        else if (ent == "gt") rep = ">";
        else if (ent == "quot") rep = "\"";
        else if (ent == "apos" || ent == "#39") rep = "'";
        else if (ent == "nbsp") rep = " ";
        else if (ent.size() > 1 && ent[0] == '#') {
          unsigned long cp = ent[1] == 'x' || ent[1] == 'X' ? std::strtoul(std::string(ent.substr(2)).c_str(), nullptr, 16)
                                                            : std::strtoul(std::string(ent.substr(1)).c_str(), nullptr, 10);
          if (cp > 0 && cp < 0x80) rep = static_cast<char>(cp);
          else if (cp < 0x800) rep = {static_cast<char>(0xc0 | (cp >> 6)), static_cast<char>(0x80 | (cp & 0x3f))};
          else if (cp < 0x10000)
            rep = {static_cast<char>(0xe0 | (cp >> 12)), static_cast<char>(0x80 | ((cp >> 6) & 0x3f)),
                   static_cast<char>(0x80 | (cp & 0x3f))};
          else if (cp < 0x110000)
            rep = {static_cast<char>(0xf0 | (cp >> 18)), static_cast<char>(0x80 | ((cp >> 12) & 0x3f)),
                   static_cast<char>(0x80 | ((cp >> 6) & 0x3f)), static_cast<char>(0x80 | (cp & 0x3f))};
        }
        if (!rep.empty()) {
          out += rep;
          i = semi + 1;
          continue;
        }
      }
    }
    out += c;
    ++i;
  }
  // Collapse: runs of spaces/tabs to one space, trailing spaces dropped, at most one blank line.
  std::string text;
  text.reserve(out.size());
  int newlines = 0;
  bool space = false;
  for (char ch : out) {
    if (ch == '\r') continue;
    if (ch == '\n') {
      space = false;
      if (!text.empty() && newlines < 2) text += '\n';
      ++newlines;
      continue;
    }
    if (ch == ' ' || ch == '\t' || ch == '\f' || ch == '\v') {
      space = true;
      continue;
    }
    if (space && newlines == 0 && !text.empty()) text += ' ';
    space = false;
    newlines = 0;
    text += ch;
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

result<tool::result> web_fetch(const json& args, const call_context& ctx, const web_limits& lim) {
  auto url = string_arg(args, "url");
  if (!url) return url.take_error();
  auto max_bytes = optional_uint_arg(args, "max_bytes");
  if (!max_bytes) return max_bytes.take_error();
  auto timeout_arg = optional_uint_arg(args, "timeout_ms");
  if (!timeout_arg) return timeout_arg.take_error();

  // The scheme is checked before curl sees the URL (and again by CURLOPT_PROTOCOLS_STR).
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> u(curl_url(), curl_url_cleanup);
  if (!u || curl_url_set(u.get(), CURLUPART_URL, url->c_str(), 0) != CURLUE_OK)
    return tool::make(tool::error_code::bad_arguments, "Failed to fetch '{}': not a valid absolute URL", *url);
  char* scheme = nullptr;
  curl_url_get(u.get(), CURLUPART_SCHEME, &scheme, 0);
  std::string sch = scheme ? scheme : "";
  curl_free(scheme);
  if (sch != "http" && sch != "https")
    return tool::make(tool::error_code::denied, "Failed to fetch '{}': only http and https URLs are allowed", *url);

  std::chrono::milliseconds timeout = lim.default_timeout;
  if (*timeout_arg) timeout = std::chrono::milliseconds(**timeout_arg);
  else if (ctx.call.timeout_ms) timeout = std::chrono::milliseconds(ctx.call.timeout_ms);
  timeout = std::clamp(timeout, std::chrono::milliseconds(1), lim.max_timeout);

  web_request req;
  req.url = *url;
  req.timeout = timeout;
  req.max_bytes = std::clamp<std::size_t>(max_bytes->value_or(lim.default_max_bytes), 1, lim.max_max_bytes);
  req.max_redirects = lim.max_redirects;
  req.allow_private = lim.allow_private;
  auto st = web_transfer(req, ctx);
  switch (st.outcome) {
    case web_outcome::answered:
      break;
    case web_outcome::blocked:
      return tool::make(tool::error_code::denied,
                        "Failed to fetch '{}': {}, which tools may not reach (set WEFT_WEB_ALLOW_PRIVATE=1 in "
                        "tool-web's environment to allow it)",
                        *url, st.reason);
    case web_outcome::timed_out:
      return tool::result{fmt::format("Failed to fetch '{}': timed out after {} ms", *url, timeout.count()), true, false};
    case web_outcome::cancelled:
      return tool::result{fmt::format("Failed to fetch '{}': cancelled, tool-web is stopping", *url), true, false};
    case web_outcome::failed:
      return tool::result{fmt::format("Failed to fetch '{}': {}", *url, st.reason), true, false};
  }
  long status = st.status;
  const std::string& content_type = st.content_type;

  std::string text;
  if (!is_text_type(content_type) || st.body.find('\0') != std::string::npos)
    text = fmt::format("[{} bytes of {} not shown: not text]", st.body.size(), content_type.empty() ? "data" : content_type);
  else if (is_html(content_type))
    text = html_to_text(st.body);
  else
    text = std::move(st.body);
  bool cut = false;
  if (text.size() > lim.max_content) {
    std::size_t n = lim.max_content;
    while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xc0) == 0x80) --n;  // not inside a UTF-8 character
    text.resize(n);
    cut = true;
  }
  std::string out = fmt::format("Status: {}\nContent-Type: {}\nURL: {}\n\n{}", status, content_type, st.url, text);
  if (st.truncated) out += fmt::format("\n[… body cut at {} bytes]", req.max_bytes);
  if (cut) out += fmt::format("\n[… text cut at {} bytes]", lim.max_content);
  return tool::result{std::move(out), status >= 400, st.truncated || cut};
}

std::vector<tool_def> web_tools(web_limits lim) {
  std::vector<tool_def> out;
  out.push_back(
      {{"web_fetch",
        fmt::format("Fetch an http or https URL and return its status, content type and text (HTML is reduced to "
                    "plain text). The body is cut at max_bytes (default {} KiB); the time limit is timeout_ms "
                    "(default {} s). Private and loopback addresses are refused.",
                    lim.default_max_bytes / 1024, lim.default_timeout.count() / 1000),
        fmt::format(
            R"json({{"type":"object","properties":{{"url":{{"type":"string","format":"uri","description":"http:// or https:// URL"}},"max_bytes":{{"type":"integer","minimum":1,"maximum":{},"description":"Body size cap in bytes"}},"timeout_ms":{{"type":"integer","minimum":1,"maximum":{},"description":"Time limit in milliseconds"}}}},"required":["url"],"additionalProperties":false}})json",
            lim.max_max_bytes, lim.max_timeout.count())},
       [lim](const json& args, const call_context& ctx) { return web_fetch(args, ctx, lim); }});
  return out;
}

}  // namespace weft::tools
