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
