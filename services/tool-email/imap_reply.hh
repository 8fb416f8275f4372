#pragma once
/// What an IMAP server answers to the commands tool-email sends (RFC 9051 §7 untagged
/// responses, as libcurl hands them over): LIST folders with their special use, SEARCH
/// UIDs, FETCH flags. Outside input: whatever the bytes, these return what they could read.
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "services/tool-email/backend.hh"

namespace weft::tools::email {

/// The words of one line: atoms, quoted strings (unquoted), a parenthesised list as one word.
std::vector<std::string> imap_words(std::string_view line);
/// "* LIST (\HasNoChildren \Drafts) "." Drafts" lines → folders (\Noselect ones left out),
/// with roles from the special-use flags (RFC 6154) and INBOX's.
std::vector<folder> list_folders(std::string_view answer);
/// "* SEARCH 3 7 12" lines → the UIDs (numbers only).
std::vector<std::string> search_uids(std::string_view answer);
/// "* 4 FETCH (UID 12 FLAGS (\Seen work))" lines → UID → flags.
std::map<std::string, std::vector<std::string>> fetch_flags(std::string_view answer);

}  // namespace weft::tools::email
