// weft-chan-telegram — the Telegram channel.
//
// Purpose: connects a Telegram bot to weft. Updates (long polling with getUpdates, or a
// webhook) become io.weft.Chat.v1.Inbound requests to the router; the update is
// acknowledged to Telegram (offset moved, or the webhook answered 200) only after the
// router answered Accepted. The router's Deliver requests become sendMessage (split at
// 4096 UTF-16 units, the first part replying to the original message), sendPhoto or
// sendDocument calls, answered Delivered once Telegram confirmed. Delivered outbox ids are
// remembered in $WEFT_HOME/channels/telegram/delivered so a repeated Deliver sends nothing;
// the polling offset lives in $WEFT_HOME/channels/telegram/offset.
//
// Started by weftd with $WEFT_BUS, $WEFT_ADDRESS (chan/telegram), $WEFT_TOKEN_FD,
// $WEFT_NOTIFY_FD, $WEFT_CONFIG, $WEFT_HOME. Serves: Chat.v1.Deliver. Calls: router
// (Chat.v1.Inbound), the Telegram Bot API over HTTPS.
//
// Example config:
//   [channels.telegram]
//   token = "${TELEGRAM_TOKEN}"
//   mode = "polling"          # or "webhook" with webhook_url, webhook_listen, webhook_secret
//   poll_timeout_s = 30
#include <cstring>

#include <weft/base/log.hh>
#include <weft/service/exit.hh>
#include <weft/service/paths.hh>
#include <weft/service/service_loop.hh>
#include <weft/service/startup.hh>

#include "channel.hh"

using namespace weft;

namespace {
constexpr const char* help_text =
    "usage: weft-chan-telegram [--help]\n"
    "\n"
    "The Telegram channel of weft, started by weftd when [channels.telegram] is configured.\n"
    "Passes messages from a Telegram bot to the router and the router's replies back.\n"
    "\n"
    "Config ([channels.telegram] in the file named by $WEFT_CONFIG):\n"
    "  token           bot token (\"${TELEGRAM_TOKEN}\")\n"
    "  api_base        Bot API base URL (default https://api.telegram.org)\n"
    "  mode            polling | webhook (default polling)\n"
    "  poll_timeout_s  long-poll timeout (default 30)\n"
    "  webhook_listen  host:port of the webhook receiver (default 127.0.0.1:8443)\n"
    "  webhook_url     public URL given to setWebhook\n"
    "  webhook_secret  expected X-Telegram-Bot-Api-Secret-Token\n"
    "\n"
    "Environment: WEFT_BUS, WEFT_ADDRESS, WEFT_TOKEN_FD, WEFT_NOTIFY_FD (from weftd),\n"
    "  WEFT_CONFIG, WEFT_HOME (state in $WEFT_HOME/channels/telegram), WEFT_LOG.\n";
}

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      fmt::print("{}", help_text);
      return 0;
    }
    return service::usage_error("weft-chan-telegram", fmt::format("unknown option '{}'", argv[i]));
  }
  int signal_fd = service::block_stop_signals();  // before any thread exists
  log::configure_from_env();
  auto& lg = log::get("chan-telegram");
  auto cfg = service::load_service_config();
  if (!cfg) return service::exit_with(lg, cfg.err());
  if (!cfg->channels.telegram || !cfg->channels.telegram->enabled) {
    lg.error("Failed to start the Telegram channel: [channels.telegram] is not configured in '{}'", cfg->source);
    return service::to_int(service::exit_code::usage);
  }
  chan::telegram::channel_options o;
  o.settings = *cfg->channels.telegram;
  if (o.settings.token.empty()) {
    lg.error("Failed to start the Telegram channel: [channels.telegram] token is empty (set token = \"${{TELEGRAM_TOKEN}}\")");
    return service::to_int(service::exit_code::usage);
  }
  if (o.settings.mode != "polling" && o.settings.mode != "webhook") {
    lg.error("Failed to start the Telegram channel: mode '{}' is neither polling nor webhook", o.settings.mode);
    return service::to_int(service::exit_code::usage);
  }
  if (o.settings.mode == "webhook" && o.settings.webhook_url.empty()) {
    lg.error("Failed to start the Telegram channel: mode = \"webhook\" needs webhook_url");
    return service::to_int(service::exit_code::usage);
  }
  while (!o.settings.api_base.empty() && o.settings.api_base.back() == '/') o.settings.api_base.pop_back();
  o.state_dir = service::home_dir(cfg->home) + "/channels/telegram";
  auto room = std::uint64_t{64} << 10;  // envelope and the rest of the message
  o.max_blob_bytes = std::min<std::uint64_t>(chan::telegram::max_download_bytes,
                                             cfg->bus.max_message_bytes > room ? cfg->bus.max_message_bytes - room : 0);
  auto opts = ipc::bus_client::options_from_env();
  if (!opts) return service::exit_with(lg, opts.err());
  auto notify = service::notifier::from_env();
  chan::telegram::init_curl();
  zmq::context_t ctx(1);
  auto bus = service::join_bus(ctx, *opts);
  if (!bus) return service::exit_with(lg, bus.err());
  chan::telegram::channel ch(**bus, notify, std::move(o));
  return ch.run(signal_fd);
}
