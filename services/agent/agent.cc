#include "agent.hh"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <weft/ipc/builtin.hh>

#include "services/agent/context.hh"
#include "services/agent/policy.hh"
#include "services/agent/workspace.hh"

namespace weft::agent {

namespace chat = proto::chat_v1;
namespace llm = proto::llm_v1;
namespace tool = proto::tool_v1;
namespace bus = proto::bus_v1;
using namespace std::chrono_literals;

namespace {

constexpr std::string_view load_skill_name = "load_skill";
constexpr auto list_timeout = 2s;
constexpr auto llm_retry_wait = 200ms;
constexpr auto tool_grace = 2s;  // beyond the tool's own limit, for the reply to travel
constexpr std::size_t max_answered_per_session = 256;  // redeliveries are of recent turns
constexpr std::size_t min_history_chars = 64 * 1024;

llm::tool_spec load_skill_spec() {
  return {std::string(load_skill_name),
          "Read the full instructions of one of the skills listed in the system prompt.",
          R"({"type":"object","properties":{"name":{"type":"string","description":"The skill's name"}},"required":["name"]})"};
}

}  // namespace

std::string budget_sentence(std::uint32_t max_iterations) {
  return fmt::format(
      "I stopped before finishing: this turn used all {} model calls it may make (max_iterations). "
      "Ask me to continue if you want me to go on.",
      max_iterations);
}

std::string text_of(const chat::message& m) {
  std::string out;
  for (auto& p : m.parts) {
    if (!out.empty()) out += "\n";
    switch (p.kind) {
      case chat::part_kind::text: out += p.text.value_or(""); break;
      case chat::part_kind::blob:
        out += fmt::format("[attachment{}{}: {}, {} bytes]", p.name ? " " : "", p.name.value_or(""),
                           p.media_type.value_or("application/octet-stream"), p.data ? p.data->size() : 0);
        break;
      case chat::part_kind::data: out += "[structured data]"; break;
    }
  }
  return out;
}

struct agent::tool_process {
  std::string address;
  bool known = false;    // answered ListTools at least once
  bool listing = false;  // a ListTools is in flight
  mono_clock::time_point next_try{};
  std::chrono::milliseconds backoff{500};
  std::vector<tool::tool_spec> tools;
};

struct agent::session {
  std::string key, path;
  int fd = -1;
  bool created = false;  // the file exists (has a header)
  bool needs_newline = false;
  std::vector<entry> history;
  std::size_t history_chars = 0;
  struct answered {
    std::string text, ts;
    std::uint32_t iterations = 0, tool_calls = 0;
  };
  std::unordered_map<std::string, answered> done;
  std::deque<std::string> done_order;
  std::deque<std::uint64_t> queue;  // turn seqs; front is running while busy
  bool busy = false;                // a turn is running or being written
  std::uint64_t last_use = 0;
};

struct agent::turn {
  std::uint64_t seq = 0;
  chat::turn t;
  std::vector<ipc::message> requesters;
  session* s = nullptr;
  std::string user_text;
  std::vector<llm::turn> steps;
  std::vector<entry> entries;  // to append at the end
  std::uint32_t iterations = 0, tool_calls = 0;
  mono_clock::time_point llm_deadline{};
  struct call {
    llm::tool_call c;
    std::string process;
    bool done = false;
    std::string content;
    bool is_error = false;
  };
  std::vector<call> calls;
  std::size_t calls_left = 0;
  std::string final_text;
  bool started = false;
};

agent::agent(ipc::bus_client& b, service::notifier& n, agent_options o)
    : _bus(b), _notify(n), _o(std::move(o)), _log(log::get("agent")), _writer(_o.writer_threads) {
  auto dir = _o.workspace + "/sessions";
  _sessions_dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  for (auto& a : _o.tool_processes) {
    auto p = std::make_unique<tool_process>();
    p->address = a;
    _procs.push_back(std::move(p));
  }
}

agent::~agent() {
  for (auto& [k, s] : _sessions)
    if (s->fd >= 0) ::close(s->fd);
  if (_sessions_dir_fd >= 0) ::close(_sessions_dir_fd);
}

// ---- prompt and tools ----------------------------------------------------------------

void agent::refresh_prompt(bool force) {
  auto now = mono_clock::now();
  if (!force && now - _prompt_at < _o.prompt_refresh) return;
  _prompt_at = now;
  std::vector<std::string> warnings;
  auto skills = discover_skills(_o.skill_dirs, warnings);
  for (auto& w : warnings) _log.warning("{}", w);
  bool had = std::any_of(_skills.begin(), _skills.end(), [](auto& s) { return !s.disable_model_invocation; });
  _skills = std::move(skills);
  bool has = std::any_of(_skills.begin(), _skills.end(), [](auto& s) { return !s.disable_model_invocation; });
  _system = assemble_system_prompt(read_prompt_parts(_o.workspace), _o.id, _o.name, skills_prompt(_skills));
  if (had != has || force) rebuild_tools();
}

void agent::rebuild_tools() {
  _tool_owner.clear();
  _offered.clear();
  bool skills = std::any_of(_skills.begin(), _skills.end(), [](auto& s) { return !s.disable_model_invocation; });
  // load_skill runs inside the agent (no tool process, no bus check): offered whenever
  // there is a skill to load.
  if (skills) _offered.push_back(load_skill_spec());
  for (std::size_t i = 0; i < _procs.size(); ++i)
    for (auto& t : _procs[i]->tools) {
      if (t.name == load_skill_name || _tool_owner.count(t.name)) continue;  // first process wins
      _tool_owner[t.name] = i;
      if (tool_allowed(_o.settings.tools, t.name)) _offered.push_back({t.name, t.description, t.input_schema});
    }
  _offered_tokens = 0;
  for (auto& t : _offered) _offered_tokens += (t.name.size() + t.description.size() + t.input_schema.size() + 3) / 4 + 8;
}

bool agent::discovery_in_flight() const {
  return std::any_of(_procs.begin(), _procs.end(), [](auto& p) { return p->listing; });
}

void agent::discover(bool all) {
  auto now = mono_clock::now();
  for (std::size_t i = 0; i < _procs.size(); ++i) {
    auto& p = *_procs[i];
    if (p.listing || (!all && (p.known || now < p.next_try))) continue;
    auto id = _bus.send_request(p.address, tool::list_tools{});
    if (!id) {
      _log.debug("Failed to ask '{}' for its tools: {}", p.address, id.err().to_string());
      continue;
    }
    p.listing = true;
    _pending[*id] = pending{wait_kind::list, 0, i, now + list_timeout};
  }
}

void agent::on_tools_listed(std::size_t i, const ipc::message* m) {
  auto& p = *_procs[i];
  p.listing = false;
  std::optional<error> err;
  if (!m) err = bus::make(bus::error_code::timeout, "no answer within {} ms", list_timeout.count());
  else if (m->is_error()) err = m->to_error();
  if (!err) {
    auto tools = m->as<tool::tools>();
    if (!tools) {
      err = tools.err();
    } else {
      p.tools = std::move(tools->tools);
      p.known = true;
      p.backoff = 500ms;
      _log.info("'{}' serves {} tool(s)", p.address, p.tools.size());
      rebuild_tools();
    }
  }
  if (err) {
    p.next_try = mono_clock::now() + p.backoff;
    p.backoff = std::min<std::chrono::milliseconds>(p.backoff * 2, 30s);
    _log.debug("Failed to list the tools of '{}': {}; retrying when a turn needs it", p.address, err->to_string());
  }
  if (!discovery_in_flight()) {
    auto waiting = std::exchange(_waiting_discovery, {});
    for (auto seq : waiting)
      if (auto it = _turns.find(seq); it != _turns.end()) start_turn(*it->second);
  }
}

// ---- sessions ------------------------------------------------------------------------

agent::session* agent::get_session(const std::string& key, error& err) {
  if (auto it = _sessions.find(key); it != _sessions.end()) {
    it->second->last_use = ++_use_tick;
    return it->second.get();
  }
  evict_sessions();
  auto s = std::make_unique<session>();
  s->key = key;
  s->path = _o.workspace + "/sessions/" + session_file_name(key);
  auto loaded = load_session(s->path);
  if (!loaded) {
    err = loaded.err();
    return nullptr;
  }
  for (auto& w : loaded->warnings) _log.warning("{}", w);
  s->created = loaded->has_header || !loaded->entries.empty() || loaded->needs_newline;
  s->needs_newline = loaded->needs_newline;
  for (auto& e : loaded->entries) {
    if (e.final && !e.turn_id.empty()) {
      if (!s->done.count(e.turn_id)) s->done_order.push_back(e.turn_id);
      s->done[e.turn_id] = {e.content, e.ts, e.iterations, e.tool_call_count};
    }
    s->history_chars += e.content.size();
  }
  while (s->done_order.size() > max_answered_per_session) {
    s->done.erase(s->done_order.front());
    s->done_order.pop_front();
  }
  s->history = std::move(loaded->entries);
  s->last_use = ++_use_tick;
  auto* raw = s.get();
  _sessions.emplace(key, std::move(s));
  return raw;
}

void agent::evict_sessions() {
  while (_sessions.size() >= _o.max_sessions) {
    session* victim = nullptr;
    for (auto& [k, s] : _sessions)
      if (!s->busy && s->queue.empty() && (!victim || s->last_use < victim->last_use)) victim = s.get();
    if (!victim) return;  // every session is working: allow more for now
    if (victim->fd >= 0) ::close(victim->fd);
    _sessions.erase(victim->key);
  }
}

// ---- requests ------------------------------------------------------------------------

void agent::handle(ipc::message m) {
  switch (m.env.kind) {
    case bus::kind::request:
      if (ipc::answer_builtin(_bus, m)) return;
      if (m.is(chat::turn::type_name)) return on_turn(m);
      (void)_bus.reply_error(m, bus::make(bus::error_code::unknown_type, "'{}' does not handle '{}'", _bus.address(),
                                          m.env.type));
      return;
    case bus::kind::event:
      if (m.is(llm::delta::type_name)) on_delta(m);
      return;
    case bus::kind::reply:
    case bus::kind::error: on_reply(m); return;
  }
}

void agent::answer(const ipc::message& req, const chat::turn_result& r) { (void)_bus.reply(req, r); }

void agent::on_turn(const ipc::message& m) {
  auto req = m.as<chat::turn>();
  if (!req) {
    (void)_bus.reply_error(m, req.err());
    return;
  }
  // A Turn already in hand: answered when it finishes, to every requester.
  if (auto it = _by_turn_id.find(req->turn_id); it != _by_turn_id.end()) {
    _log.debug("turn '{}' is already in hand; answering when it finishes", req->turn_id);
    it->second->requesters.push_back(m);
    return;
  }
  error err;
  auto* s = get_session(req->session, err);
  if (!s) {
    _log.error("Failed to load session '{}': {}", req->session, err.message);
    (void)_bus.reply_error(m, chat::make(chat::error_code::turn_failed, "Failed to load session '{}': {}",
                                         req->session, err.message));
    return;
  }
  // A Turn answered before: the stored answer, without calling the model.
  if (auto it = s->done.find(req->turn_id); it != s->done.end()) {
    _log.debug("turn '{}' was answered before; replying from the session", req->turn_id);
    chat::turn_result r;
    r.turn_id = req->turn_id;
    r.reply.id = req->turn_id + ":r";
    r.reply.channel = req->message.channel;
    r.reply.chat_id = req->message.chat_id;
    r.reply.sender = _o.id;
    auto ts = parse_rfc3339(it->second.ts);
    r.reply.ts = ts ? *ts : utc_now();
    r.reply.parts.push_back(chat::part{chat::part_kind::text, it->second.text, {}, {}, {}, {}});
    r.reply.reply_to = req->message.id;
    r.tool_calls = it->second.tool_calls;
    r.iterations = it->second.iterations;
    answer(m, r);
    return;
  }
  if (_draining) {
    (void)_bus.reply_error(m, bus::make(bus::error_code::shutting_down, "agent '{}' is stopping", _o.id));
    return;
  }
  if (_turns.size() >= _o.max_turns || s->queue.size() >= _o.max_queued_per_session) {
    (void)_bus.reply_error(m, bus::make(bus::error_code::queue_full, "agent '{}' has {} turns in hand ({} in session '{}')",
                                        _o.id, _turns.size(), s->queue.size(), s->key));
    return;
  }
  auto t = std::make_unique<turn>();
  t->seq = _next_seq++;
  t->t = std::move(*req);
  t->requesters.push_back(m);
  t->s = s;
  auto* raw = t.get();
  _by_turn_id[raw->t.turn_id] = raw;
  s->queue.push_back(raw->seq);
  _turns.emplace(raw->seq, std::move(t));
  if (!s->busy) start_next(*s);
}

void agent::on_delta(const ipc::message& m) {
  auto d = m.as<llm::delta>();
  if (!d) return;
  auto it = _by_turn_id.find(d->stream_id);
  if (it == _by_turn_id.end() || it->second->t.stream_to.empty()) return;
  auto& t = *it->second;
  (void)_bus.notify(t.t.stream_to, chat::delta{t.t.turn_id, t.t.message.chat_id, std::move(d->text)});
}

void agent::on_reply(const ipc::message& m) {
  auto it = _pending.find(m.env.id);
  if (it == _pending.end()) return;  // late: its turn gave up on it
  auto p = it->second;
  _pending.erase(it);
  if (p.kind == wait_kind::list) return on_tools_listed(p.index, &m);
  auto t = _turns.find(p.turn);
  if (t == _turns.end()) return;
  if (p.kind == wait_kind::llm) on_llm(*t->second, &m, nullptr);
  else on_tool(*t->second, p.index, &m, nullptr);
}

void agent::check_deadlines() {
  auto now = mono_clock::now();
  std::vector<std::pair<std::uint64_t, pending>> expired;
  for (auto& [id, p] : _pending)
    if (p.deadline <= now) expired.emplace_back(id, p);
  for (auto& [id, p] : expired) {
    _pending.erase(id);
    if (p.kind == wait_kind::list) {
      on_tools_listed(p.index, nullptr);
      continue;
    }
    auto t = _turns.find(p.turn);
    if (t == _turns.end()) continue;
    if (p.kind == wait_kind::llm) {
      auto e = llm::make(llm::error_code::timeout, "no answer from the llm service within {} s",
                         std::chrono::duration_cast<std::chrono::seconds>(_o.llm_deadline).count());
      on_llm(*t->second, nullptr, &e);
    } else {
      auto e = tool::make(tool::error_code::timeout, "no answer within {} ms", _o.settings.tool_timeout_ms);
      on_tool(*t->second, p.index, nullptr, &e);
    }
  }
}

// ---- the tool loop -------------------------------------------------------------------

void agent::start_next(session& s) {
  while (!s.busy && !s.queue.empty()) {
    auto it = _turns.find(s.queue.front());
    if (it == _turns.end()) {
      s.queue.pop_front();
      continue;
    }
    s.busy = true;
    start_turn(*it->second);
  }
}

void agent::start_turn(turn& t) {
  if (t.started) return;
  discover(/*all=*/false);  // tool processes that were down are retried lazily, here
  if (discovery_in_flight()) {
    _waiting_discovery.push_back(t.seq);
    return;
  }
  t.started = true;
  refresh_prompt();
  t.user_text = text_of(t.t.message);
  entry u;
  u.role = llm::role::user;
  u.content = t.user_text;
  u.turn_id = t.t.turn_id;
  u.ts = to_rfc3339(t.t.message.ts);
  t.entries.push_back(std::move(u));
  t.llm_deadline = mono_clock::now() + _o.llm_deadline;
  call_llm(t);
}

void agent::call_llm(turn& t, bool retry) {
  if (!retry) ++t.iterations;
  context_input in;
  in.system = _system;
  in.history = &t.s->history;
  in.current = t.user_text;
  in.steps = t.steps;
  in.budget_tokens = _o.budget_tokens;
  in.fixed_tokens = _offered_tokens;
  auto ctx = assemble_context(in);
  if (ctx.dropped_turns || ctx.stubbed_results || ctx.truncated)
    _log.debug("turn '{}': context fitted to {} tokens (dropped {} turns, stubbed {} tool results{})", t.t.turn_id,
               _o.budget_tokens, ctx.dropped_turns, ctx.stubbed_results, ctx.truncated ? ", message cut" : "");
  llm::complete c;
  c.agent = _o.id;
  c.tier = _o.settings.tier;
  c.model = _o.settings.model;
  c.system = _system;
  c.messages = std::move(ctx.messages);
  c.tools = _offered;
  c.max_tokens = _o.settings.max_tokens;
  c.stream = !t.t.stream_to.empty();
  c.stream_id = t.t.turn_id;
  auto id = _bus.send_request("llm", llm::complete::type_name, wire::encode(c));
  if (!id) {
    auto e = id.take_error();
    on_llm(t, nullptr, &e);
    return;
  }
  _pending[*id] = pending{wait_kind::llm, t.seq, 0, t.llm_deadline};
}

void agent::on_llm(turn& t, const ipc::message* m, const error* local) {
  std::optional<error> err;
  if (local) err = *local;
  else if (m->is_error()) err = m->to_error();
  if (err) {
    // The llm service not (yet) there: try again until the turn's deadline.
    bool transient = bus::is(*err, bus::error_code::no_such_address) || bus::is(*err, bus::error_code::queue_full);
    if (transient && mono_clock::now() + llm_retry_wait < t.llm_deadline) {
      _llm_retries.emplace_back(mono_clock::now() + llm_retry_wait, t.seq);
      return;
    }
    if (llm::is(*err, llm::error_code::not_configured)) {
      _log.warning("turn '{}': {}", t.t.turn_id, err->message);
      finish(t, err->message);
      return;
    }
    _log.warning("Failed to get an answer for turn '{}' from the llm: {}", t.t.turn_id, err->to_string());
    finish(t, fmt::format("Sorry, I could not answer this: the language model failed ({}: {}).", err->code,
                          err->message));
    return;
  }
  auto c = m->as<llm::completion>();
  if (!c) {
    _log.warning("Failed to decode the llm's answer for turn '{}': {}", t.t.turn_id, c.err().message);
    finish(t, fmt::format("Sorry, I could not answer this: the language model's answer was unreadable ({}).",
                          c.err().message));
    return;
  }
  if (c->tool_calls.empty()) {
    finish(t, std::move(c->text));
    return;
  }
  if (t.iterations >= _o.settings.max_iterations) {
    auto text = c->text.empty() ? budget_sentence(_o.settings.max_iterations)
                                : c->text + "\n\n" + budget_sentence(_o.settings.max_iterations);
    finish(t, std::move(text));
    return;
  }
  llm::turn step;
  step.role = llm::role::assistant;
  step.text = c->text;
  step.tool_calls = c->tool_calls;
  // Providers need call ids to pair results; make one up if the model gave none.
  for (std::size_t i = 0; i < step.tool_calls.size(); ++i)
    if (step.tool_calls[i].id.empty()) step.tool_calls[i].id = fmt::format("call_{}_{}", t.iterations, i);
  entry e;
  e.role = llm::role::assistant;
  e.content = step.text;
  e.tool_calls = step.tool_calls;
  e.turn_id = t.t.turn_id;
  e.ts = to_rfc3339(utc_now());
  t.entries.push_back(std::move(e));
  t.calls.clear();
  for (auto& tc : step.tool_calls) t.calls.push_back({tc, {}, false, {}, false});
  t.steps.push_back(std::move(step));
  run_tools(t);
}

void agent::run_tools(turn& t) {
  t.calls_left = t.calls.size();
  auto deadline = mono_clock::now() + std::chrono::milliseconds(_o.settings.tool_timeout_ms) + tool_grace;
  // All calls of the step at once; results are collected in the model's order.
  for (std::size_t i = 0; i < t.calls.size(); ++i) {
    auto& c = t.calls[i];
    ++t.tool_calls;
    if (c.c.name == load_skill_name) {
      auto args = nlohmann::json::parse(c.c.arguments, nullptr, false);
      std::string name = args.is_object() && args.contains("name") && args["name"].is_string()
                             ? args["name"].get<std::string>() : std::string();
      auto it = std::find_if(_skills.begin(), _skills.end(), [&](auto& s) { return s.name == name; });
      if (it == _skills.end()) {
        auto e = tool::make(tool::error_code::bad_arguments, "there is no skill named '{}'", name);
        on_tool(t, i, nullptr, &e);
      } else if (auto body = load_skill_body(*it); !body) {
        auto e = tool::make(tool::error_code::failed, "{}", body.err().message);
        on_tool(t, i, nullptr, &e);
      } else {
        c.content = std::move(*body);
        c.done = true;
        --t.calls_left;
      }
      continue;
    }
    if (!valid_tool_name(c.c.name)) {
      auto e = tool::make(tool::error_code::no_such_tool, "'{}' is not a valid tool name", c.c.name);
      on_tool(t, i, nullptr, &e);
      continue;
    }
    // A tool that was not offered still goes to the bus, which decides (and says Denied).
    auto owner = _tool_owner.find(c.c.name);
    std::string process = owner != _tool_owner.end() ? _procs[owner->second]->address
                          : _procs.empty()             ? fmt::format("tool/shell/{}", _o.id)
                                                       : _procs.front()->address;
    c.process = process;
    tool::call call{c.c.name, c.c.arguments, c.c.id, _o.settings.tool_timeout_ms};
    auto id = _bus.send_request(process + "/" + c.c.name, call);
    if (!id) {
      auto e = id.take_error();
      on_tool(t, i, nullptr, &e);
      continue;
    }
    _pending[*id] = pending{wait_kind::tool, t.seq, i, deadline};
  }
  if (t.calls_left == 0) after_tools(t);
}

void agent::on_tool(turn& t, std::size_t i, const ipc::message* m, const error* local) {
  if (i >= t.calls.size() || t.calls[i].done) return;
  auto& c = t.calls[i];
  std::optional<error> err;
  if (local) err = *local;
  else if (m->is_error()) err = m->to_error();
  if (err) {
    c.is_error = true;
    if (bus::is(*err, bus::error_code::denied)) {
      c.content = fmt::format("Permission denied: the tool '{}' may not be used by this agent ({}).", c.c.name,
                              err->message);
    } else if (bus::is(*err, bus::error_code::no_such_address)) {
      c.content = fmt::format("The tool '{}' is not available right now: its process '{}' is not running.", c.c.name,
                              c.process);
      // It may have restarted under a new tool list: ask again.
      for (auto& p : _procs)
        if (p->address == c.process) {
          p->known = false;
          p->next_try = {};
        }
      discover(/*all=*/false);
    } else if (tool::is(*err, tool::error_code::no_such_tool)) {
      c.content = fmt::format("There is no tool named '{}'.", c.c.name);
    } else if (tool::is(*err, tool::error_code::timeout)) {
      c.content = fmt::format("The tool '{}' did not finish in time ({}).", c.c.name, err->message);
    } else if (tool::is(*err, tool::error_code::bad_arguments)) {
      c.content = fmt::format("Bad arguments for '{}': {}", c.c.name, err->message);
    } else {
      c.content = fmt::format("The tool '{}' failed: {}", c.c.name, err->to_string());
    }
  } else {
    auto r = m->as<tool::result>();
    if (!r) {
      c.is_error = true;
      c.content = fmt::format("The tool '{}' answered something unreadable: {}", c.c.name, r.err().message);
    } else {
      c.content = std::move(r->content);
      c.is_error = r->is_error;
    }
  }
  c.done = true;
  if (--t.calls_left == 0) after_tools(t);
}

void agent::after_tools(turn& t) {
  auto ts = to_rfc3339(utc_now());
  for (auto& c : t.calls) {
    llm::turn r;
    r.role = llm::role::tool;
    r.text = c.content;
    r.tool_call_id = c.c.id;
    r.is_error = c.is_error;
    t.steps.push_back(r);
    entry e;
    e.role = llm::role::tool;
    e.content = std::move(c.content);
    e.tool_call_id = c.c.id;
    e.tool_name = c.c.name;
    e.is_error = c.is_error;
    e.turn_id = t.t.turn_id;
    e.ts = ts;
    t.entries.push_back(std::move(e));
  }
  t.calls.clear();
  call_llm(t);
}

void agent::finish(turn& t, std::string text) {
  auto& s = *t.s;
  auto now = utc_now();
  entry f;
  f.role = llm::role::assistant;
  f.content = text;
  f.turn_id = t.t.turn_id;
  f.ts = to_rfc3339(now);
  f.final = true;
  f.iterations = t.iterations;
  f.tool_call_count = t.tool_calls;
  t.entries.push_back(f);
  t.final_text = std::move(text);

  std::string bytes;
  if (s.needs_newline) bytes += "\n";
  if (!s.created) bytes += encode_session_header(s.key, _o.id, to_rfc3339(now));
  for (auto& e : t.entries) {
    bytes += encode_entry(e);
    s.history_chars += e.content.size();
  }
  // The in-memory history is what the next turn of this session sees; it keeps at least
  // twice what fits into the context, starting at a turn's first message.
  s.history.insert(s.history.end(), std::make_move_iterator(t.entries.begin()), std::make_move_iterator(t.entries.end()));
  t.entries.clear();
  auto keep = std::max(min_history_chars, _o.budget_tokens * 5);
  std::size_t drop = 0;
  while (drop < s.history.size() && s.history_chars > keep) s.history_chars -= s.history[drop++].content.size();
  while (drop < s.history.size() && s.history[drop].role != llm::role::user) s.history_chars -= s.history[drop++].content.size();
  if (drop) s.history.erase(s.history.begin(), s.history.begin() + static_cast<std::ptrdiff_t>(drop));

  if (!s.done.count(f.turn_id)) s.done_order.push_back(f.turn_id);
  s.done[f.turn_id] = {t.final_text, f.ts, t.iterations, t.tool_calls};
  while (s.done_order.size() > max_answered_per_session) {
    s.done.erase(s.done_order.front());
    s.done_order.pop_front();
  }

  int dir_fd = -1;
  if (s.fd < 0) {
    s.fd = ::open(s.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (s.fd < 0)
      _log.error("Failed to open session '{}': {}; the answer to turn '{}' is sent but not stored", s.path,
                 std::strerror(errno), t.t.turn_id);
    else if (!s.created)
      dir_fd = _sessions_dir_fd;
  }
  if (s.fd >= 0) {
    s.created = true;
    s.needs_newline = false;
  }
  // The turn is written (page cache: it survives a crash of this process) and answered at
  // once; the fdatasync runs on a writer thread. The router has the answer in its own
  // synced journal, so a power loss can cost this log its last turn, never the reply.
  status written = s.fd < 0 ? status{} : append(s.fd, bytes, s.path);
  if (s.fd >= 0) {
    if (int sync_fd = ::dup(s.fd); sync_fd >= 0) _writer.submit({0, sync_fd, dir_fd, {}, s.path, true});
  }
  finish_turn(t.seq, std::move(written));
}

void agent::on_writes_done() {
  for (auto& d : _writer.take_done()) finish_turn(d.id, std::move(d.result));
}

void agent::finish_turn(std::uint64_t seq, status written) {
  {
    auto it = _turns.find(seq);
    if (it == _turns.end()) return;
    auto& t = *it->second;
    if (!written)
      _log.error("{}; the answer to turn '{}' is sent but may not be stored", written.err().message, t.t.turn_id);
    chat::turn_result r;
    r.turn_id = t.t.turn_id;
    r.reply.id = t.t.turn_id + ":r";
    r.reply.channel = t.t.message.channel;
    r.reply.chat_id = t.t.message.chat_id;
    r.reply.sender = _o.id;
    r.reply.ts = utc_now();
    r.reply.parts.push_back(chat::part{chat::part_kind::text, t.final_text, {}, {}, {}, {}});
    r.reply.reply_to = t.t.message.id;
    r.tool_calls = t.tool_calls;
    r.iterations = t.iterations;
    for (auto& req : t.requesters) answer(req, r);
    _log.debug("turn '{}' answered ({} model calls, {} tool calls)", t.t.turn_id, t.iterations, t.tool_calls);
    auto* s = t.s;
    if (!s->queue.empty() && s->queue.front() == t.seq) s->queue.pop_front();
    s->busy = false;
    _by_turn_id.erase(t.t.turn_id);
    _turns.erase(it);
    start_next(*s);
  }
}

// ---- the loop ------------------------------------------------------------------------

int agent::run(int signal_fd) {
  refresh_prompt(/*force=*/true);
  discover(/*all=*/true);
  (void)_notify.ready();
  _log.info("agent '{}' serving: workspace '{}', {} tool process(es), context budget {} tokens", _o.id, _o.workspace,
            _procs.size(), _o.budget_tokens);
  mono_clock::time_point drain_deadline{};
  auto next_scan = mono_clock::now();
  for (;;) {
    auto wait = std::min<std::chrono::milliseconds>(_notify.beat_if_due(), 100ms);
    zmq::pollitem_t items[] = {{_bus.socket().handle(), 0, ZMQ_POLLIN, 0},
                               {_bus.monitor_socket().handle(), 0, ZMQ_POLLIN, 0},
                               {nullptr, signal_fd, ZMQ_POLLIN, 0},
                               {nullptr, _writer.event_fd(), ZMQ_POLLIN, 0}};
    zmq::poll(items, 4, _bus.has_input() ? 0ms : wait);
    if (items[2].revents & ZMQ_POLLIN) {
      signalfd_siginfo si;
      while (::read(signal_fd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
        if (!_draining) {
          _draining = true;
          drain_deadline = mono_clock::now() + (_o.stop_timeout > 1s ? _o.stop_timeout - 500ms : _o.stop_timeout);
          _log.info("agent '{}' stopping: finishing {} turn(s) in hand", _o.id, _turns.size());
          (void)_notify.stopping();
        }
      }
    }
    if (items[3].revents & ZMQ_POLLIN) on_writes_done();
    _bus.process_input();
    while (auto m = _bus.next(0ms)) {
      try {
        handle(std::move(*m));
      } catch (const std::exception& e) {
        // A bug in one turn must not take every session down with it.
        _log.error("Failed to handle a message: {}", e.what());
      }
    }
    auto now = mono_clock::now();
    if (now >= next_scan) {
      next_scan = now + 50ms;
      auto due = std::partition(_llm_retries.begin(), _llm_retries.end(), [&](auto& r) { return r.first > now; });
      std::vector<std::pair<mono_clock::time_point, std::uint64_t>> fire(due, _llm_retries.end());
      _llm_retries.erase(due, _llm_retries.end());
      for (auto& [when, seq] : fire)
        if (auto t = _turns.find(seq); t != _turns.end()) call_llm(*t->second, /*retry=*/true);
      check_deadlines();
    }
    if (_draining && (_turns.empty() || now >= drain_deadline)) {
      if (!_turns.empty()) _log.warning("agent '{}' stopping with {} turn(s) unfinished", _o.id, _turns.size());
      break;
    }
  }
  _bus.close(500ms);
  return 0;
}

}  // namespace weft::agent
