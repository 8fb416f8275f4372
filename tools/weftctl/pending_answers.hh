#pragma once
/// What a stdio MCP client still waits for. `weftctl mcp serve` relays lines both ways; when
/// the client's stdin ends it must still deliver the answers to everything it already read
/// (a client may pipe its requests and close stdin at once), then exit. This counts the
/// requests by JSON-RPC id, and the lines the server answers with an error whose id it may
/// not know (malformed JSON, invalid requests), and strikes one off per response.

#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace weft::ctl {

class pending_answers {
 public:
  /// A line the client sent (and that reached the server): counts what it will be answered.
  void sent(std::string_view line);
  /// A line the server sent to the client: strikes off the responses in it.
  void answered(std::string_view line);
  bool empty() const { return _ids.empty() && _invalid == 0; }
  std::size_t size() const { return _ids.size() + _invalid; }

 private:
  std::multiset<std::string> _ids;  // the JSON text of each awaited request's id
  std::size_t _invalid = 0;         // lines to be answered with an error, by id null or their own
};

}  // namespace weft::ctl
