#pragma once
/// The steps every bus service's main() takes before its own work, so each says the same
/// thing the same way when they fail: read the config weftd started it with, join the bus
/// with the credentials weftd passed, and turn a failure into a logged line and an exit code.

#include <memory>

#include <weft/base/log.hh>
#include <weft/ipc/bus_client.hh>
#include <weft/service/config.hh>
#include <weft/service/notify.hh>

namespace weft::service {

/// The config of this process: $WEFT_CONFIG (weftd passes the file it read) or the usual
/// places (find_config), else the built-in default.
result<config> load_service_config();

/// Joins the bus as `opts.address`; the error says so ("Failed to join the bus as 'x': …").
result<std::unique_ptr<ipc::bus_client>> join_bus(zmq::context_t& ctx, const ipc::client_options& opts);
/// The same with the credentials from the environment (ipc::bus_client::options_from_env).
result<std::unique_ptr<ipc::bus_client>> join_bus(zmq::context_t& ctx);

/// A service on the bus: its notifier to weftd, the ZeroMQ context and the bus connection
/// (declared in construction order: the context outlives the connection).
struct on_bus {
  notifier notify;
  zmq::context_t ctx{1};
  std::unique_ptr<ipc::bus_client> bus;
};
/// Joins the bus with the credentials weftd passed ($WEFT_BUS, $WEFT_ADDRESS,
/// $WEFT_TOKEN_FD) and takes the notifier from $WEFT_NOTIFY_FD — the opening every bus
/// service's main() shares. `opts`, when given, receives the credentials used.
result<std::unique_ptr<on_bus>> join_bus_from_env(ipc::client_options* opts = nullptr);

/// Logs `e` on `lg` and returns main()'s exit code for it: usage (2) for a bad config or
/// missing credentials — something to fix before starting again — failure (1) otherwise
/// (I/O errors included).
int exit_with(log::logger& lg, const error& e);

}  // namespace weft::service
