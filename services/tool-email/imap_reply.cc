#include "services/tool-email/imap_reply.hh"

#include <algorithm>
#include <cctype>

namespace weft::tools::email {

std::vector<std::string> imap_words(std::string_view s) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\r' || s[i] == '\n')) ++i;
    if (i >= s.size()) break;
    std::string w;
    if (s[i] == '"') {
      for (++i; i < s.size() && s[i] != '"'; ++i) {
        if (s[i] == '\\' && i + 1 < s.size()) ++i;
        w += s[i];
      }
      ++i;
    } else if (s[i] == '(') {
      int depth = 0;
      for (; i < s.size(); ++i) {
        if (s[i] == '(') ++depth;
        if (s[i] == ')' && --depth == 0) {
          ++i;
          break;
        }
        w += s[i];
      }
      w.erase(0, 1);
    } else {
      while (i < s.size() && s[i] != ' ' && s[i] != '\r' && s[i] != '\n') w += s[i++];
    }
    out.push_back(std::move(w));
  }
  return out;
}

namespace {

std::vector<std::string_view> lines(std::string_view s) {
  std::vector<std::string_view> out;
  while (!s.empty()) {
    auto nl = s.find('\n');
    auto l = s.substr(0, nl);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    out.push_back(l);
    if (nl == std::string_view::npos) break;
    s.remove_prefix(nl + 1);
  }
  return out;
}

bool digits(std::string_view s) {
  return !s.empty() && s.size() <= 10 && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

}  // namespace

std::vector<folder> list_folders(std::string_view answer) {
  std::vector<folder> out;
  for (auto l : lines(answer)) {
    if (l.rfind("* LIST ", 0) != 0) continue;
    auto w = imap_words(l.substr(7));
    if (w.size() < 3 || w[2].empty()) continue;
    auto flags = imap_words(w[0]);
    if (std::find(flags.begin(), flags.end(), "\\Noselect") != flags.end()) continue;
    folder f{w[2], w[2], ""};
    for (auto& fl : flags)
      for (auto role : {"Drafts", "Sent", "Trash", "Junk", "Archive"})
        if (fl.size() > 1 && fl.substr(1) == role) {
          f.role = role;
          std::transform(f.role.begin(), f.role.end(), f.role.begin(), [](unsigned char c) { return std::tolower(c); });
        }
    if (f.id == "INBOX") f.role = "inbox";
    out.push_back(std::move(f));
  }
  return out;
}

std::vector<std::string> search_uids(std::string_view answer) {
  std::vector<std::string> out;
  for (auto l : lines(answer))
    if (l.rfind("* SEARCH", 0) == 0)
      for (auto& w : imap_words(l.substr(8)))
        if (digits(w)) out.push_back(w);
  return out;
}

std::map<std::string, std::vector<std::string>> fetch_flags(std::string_view answer) {
  std::map<std::string, std::vector<std::string>> out;
  for (auto l : lines(answer)) {
    auto p = l.find("FETCH (");
    if (p == std::string_view::npos) continue;
    auto w = imap_words(l.substr(p + 6));
    if (w.empty()) continue;
    auto inner = imap_words(w[0]);
    std::string uid;
    std::vector<std::string> fl;
    for (std::size_t i = 0; i + 1 < inner.size(); i += 2) {
      if (inner[i] == "UID") uid = inner[i + 1];
      if (inner[i] == "FLAGS") fl = imap_words(inner[i + 1]);
    }
    if (digits(uid)) out[uid] = std::move(fl);
  }
  return out;
}

}  // namespace weft::tools::email
