#include "telegram.hh"

#include <algorithm>
#include <chrono>

namespace weft::chan::telegram {

namespace chat = weft::proto::chat_v1;
using json = nlohmann::json;

namespace {

/// Length in bytes of the UTF-8 sequence starting at s[i] (1 for an invalid byte), and its
/// UTF-16 length.
std::pair<std::size_t, std::size_t> next_char(std::string_view s, std::size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > s.size()) return {1, 1};
  for (std::size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return {1, 1};
  return {n, n == 4 ? 2 : 1};
}

bool all_space(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; });
}

std::string id_string(const json& v) {
  if (v.is_number_integer()) return std::to_string(v.get<std::int64_t>());
  if (v.is_string()) return v.get<std::string>();
  return {};
}

}  // namespace

std::size_t utf16_length(std::string_view s) {
  std::size_t units = 0;
  for (std::size_t i = 0; i < s.size();) {
    auto [bytes, u] = next_char(s, i);
    i += bytes;
    units += u;
  }
  return units;
}

std::vector<std::string> split_text(std::string_view text, std::size_t limit) {
  std::vector<std::string> parts;
  if (limit < 2) limit = 2;  // room for one surrogate pair
  auto push = [&](std::string_view p) {
    if (!p.empty() && !all_space(p)) parts.emplace_back(p);
  };
  while (!text.empty()) {
    // The longest prefix within the limit, ending on a character boundary.
    std::size_t cut = 0, units = 0;
    while (cut < text.size()) {
      auto [bytes, u] = next_char(text, cut);
      if (units + u > limit) break;
      units += u;
      cut += bytes;
    }
    if (cut == text.size()) {
      push(text);
      break;
    }
    auto window = text.substr(0, cut);
    std::size_t at = std::string_view::npos, skip = 0;
    // Prefer a break in the second half of the window, so parts are not tiny.
    auto good = [&](std::size_t p) { return p != std::string_view::npos && p > 0; };
    if (auto p = window.rfind("\n\n"); good(p)) at = p, skip = 2;
    else if (auto q = window.rfind('\n'); good(q)) at = q, skip = 1;
    else if (auto r = window.rfind(' '); good(r)) at = r, skip = 1;
    if (at == std::string_view::npos) at = cut, skip = 0;
    push(text.substr(0, at));
    text.remove_prefix(at + skip);
    while (!text.empty() && text.front() == '\n') text.remove_prefix(1);
  }
  return parts;
}

std::string media_type_for_name(std::string_view name, std::string_view fallback) {
  auto dot = name.rfind('.');
  if (dot != std::string_view::npos) {
    std::string ext(name.substr(dot + 1));
    for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (ext == "jpg" || ext == "jpeg") return "image/jpeg";
    if (ext == "png") return "image/png";
    if (ext == "gif") return "image/gif";
    if (ext == "webp") return "image/webp";
    if (ext == "pdf") return "application/pdf";
    if (ext == "txt") return "text/plain";
  }
  return std::string(fallback);
}

namespace {
/// A blob part of `msg` whose bytes the channel fetches later (r says from where).
void add_blob(chat::message& msg, update& out, media_ref r) {
  chat::part p;
  p.kind = chat::part_kind::blob;
  p.media_type = r.media_type;
  p.name = r.name;
  msg.parts.push_back(std::move(p));
  out.media.push_back(std::move(r));
}
}  // namespace

