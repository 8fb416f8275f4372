#include "mapping.hh"

#include <algorithm>

#include <weft/mcp/jsonrpc.hh>

namespace weft::mcp_host {

std::string short_hash(std::string_view s) {
  std::uint32_t h = 2166136261u;
  for (unsigned char c : s) {
    h ^= c;
    h *= 16777619u;
  }
  return fmt::format("{:08x}", h);
}

std::string bus_tool_name(std::string_view server, std::string_view tool, const std::set<std::string>& taken) {
  std::string clean(tool);
  for (auto& c : clean)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') c = '_';
  if (clean.empty()) clean = "_";
  std::string name = fmt::format("{}__{}", server, clean);
  if (name.size() <= max_tool_name && !taken.count(name)) return name;
  auto suffix = "_" + short_hash(tool);
  std::size_t keep = max_tool_name - suffix.size();
  if (name.size() > keep) name.resize(keep);
  return name + suffix;
}

namespace {

std::size_t base64_bytes(std::string_view b64) {
  std::size_t n = 0, pad = 0;
  for (char c : b64) {
    if (c == '=') ++pad;
    else if (std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '-' || c == '_') ++n;
  }
  (void)pad;
  return n * 3 / 4;
}

/// Cuts `s` to at most `n` bytes without splitting a UTF-8 sequence.
void utf8_cut(std::string& s, std::size_t n) {
  if (s.size() <= n) return;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xc0) == 0x80) --n;
  s.resize(n);
}

}  // namespace

std::string placeholder(const mcp::content_block& b) {
  if (b.type == "image" || b.type == "audio")
    return fmt::format("[{} {}, {} bytes]", b.type, b.mime_type.empty() ? "?" : b.mime_type, base64_bytes(b.data));
  if (b.type == "resource") {
    std::string out = fmt::format("[resource {}{}]", b.uri, b.mime_type.empty() ? "" : " " + b.mime_type);
    if (!b.text.empty()) out += "\n" + b.text;
    else if (!b.data.empty()) out = fmt::format("[resource {} {}, {} bytes]", b.uri,
                                                b.mime_type.empty() ? "?" : b.mime_type, base64_bytes(b.data));
    return out;
  }
  if (b.type == "resource_link") {
    std::string name = b.raw.is_object() && b.raw.contains("name") && b.raw["name"].is_string()
                           ? b.raw["name"].get<std::string>()
                           : std::string();
    return fmt::format("[resource link {}{}]", b.uri, name.empty() ? "" : " (" + name + ")");
  }
  return fmt::format("[{} block]", b.type);
}

tool::result to_tool_result(const mcp::call_result& r, std::size_t limit) {
  tool::result out;
  out.is_error = r.is_error;
  bool only_text = true;
  json blocks = json::array();
  for (auto& b : r.content) {
    if (!out.content.empty()) out.content += "\n";
    if (b.type == "text") {
      out.content += b.text;
    } else {
      only_text = false;
      out.content += placeholder(b);
    }
    blocks.push_back(b.raw);
  }
  if (!only_text) out.blocks = blocks.dump(-1, ' ', false, json::error_handler_t::replace);
  if (!r.structured.is_null())
    out.structured = r.structured.dump(-1, ' ', false, json::error_handler_t::replace);
  if (out.content.empty() && !out.structured.empty()) out.content = out.structured;
  auto total = [&] { return out.content.size() + out.blocks.size() + out.structured.size(); };
  if (total() > limit && !out.blocks.empty()) {
    out.blocks.clear();
    out.truncated = true;
  }
  if (total() > limit && !out.structured.empty()) {
    out.structured.clear();
    out.truncated = true;
  }
  if (out.content.size() > limit) {
    auto note = fmt::format("\n[… result cut at {} bytes]", limit);
    utf8_cut(out.content, limit - std::min(limit, note.size()));
    out.content += note;
    out.truncated = true;
  }
  return out;
}

std::string rpc_error_text(const error& e) {
  if (e.domain != mcp::domain) return e.message;
  int number = mcp::code_number(e);
  std::string_view msg = e.message;
  // from_error_object: "Failed to <what>: <message> (code N)"
  if (msg.starts_with("Failed to ")) {
    if (auto colon = msg.find(": "); colon != std::string_view::npos) msg.remove_prefix(colon + 2);
  }
  auto tail = fmt::format(" (code {})", number);
  if (msg.ends_with(tail)) msg.remove_suffix(tail.size());
  return fmt::format("MCP error {}: {}", number, msg);
}

std::string redact_url(std::string_view url) {
  if (auto cut = url.find_first_of("?#"); cut != std::string_view::npos) url = url.substr(0, cut);
  auto scheme = url.find("://");
  std::size_t start = scheme == std::string_view::npos ? 0 : scheme + 3;
  auto slash = url.find('/', start);
  auto authority = url.substr(start, (slash == std::string_view::npos ? url.size() : slash) - start);
  auto at = authority.rfind('@');
  if (at == std::string_view::npos) return std::string(url);
  return std::string(url.substr(0, start)) + std::string(url.substr(start + at + 1));
}

std::chrono::milliseconds backoff::ceiling() const {
  auto c = base;
  for (std::uint32_t i = 0; i < attempt && c < cap; ++i) c *= 2;
  return std::min(c, cap);
}

std::chrono::milliseconds backoff::next(std::mt19937_64& rng) {
  auto c = ceiling();
  if (attempt < 64) ++attempt;
  std::uniform_int_distribution<std::int64_t> d(0, c.count());
  return std::chrono::milliseconds(d(rng));
}

}  // namespace weft::mcp_host
