// libFuzzer target: libs/http's HTTP/1.1 request parser (what weft's servers read from any
// peer) and the header helpers a server applies to what it parsed. Parsing must never
// crash or exceed its limits, and it must not depend on how the bytes were cut: a request
// complete in a prefix is the same request in the whole input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <weft/http/request.hh>

namespace h = weft::http;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  h::limits lim;
  lim.max_header_bytes = 2048;
  lim.max_headers = 16;
  lim.max_body_bytes = 4096;
  auto whole = h::parse_request(text, lim);
  if (whole.status == h::parse_status::complete) {
    auto& r = whole.req;
    if (whole.consumed > size || r.body.size() > lim.max_body_bytes || r.headers.size() > lim.max_headers) std::abort();
    if (r.target.empty() || r.target[0] != '/' || r.method.empty()) std::abort();
    (void)h::cookie_value(r.header("cookie"), "weft_token");
    (void)h::equal_secret(r.header("authorization"), "Bearer x");
    // What follows the request (pipelining) parses on its own.
    (void)h::parse_request(text.substr(whole.consumed), lim);
  } else if (whole.status == h::parse_status::bad) {
    if (whole.http_status < 400 || whole.http_status > 505 || whole.reason.empty()) std::abort();
  }
  // The same bytes arriving in two reads.
  auto cut = size ? data[0] % (size + 1) : 0;
  auto prefix = h::parse_request(text.substr(0, cut), lim);
  if (prefix.status == h::parse_status::complete &&
      (whole.status != h::parse_status::complete || whole.consumed != prefix.consumed ||
       whole.req.body != prefix.req.body || whole.req.target != prefix.req.target))
    std::abort();
  return 0;
}
