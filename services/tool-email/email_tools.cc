#include "services/tool-email/email_tools.hh"

#include <sodium.h>

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <weft/base/base64.hh>

#include "services/tool-email/mime.hh"

namespace weft::tools::email {

bool send_limiter::take(const std::string& agent, std::chrono::steady_clock::time_point now, std::chrono::seconds* wait) {
  std::lock_guard lk(_m);
  auto& times = _sent[agent];
  std::erase_if(times, [&](auto t) { return now - t >= std::chrono::hours(1); });
  if (times.size() >= _per_hour) {
    if (wait) *wait = std::chrono::duration_cast<std::chrono::seconds>(times.front() + std::chrono::hours(1) - now) + std::chrono::seconds(1);
    return false;
  }
  times.push_back(now);
  return true;
}

namespace {

constexpr std::size_t max_part_bytes = 8u << 20;
constexpr std::size_t max_recipients = 50;

/// A message id argument: the backends' ids go into URLs and commands, so no empty, "." or
/// ".." (a path's dot segments), control characters or more than 1 KiB.
result<std::string> id_arg(const json& args) {
  auto id = string_arg(args, "id");
  if (!id) return id.take_error();
  if (id->empty() || *id == "." || *id == ".." || id->size() > 1024 ||
      std::any_of(id->begin(), id->end(), [](unsigned char c) { return c < ' ' || c == 0x7f; }))
    return tool::make(tool::error_code::bad_arguments, "'{}' is not a message id (see email_search)", id->substr(0, 100));
  return id;
}

struct shared {
  explicit shared(email_settings settings) : s(std::move(settings)), limiter(s.send_per_hour) {}
  email_settings s;
  mutable send_limiter limiter;  // its own lock
};

struct ctx_t {
  const shared& sh;
  std::string agent;
  const account* acc = nullptr;
  std::unique_ptr<backend> be;
};

bool listed(const std::vector<std::string>& v, const std::string& x) { return std::find(v.begin(), v.end(), x) != v.end(); }

std::unique_ptr<backend> backend_of(const shared& sh, const account& a, const std::string& agent) {
  http::bearer_tokens tokens;
  if (!a.oauth2_account.empty()) {
    auto broker = sh.s.broker;
    tokens = [broker, agent, oauth = a.oauth2_account, scopes = a.scopes](const std::string& refused) -> result<std::string> {
      if (!broker) return fail(errc::unavailable, "no OAuth2 broker to ask for a token");
      return broker(oauth, scopes, agent, refused);
    };
  }
  if (a.kind == "gmail") return gmail_backend(a.api, std::move(tokens));
  if (a.kind == "graph") return graph_backend(a.api, std::move(tokens));
  auto im = a.imap;
  im.tokens = std::move(tokens);
  return imap_backend(std::move(im));
}

/// The caller's agent and, when the call names one, its account and backend.
result<ctx_t> context_of(const shared& sh, const json& args, const call_context& c, bool need_account = true) {
  ctx_t x{sh, calling_agent(c.caller), nullptr, nullptr};
  if (x.agent.empty()) return tool::make(tool::error_code::denied, "Failed to use mail: '{}' is not an agent", c.caller);
  if (!need_account) return x;
  auto name = string_arg(args, "account");
  if (!name) return name.take_error();
  auto it = sh.s.accounts.find(*name);
  if (it == sh.s.accounts.end() || !listed(it->second.agents, x.agent))
    return tool::make(tool::error_code::denied, "agent '{}' has no mail account '{}' ([tools.email.accounts.{}] agents)", x.agent,
                      *name, *name);
  x.acc = &it->second;
  x.be = backend_of(sh, it->second, x.agent);
  return x;
}

/// A backend's "no such message" or bad value is the caller's mistake; the rest ran and failed.
result<tool::result> mail_failed(const error& e) {
  if (e.is(errc::domain, errc::not_found) || e.is(errc::domain, errc::invalid_argument))
    return tool::make(tool::error_code::bad_arguments, "{}", e.message);
  return ran_and_failed(e);
}

json summary_json(const summary& m) {
  json j{{"id", m.id}, {"from", m.from}, {"subject", m.subject}, {"date", m.date}, {"unread", m.unread}, {"labels", m.labels}};
  if (!m.thread.empty()) j["thread"] = m.thread;
  return j;
}

std::string sha256_hex(const std::string& s) {
  unsigned char h[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(h, reinterpret_cast<const unsigned char*>(s.data()), s.size());
  std::string out;
  for (auto b : h) out += fmt::format("{:02x}", b);
  return out;
}

// --- the tools ---------------------------------------------------------------------------

result<tool::result> folders(const shared& sh, const json& args, const call_context& c) {
  auto x = context_of(sh, args, c, false);
  if (!x) return x.take_error();
  auto only = optional_string_arg(args, "account");
  if (!only) return only.take_error();
  std::string text;
  json arr = json::array();
  for (auto& [name, acc] : sh.s.accounts) {
    if (!listed(acc.agents, x->agent) || (*only && **only != name)) continue;
    auto fs = backend_of(sh, acc, x->agent)->folders();
    if (!fs) {
      text += fmt::format("{}: {}\n", name, fs.err().message);
      continue;
    }
    for (auto& f : *fs) {
      text += fmt::format("{}  {}{}{}\n", name, f.id, f.name != f.id ? " (" + f.name + ")" : "", f.role.empty() ? "" : " [" + f.role + "]");
      arr.push_back({{"account", name}, {"id", f.id}, {"name", f.name}, {"role", f.role}});
    }
  }
  if (arr.empty() && text.empty()) text = fmt::format("agent '{}' has no mail account ([tools.email.accounts])\n", x->agent);
  return answer(std::move(text), {{"folders", std::move(arr)}});
}

result<tool::result> search(const shared& sh, const json& args, const call_context& c) {
  auto x = context_of(sh, args, c);
  if (!x) return x.take_error();
  query q;
  for (auto [key, field] : {std::pair{"folder", &q.folder}, std::pair{"from", &q.from}, std::pair{"to", &q.to},
                            std::pair{"subject", &q.subject}, std::pair{"text", &q.text}, std::pair{"since", &q.since},
                            std::pair{"before", &q.before}}) {
    auto v = optional_string_arg(args, key);
    if (!v) return v.take_error();
    if (*v) *field = **v;
  }
  auto unread = optional_bool_arg(args, "unread");
  if (!unread) return unread.take_error();
  q.unread = unread->value_or(false);
  auto limit = optional_uint_arg(args, "limit");
  if (!limit) return limit.take_error();
  q.limit = std::clamp<std::size_t>(limit->value_or(20), 1, 100);
  auto found = x->be->search(q);
  if (!found) return mail_failed(found.err());
  std::string text;
  json arr = json::array();
  for (auto& m : *found) {
    text += fmt::format("{}{}  {}  {}  {}\n", m.unread ? "* " : "  ", m.id, m.date, m.from, m.subject);
    arr.push_back(summary_json(m));
  }
  if (found->empty()) text = "no messages match\n";
  return answer(std::move(text), {{"account", x->acc->name}, {"messages", std::move(arr)}});
}

result<tool::result> read(const shared& sh, const json& args, const call_context& c) {
  auto x = context_of(sh, args, c);
  if (!x) return x.take_error();
  auto id = id_arg(args);
  if (!id) return id.take_error();
  auto f = x->be->fetch(*id);
  if (!f) return mail_failed(f.err());
  auto m = parse(f->raw);
  if (!m) return ran_and_failed(fail(errc::malformed, "Failed to read message '{}': {}", *id, m.err().message));
  std::string text = fmt::format("From: {}\nTo: {}\n{}{}Subject: {}\nDate: {}\nMessage-ID: <{}>\n\n{}\n", m->from,
                                 fmt::join(m->to, ", "), m->cc.empty() ? "" : fmt::format("Cc: {}\n", fmt::join(m->cc, ", ")),
                                 m->bcc.empty() ? "" : fmt::format("Bcc: {}\n", fmt::join(m->bcc, ", ")), m->subject, m->date,
                                 m->message_id, m->text);
  json parts = json::array();
  for (auto& p : m->parts) {
    if (p.index == m->body_part) continue;
    text += fmt::format("\n[part {}: {}{}, {} bytes{} — email_attachment]", p.index, p.content_type,
                        p.filename.empty() ? "" : " \"" + p.filename + "\"", p.size, p.attachment ? ", attachment" : "");
    parts.push_back({{"part", p.index}, {"content_type", p.content_type}, {"filename", p.filename}, {"size", p.size},
                     {"attachment", p.attachment}});
  }
  json j{{"account", x->acc->name}, {"id", *id}, {"message_id", m->message_id}, {"from", m->from}, {"to", m->to}, {"cc", m->cc},
         {"bcc", m->bcc}, {"subject", m->subject}, {"date", m->date}, {"text", m->text}, {"parts", std::move(parts)}};
  if (!f->thread.empty()) j["thread"] = f->thread;
  return answer(std::move(text), j);
}

result<tool::result> attachment(const shared& sh, const json& args, const call_context& c) {
  auto x = context_of(sh, args, c);
  if (!x) return x.take_error();
  auto id = id_arg(args);
  if (!id) return id.take_error();
  auto n = optional_uint_arg(args, "part");
  if (!n) return n.take_error();
  if (!*n) return tool::make(tool::error_code::bad_arguments, "argument 'part' is required (a part number from email_read)");
  auto f = x->be->fetch(*id);
  if (!f) return mail_failed(f.err());
  auto p = part(f->raw, static_cast<std::size_t>(**n));
  if (!p) return mail_failed(p.err());
  if (p->bytes.size() > max_part_bytes)
    return ran_and_failed(fail(errc::io, "part {} of '{}' has {} bytes, more than the {} a call returns", **n, *id, p->bytes.size(), max_part_bytes));
  bool text = p->info.content_type.rfind("text/", 0) == 0 || p->info.content_type == "message/rfc822";
  json j{{"part", p->info.index}, {"content_type", p->info.content_type}, {"filename", p->info.filename}, {"size", p->bytes.size()}};
  if (text) {
    j["text"] = p->bytes;
    return answer(p->info.content_type == "text/html" ? html_text(p->bytes) : p->bytes, j);
  }
  auto b64 = base64_encode(p->bytes, base64_alphabet::url, false);
  j["base64url"] = b64;
  return answer(fmt::format("part {} ({}{}, {} bytes) as base64url:\n{}", p->info.index, p->info.content_type,
                            p->info.filename.empty() ? "" : " \"" + p->info.filename + "\"", p->bytes.size(), b64),
                j);
}

/// The message a draft, send or reply writes.
struct letter {
  outgoing out;
  std::string thread;
};

result<letter> letter_of(const ctx_t& x, const json& args) {
  letter l;
  l.out.from = x.acc->address;
  for (auto [key, list] : {std::pair{"to", &l.out.to}, std::pair{"cc", &l.out.cc}, std::pair{"bcc", &l.out.bcc}}) {
    auto v = string_list_arg(args, key);
    if (!v) return v.take_error();
    *list = std::move(*v);
  }
  auto subject = optional_string_arg(args, "subject");
  if (!subject) return subject.take_error();
  l.out.subject = subject->value_or("");
  auto body = string_arg(args, "body");
  if (!body) return body.take_error();
  l.out.body = *body;
  return l;
}

/// Fills the reply fields from the message `id` answers: recipients, subject, thread.
status answer_to(ctx_t& x, const std::string& id, bool all, letter& l) {
  auto f = x.be->fetch(id);
  if (!f) return f.take_error();
  auto m = parse(f->raw);
  if (!m) return fail(errc::malformed, "Failed to read message '{}': {}", id, m.err().message);
  if (l.out.to.empty()) {
    l.out.to = m->reply_to.empty() ? std::vector<std::string>{m->from} : m->reply_to;
    if (all) {
      auto self = addresses(x.acc->address);
      auto mine = [&](const std::string& a) {
        auto as = addresses(a);
        return self && as && !as->empty() && !self->empty() && as->front() == self->front();
      };
      for (auto& t : m->to)
        if (!mine(t)) l.out.cc.push_back(t);
      for (auto& t : m->cc)
        if (!mine(t)) l.out.cc.push_back(t);
    }
  }
  if (l.out.subject.empty()) {
    auto s = m->subject;
    bool re = s.size() >= 3 && (s[0] == 'R' || s[0] == 'r') && (s[1] == 'E' || s[1] == 'e') && s[2] == ':';
    l.out.subject = re ? s : "Re: " + s;
  }
  l.out.in_reply_to = m->message_id;
  l.out.references = m->references;
  if (!m->message_id.empty()) l.out.references.push_back(m->message_id);
  if (l.out.references.size() > 30) l.out.references.erase(l.out.references.begin() + 1, l.out.references.end() - 29);
  l.thread = f->thread;
  return {};
}

/// Writes the letter: sent when `want_send` and the account lets this agent send (within the
/// hour's limit), else saved as a draft — the text says which and why.
result<tool::result> deliver(ctx_t& x, letter& l, bool want_send) {
  auto raw = compose(l.out);
  if (!raw) return tool::make(tool::error_code::bad_arguments, "{}", raw.err().message);
  auto with_bcc = compose(l.out, true);  // the same message id
  if (!with_bcc) return tool::make(tool::error_code::bad_arguments, "{}", with_bcc.err().message);
  outgoing_raw o{*raw, *with_bcc, {}, {}, l.thread};
  if (auto from = addresses(l.out.from); from && !from->empty()) o.from = from->front();
  for (auto* list : {&l.out.to, &l.out.cc, &l.out.bcc})
    for (auto& a : *list) {
      auto as = addresses(a);
      if (!as) return tool::make(tool::error_code::bad_arguments, "{}", as.err().message);
      o.recipients.insert(o.recipients.end(), as->begin(), as->end());
    }
  // The hourly limit counts messages: a message to thousands (a reply-all to a list an
  // incoming mail named) is refused here.
  if (o.recipients.size() > max_recipients)
    return tool::make(tool::error_code::bad_arguments, "a message goes to at most {} recipients; this one has {}", max_recipients,
                      o.recipients.size());
  json j{{"account", x.acc->name}, {"message_id", l.out.message_id}, {"to", l.out.to}, {"subject", l.out.subject}};
  std::string why_draft;
  if (want_send && !listed(x.acc->senders, x.agent))
    why_draft = fmt::format("agent '{}' may not send from '{}' ([tools.email.accounts.{}] senders)", x.agent, x.acc->name, x.acc->name);
  if (want_send && why_draft.empty()) {
    std::chrono::seconds wait{};
    if (!x.sh.limiter.take(x.agent, x.sh.s.now(), &wait))
      return ran_and_failed(fail(errc::unavailable, "Failed to send from '{}': agent '{}' sent its {} messages of the hour ([tools.email] "
                                              "send_per_hour); the next may go in {} s",
                                              x.acc->name, x.agent, x.sh.limiter.per_hour(), wait.count()));
    auto sent = x.be->send(o);
    if (!sent) return ran_and_failed(fail(errc::unavailable, "Failed to send from '{}': {}", x.acc->name, sent.err().message));
    if (x.sh.s.on_sent) x.sh.s.on_sent({x.agent, x.acc->name, l.out.message_id, sha256_hex(l.out.subject), o.recipients});
    j["sent"] = true;
    if (!sent->empty()) j["note"] = *sent;
    return answer(fmt::format("sent <{}> to {}\n{}", l.out.message_id, fmt::join(o.recipients, ", "),
                              sent->empty() ? "" : *sent + "\n"),
                  j);
  }
  auto d = x.be->draft(o);
  if (!d) return ran_and_failed(fail(errc::unavailable, "Failed to save a draft in '{}': {}", x.acc->name, d.err().message));
  j["sent"] = false;
  j["draft"] = *d;
  if (!why_draft.empty()) j["not_sent"] = why_draft;
  return answer(fmt::format("{}saved as draft {} (to {})\n", why_draft.empty() ? "" : "not sent: " + why_draft + "; ", *d,
                            fmt::join(o.recipients, ", ")),
                j);
}

result<tool::result> write(const shared& sh, const json& args, const call_context& c, bool send) {
  auto x = context_of(sh, args, c);
  if (!x) return x.take_error();
  auto l = letter_of(*x, args);
  if (!l) return l.take_error();
  auto re = optional_string_arg(args, "reply_to");
  if (!re) return re.take_error();
  if (*re) {
    auto rid = id_arg(json{{"id", **re}});
    if (!rid) return rid.take_error();
    if (auto st = answer_to(*x, *rid, false, *l); !st) return mail_failed(st.err());
  }
  if (l->out.to.empty() && l->out.cc.empty() && l->out.bcc.empty())
    return tool::make(tool::error_code::bad_arguments, "argument 'to' is required (whom the message is for)");
  return deliver(*x, *l, send);
}

result<tool::result> reply(const shared& sh, const json& args, const call_context& c) {
  auto x = context_of(sh, args, c);
  if (!x) return x.take_error();
  auto id = id_arg(args);
  if (!id) return id.take_error();
  auto l = letter_of(*x, args);
  if (!l) return l.take_error();
  auto all = optional_bool_arg(args, "all");
  if (!all) return all.take_error();
  auto send = optional_bool_arg(args, "send");
  if (!send) return send.take_error();
  if (auto st = answer_to(*x, *id, all->value_or(false), *l); !st) return mail_failed(st.err());
  return deliver(*x, *l, send->value_or(false));
}

result<tool::result> move(const shared& sh, const json& args, const call_context& c) {
  auto x = context_of(sh, args, c);
  if (!x) return x.take_error();
  auto id = id_arg(args);
  if (!id) return id.take_error();
  auto to = string_arg(args, "folder");
  if (!to) return to.take_error();
  if (auto st = x->be->move(*id, *to); !st) return mail_failed(st.err());
  return answer(fmt::format("moved {} to {}\n", *id, *to), {{"account", x->acc->name}, {"id", *id}, {"folder", *to}});
}

result<tool::result> label(const shared& sh, const json& args, const call_context& c) {
  auto x = context_of(sh, args, c);
  if (!x) return x.take_error();
  auto id = id_arg(args);
  if (!id) return id.take_error();
  auto add = string_list_arg(args, "add");
  if (!add) return add.take_error();
  auto remove = string_list_arg(args, "remove");
  if (!remove) return remove.take_error();
  if (add->empty() && remove->empty()) return tool::make(tool::error_code::bad_arguments, "name labels to add or remove");
  if (auto st = x->be->label(*id, *add, *remove); !st) return mail_failed(st.err());
  return answer(fmt::format("{}: +[{}] -[{}]\n", *id, fmt::join(*add, ", "), fmt::join(*remove, ", ")),
                {{"account", x->acc->name}, {"id", *id}, {"added", *add}, {"removed", *remove}});
}

}  // namespace

std::vector<tool_def> email_tools(email_settings settings) {
  auto sh = std::make_shared<shared>(std::move(settings));
  auto bind = [sh](auto fn) { return [sh, fn](const json& a, const call_context& c) { return fn(*sh, a, c); }; };
  auto schema = [](std::string_view props, std::string_view required) {
    return fmt::format(R"J({{"type":"object","properties":{{{}}},"required":[{}]}})J", props, required);
  };
  constexpr std::string_view acc = R"J("account":{"type":"string","description":"a mail account of this agent (email_folders lists them)"})J";
  constexpr std::string_view id = R"J("id":{"type":"string","description":"a message id from email_search"})J";
  constexpr std::string_view letter = R"J("to":{"type":"array","items":{"type":"string"}},"cc":{"type":"array","items":{"type":"string"}},"bcc":{"type":"array","items":{"type":"string"}},"subject":{"type":"string"},"body":{"type":"string","description":"plain text"})J";
  std::vector<tool_def> out;
  out.push_back({{"email_folders", "The mail accounts this agent may use and their folders (or labels).",
                  schema(R"J("account":{"type":"string"})J", ""), ""},
                 bind(folders)});
  out.push_back({{"email_search", "Find messages in a folder (default the inbox), newest first.",
                  schema(fmt::format(R"J({},"folder":{{"type":"string"}},"from":{{"type":"string"}},"to":{{"type":"string"}},"subject":{{"type":"string"}},"text":{{"type":"string"}},"since":{{"type":"string","description":"YYYY-MM-DD"}},"before":{{"type":"string","description":"YYYY-MM-DD"}},"unread":{{"type":"boolean"}},"limit":{{"type":"integer","minimum":1,"maximum":100}})J", acc),
                         R"J("account")J"), ""},
                 bind(search)});
  out.push_back({{"email_read", "Read a message: its headers, its text, and a list of its other parts (attachments).",
                  schema(fmt::format("{},{}", acc, id), R"J("account","id")J"), ""},
                 bind(read)});
  out.push_back({{"email_attachment", "One part of a message (as email_read numbers them): text as text, anything else as base64url.",
                  schema(fmt::format(R"J({},{},"part":{{"type":"integer","minimum":1}})J", acc, id), R"J("account","id","part")J"), ""},
                 bind(attachment)});
  out.push_back({{"email_draft", "Save a draft (optionally answering a message, in its thread).",
                  schema(fmt::format(R"J({},{},"reply_to":{{"type":"string","description":"the id of a message this answers"}})J", acc, letter), R"J("account","body")J"), ""},
                 [sh](const json& a, const call_context& c) { return write(*sh, a, c, false); }});
  out.push_back({{"email_send", "Send a message — when this agent may send from the account; otherwise it is saved as a draft and the answer says so.",
                  schema(fmt::format(R"J({},{},"reply_to":{{"type":"string","description":"the id of a message this answers"}})J", acc, letter), R"J("account","body")J"), ""},
                 [sh](const json& a, const call_context& c) { return write(*sh, a, c, true); }});
  out.push_back({{"email_reply", "Answer a message in its thread (to its sender, or with all to everyone on it); a draft unless send is true and this agent may send.",
                  schema(fmt::format(R"J({},{},"body":{{"type":"string"}},"all":{{"type":"boolean"}},"send":{{"type":"boolean"}},"cc":{{"type":"array","items":{{"type":"string"}}}})J", acc, id),
                         R"J("account","id","body")J"), ""},
                 bind(reply)});
  out.push_back({{"email_move", "Move a message to another folder (Gmail: a label, taken off the inbox).",
                  schema(fmt::format(R"J({},{},"folder":{{"type":"string"}})J", acc, id), R"J("account","id","folder")J"), ""},
                 bind(move)});
  out.push_back({{"email_label", "Add or remove labels (IMAP keywords and \\Seen/\\Flagged; Gmail labels; Outlook categories).",
                  schema(fmt::format(R"J({},{},"add":{{"type":"array","items":{{"type":"string"}}}},"remove":{{"type":"array","items":{{"type":"string"}}}})J", acc, id),
                         R"J("account","id")J"), ""},
                 bind(label)});
  return out;
}

}  // namespace weft::tools::email
