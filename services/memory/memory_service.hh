#pragma once
/// The memory process: one event loop serving io.weft.Memory.v1 for every agent's
/// namespace, asking llm for embeddings, and writing the witness chain from bus events.

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include <weft/base/log.hh>
#include <weft/ipc/bus_client.hh>
#include <weft/service/config.hh>
#include <weft/service/notify.hh>

namespace weft::memory {

/// Who is asking and for which namespace, decided from the authenticated sender.
struct access {
  std::string agent;   ///< the namespace
  bool admin = false;  ///< weftd or ctl/*: may name any agent, wipe and import
};

/// The namespace a request may touch: the caller's own, a shared one for reads, or any for
/// admins. `requested` is the request's agent field (empty: the caller's own).
/// `write` is true for Put, Forget, Wipe and import.
result<access> authorize(const service::config& cfg, std::string_view from, std::string_view requested, bool write);

class memory_service {
 public:
  memory_service(zmq::context_t& ctx, ipc::bus_client& bus, std::string bus_endpoint, service::config cfg,
                 std::string home);
  ~memory_service();
  /// Runs until TERM/INT; 0 on a clean stop.
  int run(service::notifier& n, int signal_fd);

 private:
  void dispatch(const ipc::message& m);

  zmq::context_t& _ctx;
  ipc::bus_client& _bus;
  service::config _cfg;
  std::string _home;
  log::logger& _log;
};

}  // namespace weft::memory
