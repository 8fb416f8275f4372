#include "services/tool-email/mime.hh"

#include <gmime/gmime.h>
#include <sodium.h>

#include <algorithm>
#include <memory>

#include <fmt/format.h>

namespace weft::tools::email {

namespace {

struct unref {
  void operator()(void* p) const {
    if (p) g_object_unref(p);
  }
};
template <class T>
using gptr = std::unique_ptr<T, unref>;
struct gfree {
  void operator()(void* p) const { g_free(p); }
};
using gstr = std::unique_ptr<char, gfree>;

std::string str(const char* s) { return s ? std::string(s) : std::string(); }

/// The message, parsed from a copy of `raw` (the stream owns its buffer).
gptr<GMimeMessage> load(std::string_view raw) {
  gptr<GMimeStream> s(g_mime_stream_mem_new_with_buffer(raw.data(), raw.size()));
  gptr<GMimeParser> p(g_mime_parser_new_with_stream(s.get()));
  g_mime_parser_set_format(p.get(), GMIME_FORMAT_MESSAGE);
  return gptr<GMimeMessage>(g_mime_parser_construct_message(p.get(), nullptr));
}

std::vector<std::string> list_of(InternetAddressList* l) {
  std::vector<std::string> out;
  if (!l) return out;
  int n = internet_address_list_length(l);
  for (int i = 0; i < n; ++i) {
    gstr s(internet_address_to_string(internet_address_list_get_address(l, i), nullptr, FALSE));
    if (s) out.emplace_back(s.get());
  }
  return out;
}

std::string mime_type(GMimeObject* o) {
  auto* ct = g_mime_object_get_content_type(o);
  if (!ct) return "text/plain";
  gstr t(g_mime_content_type_get_mime_type(ct));
  std::string s = str(t.get());
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

/// The decoded bytes of a leaf part, up to `cap` (+1 to tell it was more).
std::string decoded(GMimeObject* o, std::size_t cap) {
  GMimeDataWrapper* w = nullptr;
  if (GMIME_IS_PART(o)) {
    w = g_mime_part_get_content(GMIME_PART(o));
  } else if (GMIME_IS_MESSAGE_PART(o)) {
    auto* m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));
    if (!m) return {};
    gstr s(g_mime_object_to_string(GMIME_OBJECT(m), nullptr));
    std::string out = str(s.get());
    if (out.size() > cap + 1) out.resize(cap + 1);
    return out;
  }
  if (!w) return {};
  gptr<GMimeStream> mem(g_mime_stream_mem_new());
  if (g_mime_data_wrapper_write_to_stream(w, mem.get()) < 0) return {};
  auto* ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem.get()));
  std::string out(reinterpret_cast<const char*>(ba->data), std::min<std::size_t>(ba->len, cap + 1));
  return out;
}

struct walker {
  const limits& l;
  std::vector<std::pair<GMimeObject*, part_info>> leaves;
  bool too_many = false;

  void walk(GMimeObject* o, std::size_t depth) {
    if (!o) return;
    if (leaves.size() >= l.max_parts) {
      too_many = true;
      return;
    }
    if (GMIME_IS_MULTIPART(o)) {
      if (depth >= l.max_depth) return;
      int n = g_mime_multipart_get_count(GMIME_MULTIPART(o));
      for (int i = 0; i < n; ++i) walk(g_mime_multipart_get_part(GMIME_MULTIPART(o), i), depth + 1);
      return;
    }
    part_info pi;
    pi.index = leaves.size() + 1;
    pi.content_type = mime_type(o);
    if (GMIME_IS_PART(o)) pi.filename = str(g_mime_part_get_filename(GMIME_PART(o)));
    auto* disp = g_mime_object_get_content_disposition(o);
    pi.attachment = (disp && g_mime_content_disposition_is_attachment(disp)) ||
                    (!pi.filename.empty() && pi.content_type.rfind("text/", 0) != 0);
    leaves.emplace_back(o, std::move(pi));
  }
};

