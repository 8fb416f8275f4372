// [tools.email]: the mail accounts of the email tools (tool-email, one shared process) and
// the agents' hourly sending limit.
#include "config_check.hh"

namespace weft::service::detail {

namespace {

bool valid_account_name(std::string_view n) {
  return !n.empty() && n.size() <= 32 && lower_alnum(n[0]) &&
         std::all_of(n.begin(), n.end(), [](char ch) { return lower_alnum(ch) || ch == '-'; });
}

bool starts(std::string_view s, std::string_view p) { return s.rfind(p, 0) == 0; }

/// The agent ids of a list, each one of [agents].
std::optional<std::vector<std::string>> read_agents(checker& ck, const toml::table& e, const std::string& label,
                                                    std::string_view key, const config& c) {
  auto ag = ck.read_strings(e, label, key);
  if (!ag) return ag;
  for (auto& id : *ag)
    if (!c.agents.count(id))
      ck.error(e.get(key)->source(), fmt::format("{} {} names '{}', which is no agent of [agents]", label, key, clean(id)));
  return ag;
}

void read_account(checker& ck, const toml::key& k, const toml::table& e, config& c) {
  std::string name(k.str());
  auto label = fmt::format("[tools.email.accounts.{}]", clean(name));
  email_account_settings acc;
  acc.name = name;
  acc.where = ck.where(e.source());
  ck.check_keys(e, label, {"kind", "imap_url", "smtp_url", "url", "username", "password", "oauth2_account", "scopes", "address",
                           "agents", "senders", "save_sent"});
  constexpr std::array<std::pair<std::string_view, int>, 3> kinds = {std::pair{"imap", 0}, std::pair{"gmail", 1},
                                                                     std::pair{"graph", 2}};
  bool known_kind = true;  // an unknown kind: its error alone, not those of a kind it is not
  if (auto kd = ck.read_enum(e, label, "kind", kinds)) acc.kind = std::string(kinds[static_cast<std::size_t>(*kd)].first);
  else known_kind = !e.get("kind");
  bool imap = acc.kind == "imap";
  if (auto oa = ck.read_string(e, label, "oauth2_account")) acc.oauth2_account = *oa;
  if (auto u = ck.read_string(e, label, "username")) acc.username = *u;
  if (auto p = ck.read_string(e, label, "password")) acc.password = *p;

  // Mail servers: TLS from the start (imaps, smtps) or by STARTTLS, which tool-email insists
  // on for imap:// and smtp:// anywhere but this machine.
  auto mail_url = [&](std::string_view key, std::string_view tls, std::string_view plain, std::string_view example) {
    auto u = ck.read_string(e, label, key);
    if (!u) return std::string();
    if (!starts(*u, fmt::format("{}://", tls)) && !starts(*u, fmt::format("{}://", plain)))
      ck.error(e.get(key)->source(), fmt::format("{} {} must be {}:// or {}:// (e.g. {}), not '{}'", label, key, tls, plain, example,
                                                 clean(*u)));
    return *u;
  };
  if (!known_kind) {
  } else if (imap) {
    acc.imap_url = mail_url("imap_url", "imaps", "imap", "imaps://mail.example.com");
    acc.smtp_url = mail_url("smtp_url", "smtps", "smtp", "smtps://mail.example.com or smtp://mail.example.com:587");
    if (acc.imap_url.empty() && !e.get("imap_url"))
      ck.error(e.source(), fmt::format("{} (imap) needs imap_url (imaps://mail.example.com)", label));
    if (acc.username.empty()) ck.error(e.source(), fmt::format("{} (imap) needs username", label));
    if (acc.password.empty() && acc.oauth2_account.empty())
      ck.error(e.source(), fmt::format("{} (imap) needs password, or oauth2_account to sign in with XOAUTH2", label));
    else if (!acc.password.empty() && !acc.oauth2_account.empty())
      ck.error(e.get("oauth2_account")->source(),
               fmt::format("{} takes password or oauth2_account (XOAUTH2), not both", label));
  } else {
    for (auto key : {"imap_url", "smtp_url", "username", "password"})
      if (auto* n = e.get(key)) ck.error(n->source(), fmt::format("{} {} is for kind \"imap\", not \"{}\"", label, key, acc.kind));
    if (acc.oauth2_account.empty())
      ck.error(e.source(), fmt::format("{} ({}) needs oauth2_account: the [oauth2] account whose tokens it uses", label, acc.kind));
    if (auto u = ck.read_string(e, label, "url")) {
      if (!starts(*u, "https://") && !starts(*u, "http://"))
        ck.error(e.get("url")->source(), fmt::format("{} url must be an http(s) URL, not '{}'", label, clean(*u)));
      else if (!secure_url(*u))
        ck.error(e.get("url")->source(), fmt::format("{} url must be https:// (http:// only to this machine: it carries the "
                                                     "tokens), not '{}'", label, clean(*u)));
      acc.url = *u;
    } else {
      acc.url = acc.kind == "gmail" ? "https://gmail.googleapis.com/gmail/v1/users/me" : "https://graph.microsoft.com/v1.0/me";
    }
  }
  if (imap && e.get("url")) ck.error(e.get("url")->source(), fmt::format("{} url is for gmail and graph; imap uses imap_url", label));
  if (auto sc = ck.read_strings(e, label, "scopes")) acc.scopes = std::move(*sc);
  else if (!acc.oauth2_account.empty())
    acc.scopes = acc.kind == "gmail" ? std::vector<std::string>{"gmail.modify"}
                 : acc.kind == "graph" ? std::vector<std::string>{"mail", "mail.send"}
                                       : std::vector<std::string>{"mail"};
  if (auto a = ck.read_string(e, label, "address")) {
    if (a->find('@') == std::string::npos || a->find_first_of("\r\n") != std::string::npos)
      ck.error(e.get("address")->source(), fmt::format("{} address must be a mail address (\"Ann <ann@example.com>\"), not '{}'",
                                                       label, clean(*a)));
    acc.address = *a;
  } else {
    ck.error(e.source(), fmt::format("{} needs address: the From: of what agents write (\"Ann <ann@example.com>\")", label));
  }
  if (auto ag = read_agents(ck, e, label, "agents", c)) acc.agents = std::move(*ag);
  else ck.error(e.source(), fmt::format("{} needs agents (which agents' email tools may use it)", label));
  if (auto s = read_agents(ck, e, label, "senders", c)) {
    for (auto& id : *s)
      if (c.agents.count(id) && std::find(acc.agents.begin(), acc.agents.end(), id) == acc.agents.end())
        ck.error(e.get("senders")->source(), fmt::format("{} senders names '{}', which is not in its agents", label, clean(id)));
    acc.senders = std::move(*s);
  }
  if (auto ss = ck.read_bool(e, label, "save_sent")) {
    if (!imap) ck.error(e.get("save_sent")->source(), fmt::format("{} save_sent is for kind \"imap\"", label));
    acc.save_sent = *ss;
  }
  if (imap && !acc.senders.empty() && acc.smtp_url.empty())
    ck.error(e.get("senders")->source(), fmt::format("{} has senders but no smtp_url to send with", label));
  c.tools.email.accounts[name] = std::move(acc);
}

}  // namespace

void read_email(checker& ck, const toml::node& n, config& c) {
  auto* t = n.as_table();
  if (!t) {
    ck.error(n.source(), fmt::format("[tools] email must be a table ([tools.email]), not {}", a_type(n)));
    return;
  }
  const std::string label = "[tools.email]";
  auto& em = c.tools.email;
  em.where = ck.where(t->source());
  ck.check_keys(*t, label, {"send_per_hour", "accounts"});
  if (auto n2 = ck.read_uint<unsigned>(*t, label, "send_per_hour", 1u, 10000u)) em.send_per_hour = *n2;
  auto* a = t->get("accounts");
  if (!a) return;
  auto* at = a->as_table();
  if (!at) {
    ck.error(a->source(), fmt::format("{} accounts must be a table ([tools.email.accounts.<name>]), not {}", label, a_type(*a)));
    return;
  }
  // Passwords reach tool-email alone.
  ck.track_env(&c.secret_vars["tool-email"]);
  for (auto [k, v] : in_file_order(*at)) {
    auto* e = v->as_table();
    if (!valid_account_name(k->str()) || !e) {
      ck.error(k->source(), fmt::format("[tools.email.accounts.{}] must be a table named with a-z, 0-9 and '-'", clean(k->str())));
      continue;
    }
    read_account(ck, *k, *e, c);
  }
  ck.track_env(&c.secret_vars["tool-mcp"]);  // back to what read_tools tracks
}

}  // namespace weft::service::detail
