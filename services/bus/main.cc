// bus — the weft message broker.
//
// Purpose: every weft service connects here with a ZeroMQ DEALER and says Hello with the
// token weftd gave it. The bus stamps the authenticated sender on every envelope, routes
// by address, enforces the ACL and limits from [bus], answers typed errors
// (io.weft.Bus.v1), and publishes events and traces on its event socket.
//
// Options (defaults in brackets):
//   --config FILE     config file [$WEFT_CONFIG, else the built-in default]
//   --runtime-dir DIR where the sockets live [see docs/architecture.md]
//   --secret-fd N     read the per-boot secret (hex) from fd N [$WEFT_SECRET_FD]
//   --help
// Serves: io.weft.Bus.v1 (Hello, Ping, ListPeers). Sockets: ROUTER ipc://<dir>/bus,
// XPUB ipc://<dir>/events.
//
// Example config:
//   [bus]
//   max_message_bytes = 1048576
//   queue_depth = 1000
//   default_policy = "allow"
//   [[bus.acl]]
//   from = "agent/*"
//   to = "tool/shell/*"
//   action = "deny"
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <zmq.hpp>

#include <weft/service/config.hh>
#include <weft/service/exit.hh>
#include <weft/service/notify.hh>
#include <weft/service/paths.hh>

#include "broker.hh"

using namespace weft;
namespace fs = std::filesystem;

namespace {

class zmq_transport final : public bus::transport {
 public:
  zmq_transport(zmq::socket_t& router, zmq::socket_t& pub) : _router(router), _pub(pub) {}
  send_result send(std::string_view rid, std::string_view header, std::string_view payload) override {
    try {
      if (!_router.send(zmq::buffer(rid.data(), rid.size()), zmq::send_flags::sndmore | zmq::send_flags::dontwait))
        return send_result::full;
      _router.send(zmq::buffer(header.data(), header.size()), zmq::send_flags::sndmore);
      _router.send(zmq::buffer(payload.data(), payload.size()), zmq::send_flags::none);
      return send_result::ok;
    } catch (const zmq::error_t& e) {
      if (e.num() == EHOSTUNREACH) return send_result::unreachable;
      if (e.num() == EAGAIN) return send_result::full;
      throw;
    }
  }
  void publish(std::string_view topic, std::string_view header, std::string_view payload) override {
    // Never block the router for a slow subscriber: XPUB drops at its high-water mark.
    (void)_pub.send(zmq::buffer(topic.data(), topic.size()), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
    (void)_pub.send(zmq::buffer(header.data(), header.size()), zmq::send_flags::sndmore);
    (void)_pub.send(zmq::buffer(payload.data(), payload.size()), zmq::send_flags::none);
  }

 private:
  zmq::socket_t& _router;
  zmq::socket_t& _pub;
};

void usage() {
  fmt::print(
      "usage: bus [--config FILE] [--runtime-dir DIR] [--secret-fd N]\n"
      "The weft message broker; normally started by weftd.\n");
}

status bind_ipc(zmq::socket_t& s, const std::string& endpoint) {
  // A socket file left by a killed bus would make bind fail: it is ours to replace.
  auto path = endpoint.substr(6);
  std::error_code ec;
  fs::remove(path, ec);
  try {
    s.bind(endpoint);
  } catch (const zmq::error_t& e) {
    return fail(errc::io, "Failed to bind '{}': {}", endpoint, e.what());
  }
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path, runtime;
  int secret_fd = -1;
  if (const char* v = std::getenv("WEFT_SECRET_FD")) secret_fd = std::atoi(v);
  if (const char* v = std::getenv("WEFT_CONFIG")) config_path = v;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (a == "--help") {
      usage();
      return 0;
    } else if (a == "--config") {
      auto v = value();
      if (!v) return service::usage_error("bus", "--config needs a file");
      config_path = v;
    } else if (a == "--runtime-dir") {
      auto v = value();
      if (!v) return service::usage_error("bus", "--runtime-dir needs a directory");
      runtime = v;
    } else if (a == "--secret-fd") {
      auto v = value();
      if (!v) return service::usage_error("bus", "--secret-fd needs a number");
      secret_fd = std::atoi(v);
    } else {
      return service::usage_error("bus", fmt::format("unknown option '{}'", a));
    }
  }
  log::configure_from_env();
  auto& lg = log::get("bus");
  // Nobody else running as our uid may read the secret out of our memory.
  prctl(PR_SET_DUMPABLE, 0);
  if (secret_fd < 0) return service::usage_error("bus", "no secret: pass --secret-fd or start the bus from weftd");
  auto hex = ipc::read_credential_fd(secret_fd);
  if (!hex) {
    lg.error("{}", hex.err().message);
    return 1;
  }
  auto key = ipc::secret_from_hex(*hex);
  if (!key) {
    lg.error("Failed to read the bus secret: {}", key.err().message);
    return 1;
  }
  auto cfg = service::load_config_or_default(config_path);
  if (!cfg) {
    fmt::print(stderr, "{}\n", cfg.err().message);
    return service::to_int(service::exit_code::usage);
  }
  runtime = service::runtime_dir(runtime.empty() ? cfg->runtime_dir : runtime);

