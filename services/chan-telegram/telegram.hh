#pragma once
/// The pure parts of the Telegram channel: splitting a reply over sendMessage's length
/// limit, turning Bot API updates into chat messages, and classifying Bot API answers
/// (retry after N s, retry with backoff, give up). No sockets, unit-tested directly.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <weft/base/result.hh>

#include "proto/chat_v1.hh"

namespace weft::chan::telegram {

/// sendMessage's limit on `text`, in UTF-16 code units (what Telegram counts).
inline constexpr std::size_t message_limit = 4096;
/// Bots may download files up to this size.
inline constexpr std::uint64_t max_download_bytes = 20u << 20;

/// Length of UTF-8 text in UTF-16 code units; an invalid byte counts as one unit.
std::size_t utf16_length(std::string_view utf8);

/// Splits `text` into parts of at most `limit` UTF-16 code units, in order, preferring to
/// break at a blank line, then a line break, then a space; never inside a UTF-8 sequence.
/// The separator at a break is dropped; parts that would be only whitespace are dropped.
std::vector<std::string> split_text(std::string_view text, std::size_t limit = message_limit);

/// A file an update refers to, to be fetched with getFile before the message is passed on.
struct media_ref {
  std::size_t part_index = 0;  ///< the blob part it fills in
  std::string file_id;
  std::string name;
  std::string media_type;
  std::uint64_t file_size = 0;  ///< as announced; 0 when unknown
};

/// One update: its id (always), and a chat message when it carries one we handle.
struct update {
  std::int64_t update_id = 0;
  std::optional<proto::chat_v1::message> message;  ///< id telegram:<update_id>
  std::vector<media_ref> media;                    ///< blob parts still without data
  std::int64_t telegram_message_id = 0;            ///< for reply_parameters
};

/// Parses one Update object. Error only when it has no update_id; kinds we do not handle
/// (callback_query, …) give an update without a message.
result<update> parse_update(const nlohmann::json& u);

/// The kind of answer a Bot API call got.
enum class outcome_kind : std::uint8_t { ok = 0, retry_after = 1, transient = 2, permanent = 3 };

struct api_outcome {
  outcome_kind kind = outcome_kind::ok;
  nlohmann::json result;         ///< "result" when ok
  std::uint32_t retry_after = 0; ///< seconds, when retry_after
  int error_code = 0;            ///< HTTP or Bot API error code
  std::string description;       ///< for people
};

/// Classifies an HTTP exchange with the Bot API. `transport_error` is curl's message when
/// no HTTP answer came (network: transient). 429 with parameters.retry_after: retry after
/// exactly that; 5xx: transient; other non-ok answers: permanent.
api_outcome classify(long http_status, std::string_view body, std::string_view transport_error);

/// The media type Telegram's photo sizes have, and a name for a file without one.
std::string media_type_for_name(std::string_view name, std::string_view fallback);

}  // namespace weft::chan::telegram
