#include <weft/mcp/version.hh>

#include <algorithm>
#include <array>
#include <cstdint>

namespace weft::mcp {
namespace {
constexpr std::array<std::string_view, 5> legacy{"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05",
                                                 "2024-10-07"};

constexpr std::string_view b64_prefix = "=?base64?", b64_suffix = "?=";
constexpr std::string_view b64_alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

bool looks_encoded(std::string_view v) {
  return v.size() >= b64_prefix.size() + b64_suffix.size() && v.starts_with(b64_prefix) && v.ends_with(b64_suffix);
}

bool header_plain(std::string_view v) {
  if (v.empty() || looks_encoded(v)) return false;
  auto ws = [](char c) { return c == ' ' || c == '\t'; };
  if (ws(v.front()) || ws(v.back())) return false;
  return std::all_of(v.begin(), v.end(), [](char c) { return c == '\t' || (c >= 0x20 && c < 0x7f); });
}

std::string base64(std::string_view bin) {
  std::string out;
  out.reserve((bin.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bin.size(); i += 3) {
    auto n = std::uint32_t(std::uint8_t(bin[i])) << 16 | std::uint32_t(std::uint8_t(bin[i + 1])) << 8 |
             std::uint8_t(bin[i + 2]);
    for (int s : {18, 12, 6, 0}) out += b64_alphabet[(n >> s) & 63];
  }
  if (auto rest = bin.size() - i; rest > 0) {
    auto n = std::uint32_t(std::uint8_t(bin[i])) << 16 | (rest == 2 ? std::uint32_t(std::uint8_t(bin[i + 1])) << 8 : 0);
    out += b64_alphabet[(n >> 18) & 63];
    out += b64_alphabet[(n >> 12) & 63];
    out += rest == 2 ? b64_alphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

/// Canonical base64 only: length a multiple of 4, padding only at the end, and no bits set
/// beyond the last byte.
std::optional<std::string> unbase64(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::size_t pad = text.ends_with("==") ? 2 : text.ends_with("=") ? 1 : 0;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  std::uint32_t n = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    std::uint32_t d = 0;
    if (c == '=' && i >= text.size() - pad) d = 0;
    else if (auto p = b64_alphabet.find(c); p != std::string_view::npos) d = static_cast<std::uint32_t>(p);
    else return std::nullopt;
    n = n << 6 | d;
    if (i % 4 == 3) {
      out += char(n >> 16);
      out += char(n >> 8 & 0xff);
      out += char(n & 0xff);
      n = 0;
    }
  }
  if (pad > 0) {
    // The padded group's unused low bits must be zero.
    auto last = text.substr(text.size() - 4);
    auto d = static_cast<std::uint32_t>(b64_alphabet.find(last[3 - pad]));
    if ((pad == 2 && (d & 15) != 0) || (pad == 1 && (d & 3) != 0)) return std::nullopt;
    out.resize(out.size() - pad);
  }
  return out;
}
}

const char* mcp_name_param(std::string_view method) {
  if (method == "tools/call" || method == "prompts/get") return "name";
  if (method == "resources/read") return "uri";
  return nullptr;
}

std::string encode_header_value(std::string_view v) {
  if (header_plain(v)) return std::string(v);
  return std::string(b64_prefix) + base64(v) + std::string(b64_suffix);
}

std::optional<std::string> decode_header_value(std::string_view v) {
  if (!looks_encoded(v)) return std::string(v);
  return unbase64(v.substr(b64_prefix.size(), v.size() - b64_prefix.size() - b64_suffix.size()));
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
