#include <weft/service/control_client.hh>

#include <sys/stat.h>

#include <weft/service/paths.hh>

namespace weft::service {

namespace bus = weft::proto::bus_v1;
namespace sv = weft::proto::supervisor_v1;

control_client::control_client(zmq::context_t& ctx, std::string endpoint)
    : _sock(ctx, zmq::socket_type::dealer), _endpoint(std::move(endpoint)) {}

result<std::unique_ptr<control_client>> control_client::connect(zmq::context_t& ctx, const std::string& runtime) {
  auto path = runtime + "/control";
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    return fail(errc::unavailable, "Failed to reach weftd at '{}': no control socket (is weftd running?)", path);
  std::unique_ptr<control_client> c(new control_client(ctx, control_endpoint(runtime)));
  c->_sock.set(zmq::sockopt::linger, 0);
  try {
    c->_sock.connect(c->_endpoint);
  } catch (const zmq::error_t& e) {
    return fail(errc::unavailable, "Failed to reach weftd at '{}': {}", path, e.what());
  }
  return c;
}

std::optional<ipc::message> control_client::receive(std::chrono::milliseconds timeout) {
  zmq::pollitem_t item{_sock.handle(), 0, ZMQ_POLLIN, 0};
  if (zmq::poll(&item, 1, timeout) <= 0) return std::nullopt;
  zmq::message_t header;
  if (!_sock.recv(header, zmq::recv_flags::dontwait)) return std::nullopt;
  auto m = ipc::read_rest(_sock, header);
  if (!m) return std::nullopt;
  return std::move(*m);
}

result<ipc::message> control_client::request(std::string_view type, const std::string& payload,
                                             std::chrono::milliseconds timeout) {
  auto id = _next_id++;
  auto header = ipc::encode_header(bus::kind::request, type, id, "weftd");
  _sock.send(zmq::buffer(header), zmq::send_flags::sndmore);
  _sock.send(zmq::buffer(payload), zmq::send_flags::none);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return bus::make(bus::error_code::timeout, "weftd did not answer '{}' within {} ms", type, timeout.count());
    auto m = receive(left);
    if (!m) continue;
    if (m->env.kind == bus::kind::event) {
      if (auto c = m->as<sv::service_changed>(); c) _changes.push_back(c->service);
      continue;
    }
    if (m->env.id != id) continue;
    if (m->is_error()) return m->to_error();
    return std::move(*m);
  }
}

std::optional<sv::service_info> control_client::next_change(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (_changes.empty()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    auto m = receive(left);
    if (!m || m->env.kind != bus::kind::event) continue;
    if (auto c = m->as<sv::service_changed>(); c) _changes.push_back(c->service);
  }
  auto c = _changes.front();
  _changes.erase(_changes.begin());
  return c;
}

}  // namespace weft::service