std::string text_of(GMimeObject* o, std::size_t cap) {
  if (GMIME_IS_TEXT_PART(o)) {
    gstr t(g_mime_text_part_get_text(GMIME_TEXT_PART(o)));  // converted to UTF-8
    std::string s = str(t.get());
    if (s.size() > cap + 1) s.resize(cap + 1);
    return s;
  }
  return decoded(o, cap);
}

std::string rfc3339(GDateTime* d) {
  if (!d) return {};
  GDateTime* u = g_date_time_to_utc(d);
  if (!u) return {};
  gstr s(g_date_time_format(u, "%Y-%m-%dT%H:%M:%SZ"));
  g_date_time_unref(u);
  return str(s.get());
}

std::string domain_of(const std::string& from) {
  auto at = from.rfind('@');
  if (at == std::string::npos) return "weft.invalid";
  auto d = from.substr(at + 1);
  auto end = d.find_first_of("> \t");
  if (end != std::string::npos) d.resize(end);
  return d.empty() ? "weft.invalid" : d;
}

result<InternetAddressList*> parse_list(const std::string& s, const char* what) {
  InternetAddressList* l = internet_address_list_parse(nullptr, s.c_str());
  if (!l || internet_address_list_length(l) == 0) {
    if (l) g_object_unref(l);
    return fail(errc::invalid_argument, "{} '{}' is no mail address", what, s);
  }
  int n = internet_address_list_length(l);
  for (int i = 0; i < n; ++i) {
    auto* a = internet_address_list_get_address(l, i);
    const char* addr = INTERNET_ADDRESS_IS_MAILBOX(a) ? internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a)) : nullptr;
    std::string as = str(addr);
    bool bad_char = std::any_of(as.begin(), as.end(), [](unsigned char c) {
      return c <= ' ' || c == 0x7f || c == '"' || c == '<' || c == '>' || c == '(' || c == ')' || c == ',' || c == ';' || c == '\\';
    });
    if (as.empty() || as.find('@') == std::string::npos || as.front() == '@' || as.back() == '@' || bad_char) {
      g_object_unref(l);
      return fail(errc::invalid_argument, "{} '{}' is no mail address", what, s);
    }
  }
  return l;
}

}  // namespace

void mime_init() { g_mime_init(); }

result<message> parse(std::string_view raw, const limits& l) {
  auto m = load(raw);
  if (!m) return fail(errc::malformed, "not a mail message");
  message out;
  out.message_id = str(g_mime_message_get_message_id(m.get()));
  auto* obj = GMIME_OBJECT(m.get());
  if (const char* irt = g_mime_object_get_header(obj, "In-Reply-To")) {
    gstr id(g_mime_utils_decode_message_id(irt));
    out.in_reply_to = str(id.get());
  }
  if (const char* refs = g_mime_object_get_header(obj, "References")) {
    if (GMimeReferences* r = g_mime_references_parse(nullptr, refs)) {
      int n = g_mime_references_length(r);
      for (int i = 0; i < n && i < 100; ++i) out.references.push_back(str(g_mime_references_get_message_id(r, i)));
      g_mime_references_free(r);
    }
  }
  auto from = list_of(g_mime_message_get_from(m.get()));
  for (auto& f : from) out.from += (out.from.empty() ? "" : ", ") + f;
  out.subject = str(g_mime_message_get_subject(m.get()));
  out.date = rfc3339(g_mime_message_get_date(m.get()));
  if (out.date.empty()) out.date = str(g_mime_object_get_header(obj, "Date"));
  out.to = list_of(g_mime_message_get_to(m.get()));
  out.cc = list_of(g_mime_message_get_cc(m.get()));
  out.bcc = list_of(g_mime_message_get_bcc(m.get()));
  out.reply_to = list_of(g_mime_message_get_reply_to(m.get()));

  walker w{l, {}, false};
  w.walk(g_mime_message_get_mime_part(m.get()), 0);
  GMimeObject* body = nullptr;
  for (auto& [o, pi] : w.leaves)
    if (!pi.attachment && pi.content_type == "text/plain") {
      body = o;
      out.body_part = pi.index;
      break;
    }
  bool html = false;
  if (!body)
    for (auto& [o, pi] : w.leaves)
      if (!pi.attachment && pi.content_type == "text/html") {
        body = o;
        out.body_part = pi.index;
        html = true;
        break;
      }
  for (auto& [o, pi] : w.leaves) {
    pi.size = decoded(o, 64u << 20).size();
    out.parts.push_back(pi);
  }
  if (body) {
    out.text = text_of(body, l.max_text * (html ? 4 : 1));
    if (html) out.text = html_text(out.text);
    if (out.text.size() > l.max_text) {
      out.text.resize(l.max_text);
      out.text += "\n[… cut: the body is longer than " + std::to_string(l.max_text) + " bytes]";
    }
  }
  if (w.too_many) out.text += fmt::format("\n[only the first {} parts are listed]", l.max_parts);
  return out;
}

