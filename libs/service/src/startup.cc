#include <weft/service/startup.hh>

#include <weft/service/exit.hh>

namespace weft::service {

result<config> load_service_config() {
  // weftd checked the file with its whole environment; a service has only its own
  // sections' variables (config::secret_vars), so the others' are left empty here.
  return load_config_or_default(find_config("").value_or(""), true);
}

result<std::unique_ptr<ipc::bus_client>> join_bus(zmq::context_t& ctx, const ipc::client_options& opts) {
  auto bus = ipc::bus_client::connect(ctx, opts);
  if (!bus) return fail(errc::unavailable, "Failed to join the bus as '{}': {}", opts.address, bus.err().to_string());
  return bus;
}

result<std::unique_ptr<ipc::bus_client>> join_bus(zmq::context_t& ctx) {
  auto opts = ipc::bus_client::options_from_env();
  if (!opts) return opts.take_error();
  return join_bus(ctx, *opts);
}

result<std::unique_ptr<on_bus>> join_bus_from_env(ipc::client_options* used) {
  auto opts = ipc::bus_client::options_from_env();
  if (!opts) return opts.take_error();
  auto s = std::make_unique<on_bus>();
  s->notify = notifier::from_env();
  auto bus = join_bus(s->ctx, *opts);
  if (!bus) return bus.take_error();
  s->bus = std::move(*bus);
  if (used) *used = std::move(*opts);
  return s;
}

int exit_with(log::logger& lg, const error& e) {
  lg.error("{}", e.message);
  // Something to fix before starting again (a bad config, missing credentials) is a usage
  // error; anything the system did to us (I/O, a refused socket) is a failure.
  bool usage = e.domain == errc::domain && (e.code == errc::config || e.code == errc::invalid_argument);
  return to_int(usage ? exit_code::usage : exit_code::failure);
}

}  // namespace weft::service
