#include <weft/ipc/builtin.hh>

#include <weft/base/log.hh>

namespace weft::ipc {

result<bus::log_level_set> set_log_level(const message& m) {
  if (!is_admin(m.env.from))
    return bus::make(bus::error_code::denied, "only weftd and ctl/* may change log levels, not '{}'", m.env.from);
  auto req = m.as<bus::set_log_level>();
  if (!req) return req.take_error();
  if (!log::configure(req->spec))
    return bus::make(bus::error_code::bad_request, "invalid log level spec '{}'; expected e.g. 'debug' or 'info,bus=trace'",
                     req->spec);
  log::get("service").info("log levels set to '{}' by '{}'", req->spec, m.env.from);
  return bus::log_level_set{req->spec};
}

bool answer_builtin(bus_client& client, const message& m) {
  if (m.env.kind != bus::kind::request) return false;
  if (m.is(bus::ping::type_name)) {
    (void)client.reply(m, bus::pong{client.address()});
    return true;
  }
  if (m.is(bus::set_log_level::type_name)) {
    auto r = set_log_level(m);
    if (r) (void)client.reply(m, *r);
    else (void)client.reply_error(m, r.err());
    return true;
  }
  return false;
}

}  // namespace weft::ipc