result<part_content> part(std::string_view raw, std::size_t index, const limits& l) {
  auto m = load(raw);
  if (!m) return fail(errc::malformed, "not a mail message");
  walker w{l, {}, false};
  w.walk(g_mime_message_get_mime_part(m.get()), 0);
  if (index == 0 || index > w.leaves.size())
    return fail(errc::not_found, "the message has no part {} (it has {})", index, w.leaves.size());
  auto& [o, pi] = w.leaves[index - 1];
  part_content pc{pi, pi.content_type.rfind("text/", 0) == 0 ? text_of(o, 64u << 20) : decoded(o, 64u << 20)};
  pc.info.size = pc.bytes.size();
  return pc;
}

result<std::vector<std::string>> addresses(const std::string& list) {
  auto l = parse_list(list, "recipient");
  if (!l) return l.take_error();
  gptr<InternetAddressList> keep(*l);
  std::vector<std::string> out;
  int n = internet_address_list_length(*l);
  for (int i = 0; i < n; ++i)
    out.push_back(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(internet_address_list_get_address(*l, i))));
  return out;
}

result<std::string> compose(outgoing& o, bool keep_bcc) {
  gptr<GMimeMessage> m(g_mime_message_new(TRUE));
  struct field {
    const std::vector<std::string>* list;
    GMimeAddressType type;
    const char* what;
  };
  std::vector<std::string> from{o.from};
  for (auto [list, type, what] : {field{&from, GMIME_ADDRESS_TYPE_FROM, "sender"}, field{&o.to, GMIME_ADDRESS_TYPE_TO, "recipient"},
                                  field{&o.cc, GMIME_ADDRESS_TYPE_CC, "recipient"}}) {
    for (auto& a : *list) {
      auto l = parse_list(a, what);
      if (!l) return l.take_error();
      internet_address_list_append(g_mime_message_get_addresses(m.get(), type), *l);
      g_object_unref(*l);
    }
  }
  for (auto& a : o.bcc) {
    auto l = parse_list(a, "recipient");
    if (!l) return l.take_error();
    if (keep_bcc) internet_address_list_append(g_mime_message_get_addresses(m.get(), GMIME_ADDRESS_TYPE_BCC), *l);
    g_object_unref(*l);
  }
  if (o.to.empty() && o.cc.empty() && o.bcc.empty()) return fail(errc::invalid_argument, "a message needs a recipient");
  if (o.subject.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos)
    return fail(errc::invalid_argument, "a subject is one line");
  if (o.body.find('\0') != std::string::npos) return fail(errc::invalid_argument, "the body holds a NUL byte");
  // Every line break as LF here, CRLF on the wire: a lone CR would be written as it is and
  // could end the DATA early at a lenient receiver (SMTP smuggling).
  std::string text;
  text.reserve(o.body.size());
  for (std::size_t i = 0; i < o.body.size(); ++i) {
    if (o.body[i] == '\r') {
      text += '\n';
      if (i + 1 < o.body.size() && o.body[i + 1] == '\n') ++i;
    } else {
      text += o.body[i];
    }
  }
  g_mime_message_set_subject(m.get(), o.subject.c_str(), "utf-8");
  if (o.message_id.empty()) {
    unsigned char rnd[12];
    randombytes_buf(rnd, sizeof rnd);
    std::string hex;
    for (auto c : rnd) hex += fmt::format("{:02x}", c);
    o.message_id = hex + "@" + domain_of(o.from);
  }
  g_mime_message_set_message_id(m.get(), o.message_id.c_str());
  GDateTime* now = g_date_time_new_now_utc();
  g_mime_message_set_date(m.get(), now);
  g_date_time_unref(now);
  auto bracket = [](const std::string& id) { return "<" + id + ">"; };
  for (auto& id : o.references)
    if (id.find_first_of("<>\r\n \t") != std::string::npos) return fail(errc::invalid_argument, "'{}' is no message id", id);
  if (!o.in_reply_to.empty()) {
    if (o.in_reply_to.find_first_of("<>\r\n \t") != std::string::npos)
      return fail(errc::invalid_argument, "'{}' is no message id", o.in_reply_to);
    g_mime_object_set_header(GMIME_OBJECT(m.get()), "In-Reply-To", bracket(o.in_reply_to).c_str(), nullptr);
  }
  if (!o.references.empty()) {
    std::string refs;
    for (auto& id : o.references) refs += (refs.empty() ? "" : " ") + bracket(id);
    g_mime_object_set_header(GMIME_OBJECT(m.get()), "References", refs.c_str(), nullptr);
  }
  gptr<GMimeTextPart> body(g_mime_text_part_new_with_subtype("plain"));
  g_mime_text_part_set_text(body.get(), text.c_str());
  g_mime_part_set_content_encoding(GMIME_PART(body.get()),
                                   g_mime_part_get_best_content_encoding(GMIME_PART(body.get()), GMIME_ENCODING_CONSTRAINT_7BIT));
  g_mime_message_set_mime_part(m.get(), GMIME_OBJECT(body.get()));
  GMimeFormatOptions* fo = g_mime_format_options_new();
  g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_DOS);
  gstr s(g_mime_object_to_string(GMIME_OBJECT(m.get()), fo));
  g_mime_format_options_free(fo);
  return str(s.get());
}

