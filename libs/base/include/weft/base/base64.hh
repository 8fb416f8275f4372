#pragma once
/// Base64 (RFC 4648 §4) and base64url (§5), for the bytes weft carries in text: Gmail's raw
/// messages, Graph's MIME bodies, journal records, PKCE challenges.
#include <string>
#include <string_view>

#include <weft/base/result.hh>

namespace weft {

enum class base64_alphabet { standard, url };

/// `bytes` encoded; `pad`: with '=' to a multiple of four (the URL form is usually without).
std::string base64_encode(std::string_view bytes, base64_alphabet a = base64_alphabet::standard, bool pad = true);
/// Either alphabet, with or without padding; CR, LF, space and tab between groups ignored.
/// errc::malformed for any other character, a lone trailing character, or padding in the middle.
result<std::string> base64_decode(std::string_view text);

}  // namespace weft
