#include <weft/toolserver/tool_server.hh>

#include <algorithm>

namespace weft::tools {

namespace bp = weft::proto::bus_v1;

namespace {
constexpr std::size_t max_progress_bytes = 4096;  // Tool.v1 Progress.text
}  // namespace

result<std::unique_ptr<tool_server>> tool_server::create(service::runtime& rt, server_options o) {
  auto cancel = cancel_signal::create();
  if (!cancel) return cancel.take_error();
  return std::unique_ptr<tool_server>(new tool_server(rt, std::move(o), std::move(*cancel)));
}

tool_server::tool_server(service::runtime& rt, server_options o, std::unique_ptr<cancel_signal> cancel)
    : _rt(rt),
      _opts(std::move(o)),
      _log(log::get("tool-" + _opts.family)),
      _cancel(std::move(cancel)),
      _pool(rt.loop(), static_cast<unsigned>(std::max<std::size_t>(_opts.workers, 1)), _opts.max_queued) {
  _rt.on<tool::list_tools>([this](const tool::list_tools&, const ipc::message&) -> result<tool::tools> {
    return list();
  });
  _rt.on<tool::call>([this](tool::call c, service::responder r) { call(std::move(c), std::move(r)); });
  _rt.on_event<tool::cancel>([this](const tool::cancel& c, const ipc::message& m) { cancel_call(m.env.from, c.call_id); });
  // TERM: the runtime refuses new calls and waits for the answers owed; what still runs at
  // drain_timeout is told to stop, so that its answer comes before the runtime gives up.
  _rt.on_stop([this] {
    if (_calls.empty()) return;
    _cancel_timer = _rt.loop().after(_opts.drain_timeout, [this] {
      _cancel_timer = 0;
      cancel_running();
    });
  });
}

tool_server::~tool_server() {
  if (_cancel_timer) _rt.loop().cancel(_cancel_timer);
  // Only when the runtime stopped waiting (drain_timeout) is anything still running here.
  if (!_calls.empty()) cancel_running();
  _pool.stop();
  *_alive = false;
  for (auto& [id, c] : _calls)
    c.r.fail(tool::make(tool::error_code::failed, "Failed to run '{}': '{}' stopped before it finished",
                        c.r.request().to, _rt.address()));
}

void tool_server::add(tool_def t) {
  auto name = t.spec.name;
  _tools.insert_or_assign(std::move(name), std::move(t));
}

tool::tools tool_server::list() const {
  tool::tools out;
  out.family = _opts.family;
  for (auto& [name, def] : _tools)
    if (!def.hidden) out.tools.push_back(def.spec);
  return out;
}

void tool_server::call(tool::call c, service::responder r) {
  // The bus routed <address>/<tool> here; the tool named in the address is the one the
  // bus's per-tool policy checked, so the payload must not name another.
  const std::string& self = _rt.address();
  std::string_view to = r.request().to;
  std::string_view addressed = to.size() > self.size() && to.substr(0, self.size()) == self && to[self.size()] == '/'
                                   ? to.substr(self.size() + 1)
                                   : std::string_view{};
  if (addressed != c.name)
    return r.fail(tool::make(tool::error_code::bad_arguments,
                             "Call names tool '{}' but was sent to '{}'; send it to '{}/{}'", c.name, to, self,
                             c.name));
  auto it = _tools.find(c.name);
  if (it == _tools.end())
    return r.fail(tool::make(tool::error_code::no_such_tool, "'{}' has no tool '{}'", self, c.name));
  json args = json::parse(c.arguments.empty() ? std::string_view("{}") : std::string_view(c.arguments), nullptr,
                          /*allow_exceptions=*/false);
  if (args.is_discarded() || !args.is_object())
    return r.fail(tool::make(tool::error_code::bad_arguments, "Failed to call '{}': arguments are not a JSON object",
                             c.name));
  _log.debug("call '{}' ({}) from '{}'", c.name, c.call_id, r.from());
  auto id = _next_job++;
  std::string name = c.name;
  // Steps go to the caller from the loop thread, in the order the tool made them.
  std::function<void(std::string)> progress;
  if (!c.progress_id.empty())
    progress = [this, alive = _alive, to = std::string(r.from()), pid = c.progress_id](std::string text) {
      if (text.size() > max_progress_bytes) {
        std::size_t n = max_progress_bytes;
        while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xc0) == 0x80) --n;
        text.resize(n);
      }
      _rt.loop().post([this, alive, to, pid, text = std::move(text)]() mutable {
        if (*alive) (void)_rt.bus().notify(to, tool::progress{pid, std::move(text)});
      });
    };
  // Its own cancel descriptor (a Cancel from the caller fires it, the drain fires them all);
  // when the kernel has none to give, the server's.
  std::shared_ptr<cancel_signal> cancel;
  if (auto own = cancel_signal::create()) {
    cancel = std::move(*own);
  } else {
    _log.warning("Failed to make a cancel descriptor for '{}' ({}): a Cancel of it stops every such call",
                 c.name, own.err().message);
    cancel = std::shared_ptr<cancel_signal>(_cancel.get(), [](cancel_signal*) {});
  }
  std::string call_id = c.call_id;
  bool queued = _pool.submit(
      [def = &it->second, cancel, c = std::move(c), args = std::move(args), &lg = _log,
       progress = std::move(progress), caller = std::string(r.from())]() mutable -> result<tool::result> {
        try {
          return def->run(args, cancel->context(c, std::move(progress), std::move(caller)));
        } catch (const std::exception& e) {
          // A tool bug must not take the process (and every other call) down.
          lg.error("Failed to run '{}': {}", c.name, e.what());
          return tool::make(tool::error_code::failed, "Failed to run '{}': internal error", c.name);
        }
      },
      [this, alive = _alive, id](result<tool::result> out) {
        if (*alive) finish(id, std::move(out));
      });
  if (!queued)
    return r.fail(tool::make(tool::error_code::failed,
                             "Failed to call '{}': {} calls are already waiting; try again later", name,
                             _pool.queued()));
  auto from = std::string(r.from());
  _calls.emplace(id, in_hand{std::move(r), std::move(cancel), std::move(from), std::move(call_id)});
}

void tool_server::finish(std::uint64_t id, result<tool::result> out) {
  auto it = _calls.find(id);
  if (it == _calls.end()) return;
  auto r = std::move(it->second.r);
  _calls.erase(it);
  if (out) cut_to_limit(*out, _opts.max_content);
  r.answer(out);
}

void tool_server::cancel_running() {
  if (_cancel->fired()) return;
  _log.warning("'{}' cancels the {} call(s) still running after {} ms of draining", _rt.address(), _calls.size(),
               _opts.drain_timeout.count());
  _cancel->fire();
  for (auto& [id, c] : _calls) c.cancel->fire();
}

void tool_server::cancel_call(const std::string& from, const std::string& call_id) {
  if (call_id.empty()) return;
  for (auto& [id, c] : _calls)
    if (c.from == from && c.call_id == call_id && !c.cancel->fired()) {
      _log.info("'{}' stops its call '{}' ({})", from, call_id, c.r.request().to);
      c.cancel->fire();
    }
}

void cut_to_limit(tool::result& r, std::size_t max_content) {
  if (r.content.size() <= max_content) return;
  std::size_t n = max_content;
  while (n > 0 && (static_cast<unsigned char>(r.content[n]) & 0xc0) == 0x80) --n;
  r.content.resize(n);
  r.content += fmt::format("\n[… result cut at {} bytes]", max_content);
  r.truncated = true;
}

}  // namespace weft::tools