std::string html_text(std::string_view h) {
  std::string out;
  out.reserve(h.size());
  auto lower_eq = [&](std::size_t at, std::string_view w) {
    if (at + w.size() > h.size()) return false;
    for (std::size_t i = 0; i < w.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(h[at + i])) != w[i]) return false;
    return true;
  };
  for (std::size_t i = 0; i < h.size();) {
    char c = h[i];
    if (c == '<') {
      // script and style: their text is not the message's
      for (auto skip : {std::string_view("script"), std::string_view("style")})
        if (lower_eq(i + 1, skip)) {
          auto end = h.find("</", i + 1);
          while (end != std::string_view::npos && !lower_eq(end + 2, skip)) end = h.find("</", end + 2);
          i = end == std::string_view::npos ? h.size() : end;
          break;
        }
      if (i >= h.size()) break;
      auto close = h.find('>', i);
      if (close == std::string_view::npos) break;
      bool block = lower_eq(i + 1, "br") || lower_eq(i + 1, "p") || lower_eq(i + 1, "/p") || lower_eq(i + 1, "div") ||
                   lower_eq(i + 1, "/div") || lower_eq(i + 1, "li") || lower_eq(i + 1, "tr") || lower_eq(i + 1, "h");
      if (block && !out.empty() && out.back() != '\n') out += '\n';
      i = close + 1;
      continue;
    }
    if (c == '&') {
      static constexpr std::pair<std::string_view, std::string_view> ents[] = {
          {"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&#39;", "'"}, {"&nbsp;", " "}, {"&apos;", "'"}};
      bool hit = false;
      for (auto [e, r] : ents)
        if (lower_eq(i, e)) {
          out += r;
          i += e.size();
          hit = true;
          break;
        }
      if (hit) continue;
    }
    if (c == '\r') {
      ++i;
      continue;
    }
    if ((c == ' ' || c == '\t' || c == '\n') && (out.empty() || out.back() == ' ' || out.back() == '\n')) {
      ++i;
      continue;
    }
    out += c == '\t' || c == '\n' ? ' ' : c;
    ++i;
  }
  while (!out.empty() && (out.back() == ' ' || out.back() == '\n')) out.pop_back();
  return out;
}

}  // namespace weft::tools::email
