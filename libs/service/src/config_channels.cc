// [channels]: telegram and web. The reference is docs/config.md.
#include <weft/service/config.hh>

#include <cstdlib>

#include "config_check.hh"

namespace weft::service {

namespace {

using namespace detail;

// ---------------------------------------------------------------------------------------
// [channels]

telegram_settings read_telegram(checker& ck, const toml::table& t) {
  const std::string label = "[channels.telegram]";
  telegram_settings s;
  s.where = ck.where(t.source());
  ck.check_keys(t, label, {"enabled", "token", "api_base", "mode", "poll_timeout_s", "progress_after_ms",
                           "webhook_listen", "webhook_url", "webhook_secret"});
  s.enabled = ck.read_bool(t, label, "enabled").value_or(s.enabled);
  if (auto token = ck.read_required(t, label, "token")) {
    s.token = *token;
    // The token is a path segment of every API call (/bot<token>/getUpdates).
    if (std::any_of(token->begin(), token->end(), [](char c) {
          return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || any_of_chars(c, "/?#%");
        }))
      ck.error(t.get("token")->source(),
               fmt::format("{} token must not contain spaces, control characters, '/', '?', '#' or '%'", label));
  }
  if (auto base = ck.read_string(t, label, "api_base")) {
    while (base->size() > 1 && base->back() == '/') base->pop_back();
    if (!http_url(*base))
      ck.error(t.get("api_base")->source(),
               fmt::format("{} api_base '{}' is not an http:// or https:// URL", label, clean(*base)));
    s.api_base = *base;
  }
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 2> modes = {
      {{"polling", "polling"}, {"webhook", "webhook"}}};
  s.mode = std::string(ck.read_enum(t, label, "mode", modes).value_or(s.mode));
  s.poll_timeout_s = ck.read_uint(t, label, "poll_timeout_s", std::uint32_t{0}, std::uint32_t{600}).value_or(s.poll_timeout_s);
  s.progress_after_ms = ck.read_uint(t, label, "progress_after_ms", std::uint32_t{0}, std::uint32_t{3600000})
                            .value_or(s.progress_after_ms);
  if (auto listen = ck.read_string(t, label, "webhook_listen")) {
    s.webhook_listen = *listen;
    if (!valid_listen(*listen))
      ck.error(t.get("webhook_listen")->source(),
               fmt::format("{} webhook_listen '{}' is not host:port with a port from 0 to 65535", label,
                           clean(*listen)));
  }
  if (auto url = ck.read_string(t, label, "webhook_url")) {
    s.webhook_url = *url;
    if (!url->empty() && !http_url(*url))
      ck.error(t.get("webhook_url")->source(),
               fmt::format("{} webhook_url '{}' is not an http:// or https:// URL", label, clean(*url)));
  }
  if (auto secret = ck.read_string(t, label, "webhook_secret")) {
    s.webhook_secret = *secret;
    // Telegram's rule for secret_token: 1-256 characters A-Z, a-z, 0-9, '_' and '-'.
    if (secret->size() > 256 ||
        !std::all_of(secret->begin(), secret->end(), [](char c) { return alnum(c) || c == '_' || c == '-'; }))
      ck.error(t.get("webhook_secret")->source(),
               fmt::format("{} webhook_secret must be at most 256 of A-Z, a-z, 0-9, '_' and '-'", label));
  }
  auto* url = t.get("webhook_url");
  if (s.mode == "webhook" && s.webhook_url.empty() && (!url || url->is_string()))
    ck.error((url ? url : t.get("mode"))->source(),
             fmt::format("{} mode 'webhook' needs webhook_url, the public URL Telegram posts updates to", label));
  return s;
}

web_settings read_web(checker& ck, const toml::table& t) {
  const std::string label = "[channels.web]";
  web_settings s;
  s.where = ck.where(t.source());
  ck.check_keys(t, label, {"enabled", "listen", "auth_token"});
  s.enabled = ck.read_bool(t, label, "enabled").value_or(s.enabled);
  s.auth_token = ck.read_string(t, label, "auth_token").value_or(s.auth_token);
  bool listen_ok = true;
  if (auto listen = ck.read_string(t, label, "listen")) {
    s.listen = *listen;
    listen_ok = valid_listen(*listen);
    if (!listen_ok)
      ck.error(t.get("listen")->source(),
               fmt::format("{} listen '{}' is not host:port with a port from 0 to 65535", label, clean(*listen)));
  }
  auto* tok = t.get("auth_token");
  // Not when re-read by a service other than chan-web: the token's variable is chan-web's
  // alone (weftd checked the file with it; chan-web refuses to start without a token itself).
  if (listen_ok && !ck.lenient() && !loopback_host(s.listen) && s.auth_token.empty() && (!tok || tok->is_string()))
    ck.error((tok ? tok : t.get("listen"))->source(),
             fmt::format("{} needs a non-empty auth_token: listen '{}' is not a loopback address, so anyone who "
                         "reaches it could chat with your agents",
                         label, clean(s.listen)));
  return s;
}

}  // namespace

namespace detail {

void read_channels(checker& ck, const toml::table& t, config& c) {
  std::vector<std::string_view> known(channel_names.begin(), channel_names.end());
  known.insert(known.end(), unsupported_channels.begin(), unsupported_channels.end());
  for (auto& [k, v] : t) {
    auto name = k.str();
    if (contains(unsupported_channels, name)) {
      ck.warning(v.source(), fmt::format("channel '[channels.{}]' is not supported by this build yet, ignoring.", name));
      continue;
    }
    if (!contains(channel_names, name)) {
      ck.unknown_key(k, "in [channels]", known);
      continue;
    }
    auto* ct = v.as_table();
    if (!ct) {
      ck.error(v.source(), fmt::format("[channels.{}] must be a table, not {}", name, a_type(v)));
    } else if (name == "telegram") {
      ck.track_env(&c.secret_vars["chan-telegram"]);
      c.channels.telegram = read_telegram(ck, *ct);
      ck.track_env(nullptr);
    } else {
      ck.track_env(&c.secret_vars["chan-web"]);
      c.channels.web = read_web(ck, *ct);
      ck.track_env(nullptr);
    }
  }
}

}  // namespace detail

}  // namespace weft::service
