#include "tool_server.hh"

#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <weft/ipc/builtin.hh>
#include <weft/service/service_loop.hh>

namespace weft::tools {

namespace bus = weft::proto::bus_v1;

tool_server::tool_server(ipc::bus_client& b, service::notifier& n, server_options o)
    : _bus(b), _notify(n), _opts(std::move(o)), _log(log::get("tool-" + _opts.family)) {
  _done_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  _cancel_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  _signal_fd = service::block_stop_signals();
  if (_opts.workers == 0) _opts.workers = 1;
}

tool_server::~tool_server() {
  {
    std::lock_guard lock(_mu);
    _quit = true;
  }
  _cv.notify_all();
  for (auto& t : _threads) t.join();
  for (int fd : {_done_fd, _cancel_fd, _signal_fd})
    if (fd >= 0) ::close(fd);
}

void tool_server::add(tool_def t) {
  auto name = t.spec.name;
  _tools.insert_or_assign(std::move(name), std::move(t));
}

tool::tools tool_server::list() const {
  tool::tools out;
  out.family = _opts.family;
  for (auto& [name, def] : _tools) out.tools.push_back(def.spec);
  return out;
}

void tool_server::handle(const ipc::message& m) {
  if (m.env.kind != bus::kind::request) return;
  if (ipc::answer_builtin(_bus, m)) return;
  if (m.is(tool::list_tools::type_name)) {
    (void)_bus.reply(m, list());
    return;
  }
  if (!m.is(tool::call::type_name)) {
    (void)_bus.reply_error(m, bus::make(bus::error_code::unknown_type, "'{}' does not handle '{}'", _bus.address(),
                                        m.env.type));
    return;
  }
  auto c = m.as<tool::call>();
  if (!c) {
    (void)_bus.reply_error(m, c.err());
    return;
  }
  // The bus routed <address>/<tool> here; the tool named in the address is the one the
  // bus's per-tool policy checked, so the payload must not name another.
  std::string_view to = m.env.to;
  std::string_view addressed = to.size() > _bus.address().size() && to.substr(0, _bus.address().size()) == _bus.address() &&
                                       to[_bus.address().size()] == '/'
                                   ? to.substr(_bus.address().size() + 1)
                                   : std::string_view{};
  if (addressed != c->name) {
    (void)_bus.reply_error(m, tool::make(tool::error_code::bad_arguments,
                                         "Call names tool '{}' but was sent to '{}'; send it to '{}/{}'", c->name,
                                         m.env.to, _bus.address(), c->name));
    return;
  }
  auto it = _tools.find(c->name);
  if (it == _tools.end()) {
    (void)_bus.reply_error(m, tool::make(tool::error_code::no_such_tool, "'{}' has no tool '{}'", _bus.address(), c->name));
    return;
  }
  json args = json::parse(c->arguments.empty() ? std::string_view("{}") : std::string_view(c->arguments), nullptr,
                          /*allow_exceptions=*/false);
  if (args.is_discarded() || !args.is_object()) {
    (void)_bus.reply_error(m, tool::make(tool::error_code::bad_arguments,
                                         "Failed to call '{}': arguments are not a JSON object", c->name));
    return;
  }
  std::unique_lock lock(_mu);
  if (_queue.size() >= _opts.max_queued) {
    lock.unlock();
    (void)_bus.reply_error(m, tool::make(tool::error_code::failed,
                                         "Failed to call '{}': {} calls are already waiting; try again later", c->name,
                                         _queue.size()));
    return;
  }
  _log.debug("call '{}' ({}) from '{}'", c->name, c->call_id, m.env.from);
  _queue.push_back(job{m, std::move(*c), std::move(args), &it->second});
  if (_threads.size() < _opts.workers && _threads.size() < _queue.size() + _running)
    _threads.emplace_back([this] { worker(); });
  lock.unlock();
  _cv.notify_one();
}

void tool_server::worker() {
  for (;;) {
    std::unique_lock lock(_mu);
    _cv.wait(lock, [&] { return _quit || !_queue.empty(); });
    if (_queue.empty()) return;
    job j = std::move(_queue.front());
    _queue.pop_front();
    ++_running;
    lock.unlock();
    call_context ctx{j.call, _cancel_fd, _cancel};
    result<tool::result> out = [&]() -> result<tool::result> {
      try {
        return j.def->run(j.args, ctx);
      } catch (const std::exception& e) {
        // A tool bug must not take the process (and every other call) down.
        _log.error("Failed to run '{}': {}", j.call.name, e.what());
        return tool::make(tool::error_code::failed, "Failed to run '{}': internal error", j.call.name);
      }
    }();
    lock.lock();
    --_running;
    _done.push_back(done{std::move(j.request), std::move(out)});
    lock.unlock();
    std::uint64_t one = 1;
    [[maybe_unused]] auto w = ::write(_done_fd, &one, sizeof one);
  }
}

void tool_server::flush_done() {
  std::uint64_t n;
  while (::read(_done_fd, &n, sizeof n) > 0) {
  }
  std::deque<done> ready;
  {
    std::lock_guard lock(_mu);
    ready.swap(_done);
  }
  for (auto& d : ready) {
    // The bus refuses messages over its max_message_bytes (1 MiB by default) without telling
    // the caller: no result may come near it, whatever a tool's own caps say.
    if (d.out && d.out->content.size() > _opts.max_content) {
      std::size_t n = _opts.max_content;
      while (n > 0 && (static_cast<unsigned char>(d.out->content[n]) & 0xc0) == 0x80) --n;
      d.out->content.resize(n);
      d.out->content += fmt::format("\n[… result cut at {} bytes]", _opts.max_content);
      d.out->truncated = true;
    }
    status sent = d.out ? _bus.reply(d.request, *d.out) : _bus.reply_error(d.request, d.out.err());
    if (!sent) {
      // E.g. larger than the bus allows: the caller must still get an answer.
      _log.error("Failed to send the result of '{}' to '{}': {}", d.request.env.to, d.request.env.from,
                 sent.err().to_string());
      (void)_bus.reply_error(d.request, tool::make(tool::error_code::failed, "Failed to send the result of '{}': {}",
                                                   d.request.env.to, sent.err().message));
    }
  }
}

int tool_server::run() {
  if (_done_fd < 0 || _cancel_fd < 0 || _signal_fd < 0) {
    _log.error("Failed to start '{}': cannot create event fds", _bus.address());
    return 1;
  }
  (void)_notify.ready();
  _log.info("'{}' serving {} tools", _bus.address(), _tools.size());
  bool stopping = false;
  while (!stopping) {
    auto wait = _notify.beat_if_due();
    zmq::pollitem_t items[] = {{_bus.socket().handle(), 0, ZMQ_POLLIN, 0},
                               {_bus.monitor_socket().handle(), 0, ZMQ_POLLIN, 0},
                               {nullptr, _signal_fd, ZMQ_POLLIN, 0},
                               {nullptr, _done_fd, ZMQ_POLLIN, 0}};
    zmq::poll(items, 4, wait);
    if (items[2].revents & ZMQ_POLLIN) {
      signalfd_siginfo si;
      while (::read(_signal_fd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) stopping = true;
    }
    if (items[3].revents & ZMQ_POLLIN) flush_done();
    _bus.process_input();
    // What has already arrived is taken even after TERM; nothing is read after.
    while (auto m = _bus.next(std::chrono::milliseconds(0))) handle(*m);
  }
  (void)_notify.stopping();
  auto busy = [&] {
    std::lock_guard lock(_mu);
    return _running + _queue.size() + _done.size();
  };
  _log.info("'{}' stopping: draining {} calls", _bus.address(), busy());
  auto deadline = std::chrono::steady_clock::now() + _opts.drain_timeout;
  while (busy() > 0) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline && !_cancel.exchange(true)) {
      _log.warning("'{}' cancels the calls still running after {} ms of draining", _bus.address(),
                   _opts.drain_timeout.count());
      std::uint64_t one = 1;
      [[maybe_unused]] auto w = ::write(_cancel_fd, &one, sizeof one);
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    auto wait = std::min(_notify.beat_if_due(), left.count() > 0 ? left : std::chrono::milliseconds(1000));
    zmq::pollitem_t items[] = {{nullptr, _done_fd, ZMQ_POLLIN, 0}};
    zmq::poll(items, 1, wait);
    flush_done();
  }
  _bus.close(std::chrono::milliseconds(500));
  return 0;
}

result<std::string> string_arg(const json& args, std::string_view name) {
  auto it = args.find(name);
  if (it == args.end() || it->is_null())
    return tool::make(tool::error_code::bad_arguments, "missing required argument '{}'", name);
  if (!it->is_string()) return tool::make(tool::error_code::bad_arguments, "argument '{}' must be a string", name);
  return it->get<std::string>();
}

result<std::optional<std::string>> optional_string_arg(const json& args, std::string_view name) {
  auto it = args.find(name);
  if (it == args.end() || it->is_null()) return std::optional<std::string>{};
  if (!it->is_string()) return tool::make(tool::error_code::bad_arguments, "argument '{}' must be a string", name);
  return std::optional<std::string>{it->get<std::string>()};
}

result<std::optional<std::uint64_t>> optional_uint_arg(const json& args, std::string_view name) {
  auto it = args.find(name);
  if (it == args.end() || it->is_null()) return std::optional<std::uint64_t>{};
  if (!it->is_number_unsigned() && !(it->is_number_integer() && it->get<std::int64_t>() >= 0))
    return tool::make(tool::error_code::bad_arguments, "argument '{}' must be a non-negative integer", name);
  return std::optional<std::uint64_t>{it->get<std::uint64_t>()};
}

result<std::optional<bool>> optional_bool_arg(const json& args, std::string_view name) {
  auto it = args.find(name);
  if (it == args.end() || it->is_null()) return std::optional<bool>{};
  if (!it->is_boolean()) return tool::make(tool::error_code::bad_arguments, "argument '{}' must be true or false", name);
  return std::optional<bool>{it->get<bool>()};
}

}  // namespace weft::tools
