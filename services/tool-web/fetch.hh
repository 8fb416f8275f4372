#pragma once
/// The web tool family: `web_fetch` gets one http(s) URL with libcurl and returns its
/// status, content type and text. The target's address is checked on every connection
/// curl opens (redirects included, after DNS), so a name that resolves to a private or
/// loopback address — even one that changes between lookups — is refused
/// (weft::net::forbidden_reason, the rule the egress proxy applies too).

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include <weft/toolserver/tool.hh>

#include "html_text.hh"

namespace weft::tools {

struct web_limits {
  std::size_t default_max_bytes = 1024 * 1024;
  std::size_t max_max_bytes = 10 * 1024 * 1024;  ///< a caller's max_bytes is clamped to this
  /// Text returned to the model (after HTML reduction); also keeps the reply well under
  /// the bus's message limit (1 MiB by default).
  std::size_t max_content = 256 * 1024;
  std::chrono::milliseconds default_timeout{20000};
  std::chrono::milliseconds max_timeout{120000};
  long max_redirects = 5;
  bool allow_private = false;  ///< $WEFT_WEB_ALLOW_PRIVATE=1: loopback and private targets allowed
};

/// web_fetch{url, max_bytes?, timeout_ms?}. Blocks the calling (worker) thread.
result<tool::result> web_fetch(const json& args, const call_context& ctx, const web_limits& lim = {});

std::vector<tool_def> web_tools(web_limits lim = {});

}  // namespace weft::tools
