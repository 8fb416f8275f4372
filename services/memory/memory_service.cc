#include "services/memory/memory_service.hh"

#include <sys/signalfd.h>
#include <unistd.h>

#include "proto/bus_v1.hh"
#include "proto/memory_v1.hh"

namespace weft::memory {

namespace mem = proto::memory_v1;
using namespace std::chrono_literals;

result<access> authorize(const service::config& cfg, std::string_view from, std::string_view requested, bool write) {
  if (from == "weftd" || from.substr(0, 4) == "ctl/") {
    if (requested.empty()) return mem::make(mem::error_code::bad_request, "name the agent whose memory to use");
    if (!cfg.agents.count(std::string(requested)))
      return mem::make(mem::error_code::bad_request, "agent '{}' is not in [agents]", requested);
    return access{std::string(requested), true};
  }
  if (from.substr(0, 6) != "agent/" || from.find('/', 6) != std::string_view::npos)
    return mem::make(mem::error_code::denied, "'{}' has no memory namespace; only agents, weftd and weftctl do",
                     from);
  auto own = std::string(from.substr(6));
  if (requested.empty() || requested == own) return access{own, false};
  if (!write)
    for (auto& s : cfg.memory.shares)
      if (s.owner == requested && std::find(s.readers.begin(), s.readers.end(), own) != s.readers.end())
        return access{std::string(requested), false};
  return mem::make(mem::error_code::denied, "agent '{}' may not {} the memory of agent '{}'{}", own,
                   write ? "change" : "read", requested,
                   write ? "" : " (no [[memory.shares]] entry names it as a reader)");
}

memory_service::memory_service(zmq::context_t& ctx, ipc::bus_client& bus, std::string, service::config cfg,
                               std::string home)
    : _ctx(ctx), _bus(bus), _cfg(std::move(cfg)), _home(std::move(home)), _log(log::get("memory")) {}

memory_service::~memory_service() = default;

void memory_service::dispatch(const ipc::message& m) {
  if (m.env.kind != ipc::bus::kind::request) return;
  (void)_bus.reply_error(m, mem::make(mem::error_code::storage, "the memory store is not built yet in this version"));
}

int memory_service::run(service::notifier& n, int signal_fd) {
  (void)n.ready();
  bool stopping = false;
  while (!stopping) {
    auto beat = n.beat_if_due();
    zmq::pollitem_t items[] = {{_bus.socket().handle(), 0, ZMQ_POLLIN, 0},
                               {_bus.monitor_socket().handle(), 0, ZMQ_POLLIN, 0},
                               {nullptr, signal_fd, ZMQ_POLLIN, 0}};
    auto wait = std::min<std::chrono::milliseconds>(beat, 1000ms);
    if (_bus.has_input()) wait = 0ms;
    zmq::poll(items, 3, wait);
    if (items[2].revents) {
      signalfd_siginfo si;
      while (::read(signal_fd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) stopping = true;
    }
    _bus.process_input();
    while (auto m = _bus.next(0ms)) dispatch(*m);
  }
  (void)n.stopping();
  _bus.close(500ms);
  return 0;
}

}  // namespace weft::memory