  zmq::context_t ctx(1);
  zmq::socket_t router(ctx, zmq::socket_type::router);
  zmq::socket_t pub(ctx, zmq::socket_type::xpub);
  const auto& bs = cfg->bus;
  router.set(zmq::sockopt::router_mandatory, 1);
  router.set(zmq::sockopt::sndhwm, static_cast<int>(bs.queue_depth));
  router.set(zmq::sockopt::rcvhwm, static_cast<int>(bs.queue_depth));
  // Hard cap: past twice the limit the peer is disconnected by ZeroMQ instead of getting
  // TooLarge, so one peer cannot make the bus buffer unbounded data.
  router.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(bs.max_message_bytes * 2 + 65536));
  router.set(zmq::sockopt::linger, 0);
  pub.set(zmq::sockopt::sndhwm, 100000);
  pub.set(zmq::sockopt::linger, 0);
  if (auto s = bind_ipc(router, service::bus_endpoint(runtime)); !s) {
    lg.error("{}", s.err().message);
    return 1;
  }
  if (auto s = bind_ipc(pub, service::events_endpoint(runtime)); !s) {
    lg.error("{}", s.err().message);
    return 1;
  }

  zmq_transport t(router, pub);
  bus::broker b(bs, *key, t);

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);

  auto notify = service::notifier::from_env();
  (void)notify.ready();
  lg.info("bus instance {} serving on {}", b.instance(), service::bus_endpoint(runtime));
  zmq::message_t rid, header, payload, extra;
  for (;;) {
    auto wait = notify.beat_if_due();
    zmq::pollitem_t items[] = {{router.handle(), 0, ZMQ_POLLIN, 0},
                               {pub.handle(), 0, ZMQ_POLLIN, 0},
                               {nullptr, sfd, ZMQ_POLLIN, 0}};
    zmq::poll(items, 3, wait);
    if (items[2].revents & ZMQ_POLLIN) break;
    if (items[1].revents & ZMQ_POLLIN) {
      zmq::message_t sub;
      while (pub.recv(sub, zmq::recv_flags::dontwait)) {
        auto s = sub.to_string_view();
        if (!s.empty() && (s[0] == 0 || s[0] == 1)) b.on_subscription(s.substr(1), s[0] == 1);
      }
    }
    // A bounded batch per wake-up keeps heartbeats and signals responsive under load.
    for (int n = 0; n < 4096; ++n) {
      if (!router.recv(rid, zmq::recv_flags::dontwait)) break;
      bool have_header = rid.more() && router.recv(header);
      bool have_payload = have_header && header.more() && router.recv(payload);
      bool more = have_payload && payload.more();
      while (more) {  // frames beyond [header][payload] are not part of the protocol
        (void)router.recv(extra);
        more = extra.more();
      }
      if (!have_header) continue;
      b.on_message(rid.to_string_view(), header.to_string_view(),
                   have_payload ? payload.to_string_view() : std::string_view());
    }
  }
  (void)notify.stopping();
  lg.info("bus stopping after forwarding {} messages", b.forwarded());
  std::error_code ec;
  fs::remove(service::bus_endpoint(runtime).substr(6), ec);
  fs::remove(service::events_endpoint(runtime).substr(6), ec);
  return 0;
}
