// weft-chan-telegram — the Telegram channel.
//
// Purpose: connects a Telegram bot to weft. Updates (long polling with getUpdates, or a
// webhook) become io.weft.Chat.v1.Inbound requests to the router; the update is
// acknowledged to Telegram (offset moved, or the webhook answered 200) only after the
// router answered Accepted. The router's Deliver requests become sendMessage (split at
// 4096 UTF-16 units, the first part replying to the original message), sendPhoto or
// sendDocument calls, answered Delivered once Telegram confirmed. A reply threads to its
// message with the Telegram message_id the router sends back in Deliver.inbound_meta, so
// threading survives a restart of this process. Delivered outbox ids are
// remembered in $WEFT_HOME/channels/telegram/delivered so a repeated Deliver sends nothing;
// the polling offset lives in $WEFT_HOME/channels/telegram/offset.
//
// Started by weftd with $WEFT_BUS, $WEFT_ADDRESS (chan/telegram), $WEFT_TOKEN_FD,
// $WEFT_NOTIFY_FD, $WEFT_CONFIG, $WEFT_HOME. Serves: Chat.v1.Deliver. Calls: router
// (Chat.v1.Inbound), the Telegram Bot API over HTTPS. Exit codes: 0 after TERM, 1 when
// webhook_listen is in use (AddressInUse) or the state cannot be opened, 2 for a bad
// [channels.telegram].
//
// Example config:
//   [channels.telegram]
//   token = "${TELEGRAM_TOKEN}"
//   mode = "polling"          # or "webhook" with webhook_url, webhook_listen, webhook_secret
//   poll_timeout_s = 30
#include <algorithm>

#include <weft/service/main.hh>
#include <weft/service/paths.hh>

#include "channel.hh"

using namespace weft;

namespace {
constexpr std::string_view help_text =
    "usage: weft-chan-telegram [--help] [--version]\n"
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
  return service::run_main(
      argc, argv, {.program = "weft-chan-telegram", .log_name = "chan-telegram", .help = help_text},
      [](service::main_context& m) {
        auto& cfg = m.cfg;
        if (!cfg.channels.telegram || !cfg.channels.telegram->enabled)
          return m.fail(fail(errc::config, "Failed to start the Telegram channel: [channels.telegram] is not configured in '{}'",
                             cfg.source));
        chan::telegram::channel_options o;
        o.settings = *cfg.channels.telegram;
        if (auto s = chan::telegram::check_settings(o.settings); !s) return m.fail(s.err());
        while (!o.settings.api_base.empty() && o.settings.api_base.back() == '/') o.settings.api_base.pop_back();
        o.state_dir = service::home_dir(cfg.home) + "/channels/telegram";
        auto room = std::uint64_t{64} << 10;  // envelope and the rest of the message
        o.max_blob_bytes = std::min<std::uint64_t>(chan::telegram::max_download_bytes,
                                                   cfg.bus.max_message_bytes > room ? cfg.bus.max_message_bytes - room : 0);
        chan::telegram::init_curl();
        auto ch = chan::telegram::channel::start(*m.rt, std::move(o));
        if (!ch) return m.fail(ch.err());
        return m.rt->run();
      });
}
