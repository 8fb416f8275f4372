#pragma once
/// Control words of a chat: a message that is only one of them is not a message for the
/// model but an instruction about the turn running in that chat. `/stop` (or `/cancel`)
/// stops it; `/allow` and `/deny` answer a question it asked (a delegated Claude Code run
/// asking before a step). The router lets them past the running turn (a lane of their own)
/// and the agent answers them at once, without the model.

#include <string_view>

namespace weft::channel {

enum class control { none, stop, allow, deny };

inline control control_word(std::string_view text) {
  auto b = text.find_first_not_of(" \t\r\n"), e = text.find_last_not_of(" \t\r\n");
  if (b == std::string_view::npos) return control::none;
  auto word = text.substr(b, e - b + 1);
  if (word == "/stop" || word == "/cancel") return control::stop;
  if (word == "/allow") return control::allow;
  if (word == "/deny") return control::deny;
  return control::none;
}

}  // namespace weft::channel
