// libFuzzer target: what weft-tool-email reads from mail servers and APIs
// (services/tool-email mime.cc, imap_reply.cc): a message parsed (headers, parts, the text
// part converted, HTML turned to text), one part decoded, the messages a reply to it would
// write; IMAP LIST, SEARCH and FETCH answers. Any bytes: no crash, bounded output.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "services/tool-email/imap_reply.hh"
#include "services/tool-email/mime.hh"

namespace mail = weft::tools::email;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static bool once = (mail::mime_init(), true);
  (void)once;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  mail::limits l;
  if (auto m = mail::parse(in, l)) {
    if (m->parts.size() > l.max_parts) std::abort();
    if (m->text.size() > l.max_text + 200) std::abort();
    for (auto& p : m->parts) (void)mail::part(in, p.index, l);
    // A reply to it: the fields taken from outside input must not break the message written.
    mail::outgoing o;
    o.from = "alice@example.test";
    o.to = m->reply_to.empty() ? std::vector<std::string>{m->from} : m->reply_to;
    o.subject = "Re: " + m->subject;
    o.body = "ok";
    o.in_reply_to = m->message_id;
    o.references = m->references;
    (void)mail::compose(o);
  }
  (void)mail::html_text(in);
  (void)mail::list_folders(in);
  (void)mail::search_uids(in);
  (void)mail::fetch_flags(in);
  return 0;
}
