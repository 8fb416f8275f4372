#pragma once
/// Talks to weftd over its control socket ($WEFT_RUNTIME_DIR/control): the
/// io.weft.Supervisor.v1 requests behind weftctl, and the ServiceChanged events of Watch.

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include <zmq.hpp>

#include <weft/ipc/message.hh>

#include "proto/supervisor_v1.hh"

namespace weft::service {

class control_client {
 public:
  /// Fails with a clear message when no weftd listens in `runtime_dir`.
  static result<std::unique_ptr<control_client>> connect(zmq::context_t& ctx, const std::string& runtime_dir);

  /// Sends one request and waits for its answer; an error reply becomes the error.
  result<ipc::message> request(std::string_view type, const std::string& payload,
                               std::chrono::milliseconds timeout = std::chrono::seconds(30));
  template <class Req>
  result<ipc::message> request(const Req& r, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    return request(Req::type_name, wire::encode(r), timeout);
  }

  /// After request(Watch{}): the next ServiceChanged, or nullopt after `timeout`.
  std::optional<proto::supervisor_v1::service_info> next_change(std::chrono::milliseconds timeout);

  const std::string& endpoint() const { return _endpoint; }

 private:
  control_client(zmq::context_t& ctx, std::string endpoint);
  std::optional<ipc::message> receive(std::chrono::milliseconds timeout);
  zmq::socket_t _sock;
  std::string _endpoint;
  std::uint64_t _next_id = 1;
  std::vector<proto::supervisor_v1::service_info> _changes;
};

}  // namespace weft::service
