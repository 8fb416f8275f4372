#include <weft/ipc/message.hh>

namespace weft::ipc {

error message::to_error() const {
  auto e = as<bus::error>();
  if (!e) return e.err();
  return error{e->domain, e->code, e->message};
}

result<message> read_rest(zmq::socket_t& s, zmq::message_t& header, const wire::limits& lim) {
  zmq::message_t payload, extra;
  bool has_payload = header.more() && s.recv(payload);
  for (bool more = has_payload && payload.more(); more; more = extra.more()) (void)s.recv(extra);
  auto env = wire::decode<bus::envelope>(header.to_string_view(), lim);
  if (!env) return env.take_error();
  return message{std::move(*env), has_payload ? payload.to_string() : std::string()};
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
