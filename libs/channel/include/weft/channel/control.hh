#pragma once
/// Control words of a chat: a message that is only "/stop" (or "/cancel") stops what the
/// agent is doing in that chat. The router lets it past the turn running in the session
/// (a lane of its own) and the agent answers it at once, without the model.

#include <string_view>

namespace weft::channel {

inline bool is_stop_word(std::string_view text) {
  auto b = text.find_first_not_of(" \t\r\n"), e = text.find_last_not_of(" \t\r\n");
  if (b == std::string_view::npos) return false;
  auto word = text.substr(b, e - b + 1);
  return word == "/stop" || word == "/cancel";
}

}  // namespace weft::channel
