#include <weft/mcp/version.hh>

#include <algorithm>
#include <array>

namespace weft::mcp {
namespace {
constexpr std::array<std::string_view, 5> legacy{"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05",
                                                 "2024-10-07"};
}

std::string_view to_string(era e) { return e == era::modern ? "modern" : "legacy"; }

std::span<const std::string_view> legacy_versions() { return legacy; }

bool is_legacy_version(std::string_view v) { return std::find(legacy.begin(), legacy.end(), v) != legacy.end(); }

std::string_view negotiate(std::string_view requested) {
  return is_legacy_version(requested) ? *std::find(legacy.begin(), legacy.end(), requested)
                                      : latest_legacy_version;
}

status check_server_version(std::string_view offered) {
  if (is_legacy_version(offered)) return {};
  return make_error(domain, "UnsupportedProtocolVersion",
                    "Failed to initialize MCP session: the server offered protocol version '{}', weft speaks {} to {}",
                    offered, legacy.back(), legacy.front());
}

std::optional<std::string> meta_protocol_version(const json& params) {
  if (!params.is_object()) return std::nullopt;
  auto m = params.find("_meta");
  if (m == params.end() || !m->is_object()) return std::nullopt;
  auto v = m->find(meta::protocol_version);
  if (v == m->end() || !v->is_string()) return std::nullopt;
  return v->get<std::string>();
}

std::optional<era> detect_era(const request& opening) {
  if (opening.method == "initialize") return era::legacy;
  if (opening.method == "server/discover" || meta_protocol_version(opening.params)) return era::modern;
  return std::nullopt;
}

}  // namespace weft::mcp
