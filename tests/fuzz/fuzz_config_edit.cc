// libFuzzer target: the config edits of `weftctl mcp add/remove` (libs/service
// config_edit.cc) on any file text. They must never crash; an edit that succeeds gives text
// that parses, defines the server after add (with the command written exactly) and no
// longer defines it after remove. The input is the file; its first byte picks the server
// name and its last bytes become the added server's command.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include <toml++/toml.h>

#include <weft/service/config_edit.hh>

namespace {

const char* const names[] = {"a", "fs", "new-server", "x1"};

/// The root table of `text`, or nullopt when it does not parse.
std::optional<toml::table> parse(const std::string& text) {
#if TOML_EXCEPTIONS
  try {
    return toml::parse(text);
  } catch (const toml::parse_error&) {
    return std::nullopt;
  }
#else
  auto r = toml::parse(text);
  if (!r) return std::nullopt;
  return std::move(r).table();
#endif
}

const toml::node* server(const toml::table& root, std::string_view name) {
  auto* s = root.at_path("tools.mcp_servers").as_table();
  return s ? s->get(name) : nullptr;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  std::string_view name = names[size ? data[0] % 4 : 0];

  if (auto removed = weft::service::remove_mcp_server_table(text, name)) {
    auto root = parse(*removed);
    if (!root || server(*root, name)) std::abort();
  }

  weft::service::mcp_server_entry e;
  e.command = text.substr(text.size() - std::min<std::size_t>(text.size(), 24));
  e.args = {"--flag", text.substr(0, std::min<std::size_t>(text.size(), 8))};
  if (auto added = weft::service::add_mcp_server_table(text, name, e)) {
    auto root = parse(*added);
    if (!root) std::abort();
    auto* s = server(*root, name);
    auto* command = s && s->as_table() ? s->as_table()->get("command") : nullptr;
    // "${" is written "$${" (the loader's escape, not TOML's); everything else exactly.
    std::string want;
    for (std::size_t i = 0; i < e.command.size(); ++i)
      want += e.command.compare(i, 2, "${") == 0 ? "$$" : std::string(1, e.command[i]);
    if (!command || command->value<std::string>() != want) std::abort();
    if (added->compare(0, text.size(), text) != 0) std::abort();  // the rest kept byte for byte
  }
  return 0;
}
