#pragma once
/// Mail messages as RFC 5322 / MIME text, on GMime 3 (Debian libgmime-3.0): reading one —
/// headers decoded to UTF-8, the readable body, its parts numbered for fetching one later —
/// and writing one (a UTF-8 text/plain message, in a thread when it answers another).
/// Every backend speaks these bytes: IMAP and SMTP natively, Gmail as `raw`, Graph as `$value`.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <weft/base/result.hh>

namespace weft::tools::email {

/// Once per process, before threads (GMime's type system and charset tables).
void mime_init();

struct part_info {
  std::size_t index = 0;     ///< leaf parts numbered 1, 2, … in document order
  std::string content_type;  ///< text/plain, application/pdf, message/rfc822, …
  std::string filename;      ///< empty when none was given
  bool attachment = false;   ///< Content-Disposition: attachment, or a named non-text part
  std::size_t size = 0;      ///< decoded bytes
};

struct message {
  std::string message_id;  ///< without angle brackets
  std::string in_reply_to;
  std::vector<std::string> references;
  std::string from, subject, date;  ///< date as RFC 3339 UTC when it parsed, else as written
  std::vector<std::string> to, cc, bcc, reply_to;  ///< bcc: drafts and sent copies keep it
  std::string text;               ///< the readable body: the first text/plain, else text from HTML
  std::size_t body_part = 0;      ///< the part `text` came from (0: none)
  std::vector<part_info> parts;   ///< every leaf part
};

struct limits {
  std::size_t max_parts = 256;
  std::size_t max_depth = 16;
  std::size_t max_text = 1u << 20;  ///< the body text is cut here (with a note)
};

/// errc::malformed when the bytes are no message at all.
result<message> parse(std::string_view raw, const limits& l = {});

struct part_content {
  part_info info;
  std::string bytes;  ///< decoded (base64/quoted-printable undone); UTF-8 for text parts
};
/// Leaf part `index` (1-based) decoded; errc::not_found when there is none.
result<part_content> part(std::string_view raw, std::size_t index, const limits& l = {});

struct outgoing {
  std::string from;                     ///< "Name <a@b>" or a@b
  std::vector<std::string> to, cc, bcc;
  std::string subject, body;            ///< UTF-8
  std::string in_reply_to;              ///< a message id (no brackets) this answers
  std::vector<std::string> references;  ///< the thread's ids, oldest first
  std::string message_id;               ///< made (…@<from's domain>) when empty
};
/// The message as CRLF text; errc::invalid_argument naming a recipient or sender that is no
/// address, or a subject with a line break. Fills o.message_id when empty. Bcc is written
/// only with `keep_bcc` (drafts, the sent copy, APIs that read recipients from the headers);
/// SMTP takes it from the envelope. Line breaks in the body become CRLF whatever they were
/// (a lone CR never reaches the wire), and a NUL in it is refused.
result<std::string> compose(outgoing& o, bool keep_bcc = false);

/// The bare addresses of a list ("Ann <a@x>, b@y" → a@x, b@y), fit for an SMTP envelope;
/// errc::invalid_argument when an entry is no address or holds what an envelope must not
/// (quotes, angle brackets, spaces, control characters).
result<std::vector<std::string>> addresses(const std::string& list);

/// HTML as plain text (tags dropped, block ends as line breaks, common entities decoded).
std::string html_text(std::string_view html);

}  // namespace weft::tools::email
