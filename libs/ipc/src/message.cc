#include <weft/ipc/message.hh>

namespace weft::ipc {

error message::to_error() const {
  auto e = as<bus::error>();
  if (!e) return e.err();
  return error{e->domain, e->code, e->message};
}

std::string encode_header(bus::kind k, std::string_view type, std::uint64_t id, std::string_view to,
                          std::string_view from) {
  bus::envelope env;
  env.v = 1;
  env.kind = k;
  env.type = type;
  env.id = id;
  env.from = from;
  env.to = to;
  env.ts = utc_now();
  return wire::encode(env);
}

}  // namespace weft::ipc
