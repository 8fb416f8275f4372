// libFuzzer target: an issuer's OpenID Connect discovery document as weft-oauth2 reads it
// (services/oauth2 providers.cc read_discovery, compiled here on its own). Any bytes: no
// crash, and what it accepts has the endpoints it must.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "services/oauth2/providers.hh"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto d = weft::oauth2::read_discovery(in, "https://login.example.test/tenant");
  if (d && (d->auth_url.empty() || d->token_url.empty())) std::abort();
  return 0;
}
