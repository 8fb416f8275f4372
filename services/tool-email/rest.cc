#include "services/tool-email/rest.hh"

namespace weft::tools::email {

result<json> call_json(rest_api& api, const rest_call& c) {
  bool body = !c.body.empty() || c.method == "POST" || c.method == "PATCH";
  auto raw = api.call_raw(c.method, c.url, c.body, body ? c.content_type : std::string());
  if (!raw) return raw.take_error();
  if (raw->empty()) return json::object();
  auto j = json::parse(*raw, nullptr, false);
  if (j.is_discarded())
    return fail(errc::malformed, "{} answered {} {} with what is not JSON", api.service(), c.method,
                c.url.rfind(api.base(), 0) == 0 ? c.url.substr(0, c.url.find('?')).substr(api.base().size())
                                                : c.url.substr(0, std::min<std::size_t>(c.url.find('?'), 200)));
  return j;
}

}  // namespace weft::tools::email