result<update> parse_update(const json& u) {
  if (!u.is_object() || !u.contains("update_id") || !u["update_id"].is_number_integer())
    return fail(errc::malformed, "update has no integer 'update_id'");
  update out;
  out.update_id = u["update_id"].get<std::int64_t>();
  const json* m = nullptr;
  bool edited = false;
  for (auto key : {"message", "edited_message", "channel_post", "edited_channel_post"}) {
    if (u.contains(key) && u[key].is_object()) {
      m = &u[key];
      edited = std::string_view(key).rfind("edited", 0) == 0;
      break;
    }
  }
  if (!m) return out;
  auto chat_it = m->find("chat");
  if (chat_it == m->end() || !chat_it->is_object() || !chat_it->contains("id")) return out;
  chat::message msg;
  msg.id = fmt::format("telegram:{}", out.update_id);
  msg.channel = "telegram";
  msg.chat_id = id_string((*chat_it)["id"]);
  if (msg.chat_id.empty()) return out;
  std::string user_id, username;
  if (auto f = m->find("from"); f != m->end() && f->is_object()) {
    if (f->contains("id")) user_id = id_string((*f)["id"]);
    if (f->contains("username") && (*f)["username"].is_string()) username = (*f)["username"].get<std::string>();
  }
  msg.sender = user_id.empty() ? msg.chat_id : user_id;
  std::int64_t date = 0;
  if (auto d = m->find("date"); d != m->end() && d->is_number_integer()) date = d->get<std::int64_t>();
  msg.ts = utc_time(std::chrono::seconds(date));
  if (auto mid = m->find("message_id"); mid != m->end() && mid->is_number_integer())
    out.telegram_message_id = mid->get<std::int64_t>();

  auto add_text = [&](const char* key) {
    if (auto t = m->find(key); t != m->end() && t->is_string() && !t->get<std::string>().empty()) {
      chat::part p;
      p.kind = chat::part_kind::text;
      p.text = t->get<std::string>();
      msg.parts.push_back(std::move(p));
    }
  };
  add_text("text");
  if (auto ph = m->find("photo"); ph != m->end() && ph->is_array() && !ph->empty()) {
    // Sizes come smallest first: the largest one bots may download.
    const json* best = nullptr;
    for (auto& s : *ph) {
      if (!s.is_object() || !s.contains("file_id") || !s["file_id"].is_string()) continue;
      auto size = s.value("file_size", std::uint64_t{0});
      if (size > max_download_bytes) continue;
      best = &s;
    }
    if (!best) best = &ph->back();
    if (best->is_object() && best->contains("file_id") && (*best)["file_id"].is_string()) {
      media_ref r;
      r.part_index = msg.parts.size();
      r.file_id = (*best)["file_id"].get<std::string>();
      r.name = "photo.jpg";
      r.media_type = "image/jpeg";
      r.file_size = best->value("file_size", std::uint64_t{0});
      add_blob(msg, out, std::move(r));
    }
  }
  if (auto doc = m->find("document"); doc != m->end() && doc->is_object() && doc->contains("file_id") &&
                                      (*doc)["file_id"].is_string()) {
    media_ref r;
    r.part_index = msg.parts.size();
    r.file_id = (*doc)["file_id"].get<std::string>();
    r.name = doc->contains("file_name") && (*doc)["file_name"].is_string() ? (*doc)["file_name"].get<std::string>()
                                                                          : "document";
    r.media_type = doc->contains("mime_type") && (*doc)["mime_type"].is_string()
                       ? (*doc)["mime_type"].get<std::string>()
                       : media_type_for_name(r.name, "application/octet-stream");
    r.file_size = doc->value("file_size", std::uint64_t{0});
    add_blob(msg, out, std::move(r));
  }
  add_text("caption");
  if (msg.parts.empty()) return out;  // stickers, joins, …: nothing to answer

  msg.meta["user_id"] = user_id;
  msg.meta["chat_id"] = msg.chat_id;
  if (!username.empty()) msg.meta["username"] = username;
  if (auto t = chat_it->find("type"); t != chat_it->end() && t->is_string()) msg.meta["chat_type"] = t->get<std::string>();
  if (out.telegram_message_id) msg.meta["message_id"] = std::to_string(out.telegram_message_id);
  if (edited) msg.meta["edited"] = "true";
  out.message = std::move(msg);
  return out;
}

api_outcome classify(long http_status, std::string_view body, std::string_view transport_error) {
  api_outcome o;
  if (!transport_error.empty() || http_status == 0) {
    o.kind = outcome_kind::transient;
    o.description = transport_error.empty() ? std::string("no answer") : std::string(transport_error);
    return o;
  }
  auto j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  o.error_code = static_cast<int>(http_status);
  if (j.is_object() && j.value("ok", false) && http_status == 200) {
    o.kind = outcome_kind::ok;
    o.result = j.contains("result") ? j["result"] : json();
    return o;
  }
  if (j.is_object()) {
    if (j.contains("error_code") && j["error_code"].is_number_integer()) o.error_code = j["error_code"].get<int>();
    if (j.contains("description") && j["description"].is_string()) o.description = j["description"].get<std::string>();
  }
  if (o.description.empty()) o.description = fmt::format("HTTP {}", http_status);
  if (http_status == 429 || o.error_code == 429) {
    std::int64_t after = -1;
    if (j.is_object() && j.contains("parameters") && j["parameters"].is_object() &&
        j["parameters"].contains("retry_after") && j["parameters"]["retry_after"].is_number())
      after = j["parameters"]["retry_after"].get<std::int64_t>();
    if (after >= 0) {
      o.kind = outcome_kind::retry_after;
      o.retry_after = static_cast<std::uint32_t>(std::min<std::int64_t>(after, 3600));
    } else {
      o.kind = outcome_kind::transient;
    }
    return o;
  }
  o.kind = http_status >= 500 || http_status == 408 ? outcome_kind::transient : outcome_kind::permanent;
  return o;
}

}  // namespace weft::chan::telegram
