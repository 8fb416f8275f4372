#include "agent.hh"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <weft/channel/control.hh>
#include <weft/ipc/address.hh>

#include "services/agent/context.hh"
#include "services/agent/memory.hh"
#include "services/agent/policy.hh"
#include "services/agent/tool_paths.hh"
#include "services/agent/workspace.hh"

namespace weft::agent {

namespace chat = proto::chat_v1;
namespace llm = proto::llm_v1;
namespace tool = proto::tool_v1;
namespace bus = proto::bus_v1;
namespace mem = proto::memory_v1;
using namespace std::chrono_literals;

namespace {

/// The error of an answer, if it is one (rt.call turns error replies into errors).
std::optional<error> failure_of(const result<ipc::message>& r) {
  if (!r) return r.err();
  return std::nullopt;
}

/// rt.call gives up with Bus.v1.Timeout at the deadline the agent set.
bool timed_out(const error& e) { return bus::is(e, bus::error_code::timeout); }

constexpr std::string_view load_skill_name = "load_skill";
constexpr auto list_timeout = 2s;
constexpr auto tool_grace = 2s;  // beyond the tool's own limit, for the reply to travel
constexpr std::size_t max_answered_per_session = 256;  // redeliveries are of recent turns
constexpr std::size_t min_history_chars = 64 * 1024;
constexpr auto put_timeout = 10s;
constexpr auto max_put_backoff = 30s;
constexpr std::uint64_t drop_warning_every = 100;

constexpr std::string_view stopped_text = "Stopped at your request.";

/// The answer to `req` saying `text`.
chat::turn_result answer_of(const chat::turn& req, const std::string& sender, std::string text, utc_time ts) {
  chat::turn_result r;
  r.turn_id = req.turn_id;
  r.reply.id = req.turn_id + ":r";
  r.reply.channel = req.message.channel;
  r.reply.chat_id = req.message.chat_id;
  r.reply.sender = sender;
  r.reply.ts = ts;
  r.reply.parts.push_back(chat::part{chat::part_kind::text, std::move(text), {}, {}, {}, {}});
  r.reply.reply_to = req.message.id;
  return r;
}

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
  bool stale = false;    // ToolsChanged arrived while listing: list again
  mono_clock::time_point next_try{};
  std::chrono::milliseconds backoff{500};
  std::vector<tool::tool_spec> tools;
};

struct agent::session {
  std::string key, path;
  unique_fd fd;          // opened O_APPEND on the first write
  bool created = false;  // the file exists (has a header)
  bool needs_newline = false;
  std::vector<entry> history;
  std::uint64_t history_base = 0;  // ordinal of history[0] among the file's messages
  std::vector<summary_record> summaries;
  bool summarising = false;        // a summary is in flight (one per session)
  std::size_t history_chars = 0;
  struct answered {
    std::string text, ts;
    std::uint32_t iterations = 0, tool_calls = 0;
  };
  std::unordered_map<std::string, answered> done;
  std::deque<std::string> done_order;
  std::deque<std::uint64_t> queue;  // turn seqs; front is running while busy
  bool busy = false;                // a turn is running
  std::uint64_t last_use = 0;
};

struct agent::turn {
  std::uint64_t seq = 0;
  chat::turn t;
  std::vector<service::responder> requesters;  // the Turn and its redeliveries while in hand
  session* s = nullptr;
  std::string user_text;
  std::vector<llm::turn> steps;
  std::vector<entry> entries;  // to append at the end
  std::uint32_t iterations = 0, tool_calls = 0;
  mono_clock::time_point llm_deadline{};
  struct call {
    llm::tool_call c;
    std::string process;
    std::string progress_id;  // its Tool.v1 Progress id while in flight; empty: none
    bool done = false;
    std::string content;
    bool is_error = false;
    std::uint32_t progress_shown = 0;  // Progress lines passed on to the channel
    std::string structured;            // Result.structured (a delegated run's path, turns, cost)
  };
  std::vector<call> calls;
  std::size_t calls_left = 0;
  bool dispatching = false;
  std::string final_text;
  bool started = false;
  // [delegation] (docs/guides/delegation.md)
  bool flow = false;         // a flow rule sent the message to Claude Code; calls[0] is that run
  bool no_delegate = false;  // delegate_to_claude is not offered (a local rule, or a flow that fell back)
  std::string rule;          // the routing rule that matched, for the log and the note
  std::string note;          // said before the answer: which path answered, and why
  bool stopped = false;      // the person said /stop: no further step; running tools were told to stop
};

agent::agent(service::runtime& rt, agent_options o)
    : _rt(rt),
      _o(std::move(o)),
      _log(log::get("agent")),
      _sessions_dir(::open((_o.workspace + "/sessions").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)),
      _delegation(_o.delegation_rules),
      _writer(rt.loop(), _o.writer_threads) {
  for (auto& r : _o.delegation_rules)
    if (r.target.rfind("agent:", 0) == 0)
      _log.warning("[delegation.routing_rules] '{}' = '{}': handing a message to another agent is not built yet; "
                   "such a message is left to the model",
                   r.pattern, r.target);
  for (auto& a : _o.tool_processes) {
    auto p = std::make_unique<tool_process>();
    p->address = a;
    _procs.push_back(std::move(p));
  }
  _rt.on<chat::turn>([this](chat::turn t, service::responder r) { on_turn(std::move(t), std::move(r)); });
  _rt.on_event<llm::delta>([this](const llm::delta& d, const ipc::message&) { on_delta(d); });
  _rt.on_event<tool::progress>([this](const tool::progress& p, const ipc::message& m) { on_progress(p, m.env.from); });
  // Tool processes announce a changed tool set (tool-mcp when an MCP server comes or goes).
  _rt.on_event<tool::tools_changed>(
      [this](const tool::tools_changed&, const ipc::message& m) { on_tools_changed(m.env.from); });
  _rt.on_stop([this] {
    _draining = true;
    _log.info("agent '{}' stopping: finishing {} turn(s) in hand", _o.id, _turns.size());
  });
  // Turns in hand (queued ones included) are owed answers, which the runtime waits for;
  // the syncs of their session lines are waited for here.
  _rt.drain_until([this] { return _turns.empty() && _writer.idle(); });
}

agent::~agent() = default;

// ---- prompt and tools ----------------------------------------------------------------

void agent::refresh_prompt(bool force) {
  auto now = mono_clock::now();
  if (!force && now - _prompt_at < _o.prompt_refresh) return;
  _prompt_at = now;
  std::vector<std::string> warnings;
  auto found = skills::discover_skills(_o.skill_dirs, warnings);
  for (auto& w : warnings) _log.warning("{}", w);
  bool had = std::any_of(_skills.begin(), _skills.end(), [](auto& s) { return !s.disable_model_invocation; });
  _skills = std::move(found);
  bool has = std::any_of(_skills.begin(), _skills.end(), [](auto& s) { return !s.disable_model_invocation; });
  _system = assemble_system_prompt(read_prompt_parts(_o.workspace), _o.id, _o.name, skills::skills_prompt(_skills));
  if (had != has || force) rebuild_tools();
}

void agent::rebuild_tools() {
  _tool_owner.clear();
  _offered.clear();
  bool any_skill = std::any_of(_skills.begin(), _skills.end(), [](auto& s) { return !s.disable_model_invocation; });
  // load_skill runs inside the agent (no tool process, no bus check): offered whenever
  // there is a skill to load.
  if (any_skill) _offered.push_back(load_skill_spec());
  // The memory tools run inside the agent too (requests to `memory`); the agent applies
  // [agents.<id>.tools] to them itself, as the bus would.
  if (_o.memory.enabled) {
    if (tool_allowed(_o.settings.tools, memory_search_name)) _offered.push_back(memory_search_spec());
    if (tool_allowed(_o.settings.tools, memory_store_name)) _offered.push_back(memory_store_spec());
  }
  for (std::size_t i = 0; i < _procs.size(); ++i)
    for (auto& t : _procs[i]->tools) {
      if (t.name == load_skill_name || t.name == memory_search_name || t.name == memory_store_name ||
          _tool_owner.count(t.name))
        continue;  // first process wins; the agent's own tools win over every process
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
    p.listing = true;
    _rt.call(p.address, tool::list_tools{}, {.timeout = list_timeout, .retry = false},
             [this, i](result<ipc::message> r) { on_tools_listed(i, std::move(r)); });
  }
}

void agent::on_tools_listed(std::size_t i, result<ipc::message> r) {
  auto& p = *_procs[i];
  p.listing = false;
  auto err = failure_of(r);
  if (!err) {
    auto tools = r->as<tool::tools>();
    if (!tools) {
      err = tools.err();
    } else {
      p.tools = std::move(tools->tools);
      p.known = !std::exchange(p.stale, false);
      p.backoff = 500ms;
      _log.info("'{}' serves {} tool(s)", p.address, p.tools.size());
      rebuild_tools();
    }
  }
  if (err) {
    p.stale = false;  // it is listed again anyway, after the backoff
    p.next_try = mono_clock::now() + p.backoff;
    p.backoff = std::min<std::chrono::milliseconds>(p.backoff * 2, 30s);
    _log.debug("Failed to list the tools of '{}': {}; retrying when a turn needs it", p.address, err->to_string());
  }
  if (!discovery_in_flight()) {
    auto waiting = std::exchange(_waiting_discovery, {});
    for (auto seq : waiting)
      if (auto* t = find_turn(seq)) start_turn(*t);
  }
}

bool agent::on_tools_changed(const std::string& from) {
  bool mine = false;
  for (auto& p : _procs)
    if (p->address == from) {
      mine = true;
      if (p->listing) p->stale = true;
      p->known = false;
      p->next_try = {};
    }
  if (!mine) return false;
  _log.info("'{}' changed its tools: listing them again", from);
  discover(/*all=*/false);
  return true;
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
  s->summaries = std::move(loaded->summaries);
  s->last_use = ++_use_tick;
  auto* raw = s.get();
  _sessions.emplace(key, std::move(s));
  return raw;
}

void agent::evict_sessions() {
  while (_sessions.size() >= _o.max_sessions) {
    session* victim = nullptr;
    for (auto& [k, s] : _sessions)
      if (!s->busy && !s->summarising && s->queue.empty() && (!victim || s->last_use < victim->last_use)) victim = s.get();
    if (!victim) return;  // every session is working: allow more for now
    _sessions.erase(victim->key);
  }
}

bool agent::open_session_file(session& s, unique_fd& dir) {
  if (!s.fd) {
    s.fd.reset(::open(s.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
    if (!s.fd) return false;
    if (!s.created && _sessions_dir) dir.reset(::dup(_sessions_dir.get()));
  }
  s.created = true;
  s.needs_newline = false;
  return true;
}

void agent::sync_session(session& s, unique_fd dir, std::function<void()> then) {
  unique_fd copy(::dup(s.fd.get()));
  if (!copy) {
    _log.error("Failed to sync session '{}': {}", s.path, std::strerror(errno));
    if (then) then();  // written, not synced: what waits for the sync goes on anyway
    return;
  }
  _writer.sync(std::move(copy), std::move(dir), s.path, std::move(then));
}

// ---- requests ------------------------------------------------------------------------

agent::turn* agent::find_turn(std::uint64_t seq) {
  auto it = _turns.find(seq);
  return it == _turns.end() ? nullptr : it->second.get();
}

void agent::on_turn(chat::turn req, service::responder r) {
  // A Turn already in hand: answered when it finishes, to every requester.
  if (auto it = _by_turn_id.find(req.turn_id); it != _by_turn_id.end()) {
    _log.debug("turn '{}' is already in hand; answering when it finishes", req.turn_id);
    it->second->requesters.push_back(std::move(r));
    return;
  }
  error err;
  auto* s = get_session(req.session, err);
  if (!s) {
    _log.error("Failed to load session '{}': {}", req.session, err.message);
    return r.fail(chat::make(chat::error_code::turn_failed, "Failed to load session '{}': {}", req.session, err.message));
  }
  // A Turn answered before: the stored answer, without calling the model.
  if (auto it = s->done.find(req.turn_id); it != s->done.end()) {
    _log.debug("turn '{}' was answered before; replying from the session", req.turn_id);
    auto ts = parse_rfc3339(it->second.ts);
    auto res = answer_of(req, _o.id, it->second.text, ts ? *ts : utc_now());
    res.tool_calls = it->second.tool_calls;
    res.iterations = it->second.iterations;
    return r.reply(res);
  }
  // A control word, not a message for the model: answered at once, not queued behind the
  // turn it stops, not kept in the session.
  switch (channel::control_word(text_of(req.message))) {
    case channel::control::none: break;
    case channel::control::stop: return stop_running(*s, req, std::move(r));
    case channel::control::allow: return answer_running(*s, req, "allow", std::move(r));
    case channel::control::deny: return answer_running(*s, req, "deny", std::move(r));
  }
  if (_turns.size() >= _o.max_turns || s->queue.size() >= _o.max_queued_per_session)
    return r.fail(bus::make(bus::error_code::queue_full, "agent '{}' has {} turns in hand ({} in session '{}')", _o.id,
                            _turns.size(), s->queue.size(), s->key));
  auto t = std::make_unique<turn>();
  t->seq = _next_seq++;
  t->t = std::move(req);
  t->requesters.push_back(std::move(r));
  t->s = s;
  auto* raw = t.get();
  _by_turn_id[raw->t.turn_id] = raw;
  s->queue.push_back(raw->seq);
  _turns.emplace(raw->seq, std::move(t));
  if (!s->busy) start_next(*s);
}

void agent::stop_running(session& s, const chat::turn& req, service::responder r) {
  turn* t = s.busy && !s.queue.empty() ? find_turn(s.queue.front()) : nullptr;
  std::string text;
  if (!t || !t->started) {
    text = "Nothing is running in this chat.";
  } else {
    t->stopped = true;
    std::size_t told = 0;
    for (auto& c : t->calls)
      if (!c.done && !c.process.empty()) {
        (void)_rt.bus().notify(c.process, tool::cancel{c.c.id});
        ++told;
      }
    _log.info("turn '{}' stopped by '{}' ({} running tool call(s) told to stop)", t->t.turn_id, req.turn_id, told);
    text = told ? fmt::format("Stopping: {} running tool call{} told to stop.", told, told == 1 ? " was" : "s were")
                : "Stopping after the current step.";
  }
  r.reply(answer_of(req, _o.id, std::move(text), utc_now()));
}

void agent::answer_running(session& s, const chat::turn& req, const std::string& answer, service::responder r) {
  turn* t = s.busy && !s.queue.empty() ? find_turn(s.queue.front()) : nullptr;
  std::size_t told = 0;
  if (t)
    for (auto& c : t->calls)
      if (!c.done && !c.process.empty()) {
        (void)_rt.bus().notify(c.process, tool::answer{c.c.id, answer});
        ++told;
      }
  auto text = told ? fmt::format("Passed on: {}.", answer) : std::string("Nothing is waiting for an answer in this chat.");
  if (told) _log.info("turn '{}': '{}' passed on to {} running tool call(s)", t->t.turn_id, answer, told);
  r.reply(answer_of(req, _o.id, std::move(text), utc_now()));
}

void agent::on_delta(const llm::delta& d) {
  auto it = _by_turn_id.find(d.stream_id);
  if (it == _by_turn_id.end() || it->second->t.stream_to.empty()) return;
  auto& t = *it->second;
  (void)_rt.bus().notify(t.t.stream_to, chat::delta{t.t.turn_id, t.t.message.chat_id, d.text});
}

constexpr std::uint32_t max_progress_lines = 200;  // per tool call

// A step of a running tool call goes to the channel as a piece of the streamed answer, on a
// line of its own; only the process the call went to may send it, only while it runs.
void agent::on_progress(const tool::progress& p, const std::string& from) {
  auto it = _progress.find(p.progress_id);
  if (it == _progress.end()) return;
  auto* t = find_turn(it->second.first);
  auto i = it->second.second;
  if (!t || i >= t->calls.size() || t->calls[i].done) {
    _progress.erase(it);
    return;
  }
  auto& c = t->calls[i];
  if (c.process != from || t->t.stream_to.empty() || p.text.empty()) return;
  // A chatty tool does not flood the chat: the first steps are shown, then one line says so.
  if (c.progress_shown > max_progress_lines) return;
  auto text = ++c.progress_shown > max_progress_lines
                  ? fmt::format("[… further steps of '{}' are not shown]\n", c.c.name)
                  : p.text;
  if (text.back() != '\n') text += '\n';
  (void)_rt.bus().notify(t->t.stream_to, chat::delta{t->t.turn_id, t->t.message.chat_id, std::move(text)});
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
  if (auto* rule = _delegation.match(t.user_text)) {
    t.rule = rule->pattern;
    _log.info("turn '{}': [delegation.routing_rules] '{}' matched: {}", t.t.turn_id, rule->pattern, rule->target);
    if (rule->target == "flow") {
      start_flow(t);
      return;
    }
    if (rule->target == "local") t.no_delegate = true;
  }
  call_llm(t);
}

void agent::start_flow(turn& t) {
  auto name = std::string(delegate_tool_name);
  auto owner = _tool_owner.find(name);
  std::string why;
  if (!tool_allowed(_o.settings.tools, name)) why = fmt::format("this agent's tool policy does not allow {}", name);
  else if (owner == _tool_owner.end() && !_o.delegate_absent.empty()) why = _o.delegate_absent;
  else if (owner == _tool_owner.end())
    why = fmt::format("no tool process of this agent serves {} (is the 'delegate' family in its tools, and "
                      "[delegation] claude_enabled on?)",
                      name);
  if (!why.empty()) {
    t.no_delegate = true;
    t.note = fmt::format("Claude Code was not used ({}), so the model answered directly", why);
    call_llm(t);
    return;
  }
  t.flow = true;
  llm::turn step;
  step.role = llm::role::assistant;
  llm::tool_call call;
  // Unique in this agent: a /stop or /allow in one chat names its own call, not another's.
  call.id = fmt::format("flow_{}", t.seq);
  call.name = name;
  call.arguments = nlohmann::json{{"task", t.user_text}}.dump();
  step.tool_calls.push_back(call);
  entry e;
  e.role = llm::role::assistant;
  e.tool_calls = step.tool_calls;
  e.turn_id = t.t.turn_id;
  e.ts = to_rfc3339(utc_now());
  t.entries.push_back(std::move(e));
  t.calls.clear();
  t.calls.push_back({call, {}, {}, false, {}, false});
  t.steps.push_back(std::move(step));
  run_tools(t);
}

void agent::after_flow(turn& t) {
  t.flow = false;
  auto& c = t.calls.front();
  auto st = nlohmann::json::parse(c.structured.empty() ? "{}" : c.structured, nullptr, false);
  auto path = st.is_object() ? st.value("path", std::string()) : std::string();
  auto content = c.content;
  bool ok = !c.is_error;
  record_results(t);
  if (ok && path == "claude-code") {
    auto turns = st.value("turns", 0u);
    auto cost = st.value("cost_usd", 0.0);
    finish(t, fmt::format("{}\n\n— Claude Code, {} turn{}, ${:.4f}", content, turns, turns == 1 ? "" : "s", cost));
    return;
  }
  // It could not run at all (not installed, broken, its process not there, refused by the
  // bus): the model answers with the agent's own tools, and the reply says so.
  if (!t.stopped && (path.empty() || path == "unavailable")) {
    auto reason = st.is_object() && st.contains("reason") && st["reason"].is_string() ? st["reason"].get<std::string>()
                                                                                     : content;
    _log.warning("turn '{}': Claude Code was not available ({}); falling back to the model", t.t.turn_id, reason);
    t.no_delegate = true;
    t.note = fmt::format("Claude Code was not available ({}), so the model answered directly", reason);
    call_llm(t);
    return;
  }
  // It ran and failed, or was stopped (time limit, cancel): say what happened.
  finish(t, fmt::format("Claude Code could not finish this task: {}", content));
}

void agent::call_llm(turn& t) {
  ++t.iterations;
  context_input in;
  in.system = _system;
  in.history = &t.s->history;
  in.history_base = t.s->history_base;
  in.summaries = &t.s->summaries;
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
  c.system = ctx.summary_note.empty() ? _system : _system + std::string(summary_separator) + ctx.summary_note;
  c.messages = std::move(ctx.messages);
  c.tools = _offered;
  if (t.no_delegate) std::erase_if(c.tools, [](auto& s) { return s.name == delegate_tool_name; });
  c.max_tokens = _o.settings.max_tokens;
  c.stream = !t.t.stream_to.empty();
  c.stream_id = t.t.turn_id;
  // The llm not (yet) on the bus, busy or stopping: the runtime tries again until the
  // turn's deadline; llm restarted while it held the request: the runtime sends it again.
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(t.llm_deadline - mono_clock::now());
  _rt.call("llm", c, {.timeout = std::max(left, 0ms), .retry = true}, [this, seq = t.seq](result<ipc::message> r) {
    if (auto* t = find_turn(seq)) on_llm(*t, std::move(r));
  });
}

void agent::on_llm(turn& t, result<ipc::message> r) {
  if (t.stopped) {
    finish(t, std::string(stopped_text));
    return;
  }
  if (auto err = failure_of(r)) {
    if (timed_out(*err))
      err = llm::make(llm::error_code::timeout, "no answer from the llm service within {} s",
                      std::chrono::duration_cast<std::chrono::seconds>(_o.llm_deadline).count());
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
  auto c = r->as<llm::completion>();
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
    if (step.tool_calls[i].id.empty()) step.tool_calls[i].id = fmt::format("call_{}_{}_{}", t.seq, t.iterations, i);
  entry e;
  e.role = llm::role::assistant;
  e.content = step.text;
  e.tool_calls = step.tool_calls;
  e.turn_id = t.t.turn_id;
  e.ts = to_rfc3339(utc_now());
  t.entries.push_back(std::move(e));
  for (auto& c : t.calls)
    if (!c.progress_id.empty()) _progress.erase(c.progress_id);
  t.calls.clear();
  for (auto& tc : step.tool_calls) t.calls.push_back({tc, {}, {}, false, {}, false});
  t.steps.push_back(std::move(step));
  run_tools(t);
}

void agent::run_tools(turn& t) {
  t.calls_left = t.calls.size();
  t.dispatching = true;  // calls answered at once must not start the next step from inside this loop
  auto timeout = std::chrono::milliseconds(_o.settings.tool_timeout_ms) + tool_grace;
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
        on_tool(t, i, tool::make(tool::error_code::bad_arguments, "there is no skill named '{}'", name));
      } else if (auto body = skills::load_skill_body(*it); !body) {
        on_tool(t, i, tool::make(tool::error_code::failed, "{}", body.err().message));
      } else {
        complete_call(t, i, std::move(*body), false);
      }
      continue;
    }
    if (c.c.name == memory_search_name || c.c.name == memory_store_name) {
      run_memory_tool(t, i);
      continue;
    }
    if (!valid_tool_name(c.c.name)) {
      on_tool(t, i, tool::make(tool::error_code::no_such_tool, "'{}' is not a valid tool name", c.c.name));
      continue;
    }
    // A tool that was not offered still goes to the bus, which decides (and says Denied).
    auto owner = _tool_owner.find(c.c.name);
    std::string process = owner != _tool_owner.end() ? _procs[owner->second]->address
                          : _procs.empty()             ? ipc::addr::tool("shell", _o.id)
                                                       : _procs.front()->address;
    c.process = process;
    tool::call call{c.c.name, c.c.arguments, c.c.id, _o.settings.tool_timeout_ms};
    auto call_timeout = timeout;
    if (c.c.name == delegate_tool_name) {
      // A delegated run takes minutes, not a tool's seconds; a follow-up in the same chat
      // session continues its Claude Code session.
      call.timeout_ms = static_cast<std::uint32_t>(_o.delegate_timeout.count());
      call_timeout = _o.delegate_timeout + tool_grace;
      call.meta = nlohmann::json{{"session", t.s->key}}.dump();
    }
    // A turn whose channel streams takes the tool's steps too (a delegated run's progress).
    if (!t.t.stream_to.empty()) {
      call.progress_id = c.progress_id = fmt::format("{}#{}#{}", t.t.turn_id, t.iterations, i);
      _progress[c.progress_id] = {t.seq, i};
    }
    // No retry: a process that is not running is said so at once (the model can act on
    // it); one that restarts while it holds the call gets it again from the runtime.
    _rt.call(ipc::addr::tool_method(process, c.c.name), call, {.timeout = call_timeout, .retry = false},
             [this, seq = t.seq, i](result<ipc::message> r) {
               if (auto* t = find_turn(seq)) on_tool(*t, i, std::move(r));
             });
  }
  t.dispatching = false;
  if (t.calls_left == 0) after_tools(t);
}

void agent::on_tool(turn& t, std::size_t i, result<ipc::message> r) {
  if (i >= t.calls.size() || t.calls[i].done) return;
  auto& c = t.calls[i];
  if (auto err = failure_of(r)) {
    if (timed_out(*err)) err = tool::make(tool::error_code::timeout, "no answer within {} ms", _o.settings.tool_timeout_ms);
    c.is_error = true;
    if (bus::is(*err, bus::error_code::denied)) {
      c.content = fmt::format("Permission denied: the tool '{}' may not be used by this agent ({}).", c.c.name,
                              err->message);
    } else if (bus::is(*err, bus::error_code::throttled)) {
      // The bus's message says until when, and how soon the next call passes.
      c.content = fmt::format("The tool '{}' was not run: {}", c.c.name, err->message);
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
    auto res = r->as<tool::result>();
    if (!res) {
      c.is_error = true;
      c.content = fmt::format("The tool '{}' answered something unreadable: {}", c.c.name, res.err().message);
    } else {
      c.content = std::move(res->content);
      c.is_error = res->is_error;
      c.structured = std::move(res->structured);
    }
  }
  complete_call(t, i, std::move(c.content), c.is_error);
}

void agent::complete_call(turn& t, std::size_t i, std::string content, bool is_error) {
  if (i >= t.calls.size() || t.calls[i].done) return;
  auto& c = t.calls[i];
  if (!c.progress_id.empty()) _progress.erase(std::exchange(c.progress_id, {}));
  c.content = std::move(content);
  c.is_error = is_error;
  c.done = true;
  // The witness chain's record of the call (the bus stamps the sender).
  auto where = c.process.empty() ? _rt.address() : c.process;
  std::string detail;
  if (auto st = nlohmann::json::parse(c.structured.empty() ? "{}" : c.structured, nullptr, false);
      st.is_object() && st.value("path", std::string()) == "claude-code")
    detail = fmt::format("claude-code: {} turns, ${:.4f}, session {}", st.value("turns", 0u), st.value("cost_usd", 0.0),
                         st.value("session_id", std::string()));
  auto names = names_of(c.c.arguments, _o.workspace);
  if (auto p = _rt.bus().publish(mem::tool_called{ipc::addr::tool_method(where, c.c.name), c.c.id, !is_error,
                                                  sha256_hex(c.c.arguments), std::move(detail), std::move(names.paths),
                                                  std::move(names.hosts), std::move(names.commands)});
      !p)
    _log.debug("Failed to publish ToolCalled for '{}': {}", c.c.name, p.err().message);
  if (--t.calls_left == 0 && !t.dispatching) after_tools(t);
}

void agent::after_tools(turn& t) {
  if (t.flow) {
    after_flow(t);
    return;
  }
  record_results(t);
  if (t.stopped) {
    finish(t, std::string(stopped_text));
    return;
  }
  call_llm(t);
}

void agent::record_results(turn& t) {
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
    e.structured = std::move(c.structured);
    e.turn_id = t.t.turn_id;
    e.ts = ts;
    t.entries.push_back(std::move(e));
  }
  t.calls.clear();
}

void agent::finish(turn& t, std::string text) {
  auto& s = *t.s;
  if (!t.note.empty()) text = fmt::format("[{}.]\n\n{}", t.note, text);
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
  // What memory indexes once the lines are synced: what the person and the model said
  // (tool results are left out: large, and found again by running the tool).
  std::vector<mem::put> puts;
  if (_o.memory.enabled)
    for (std::size_t n = 0; n < t.entries.size(); ++n) {
      auto& e = t.entries[n];
      if (e.role == llm::role::tool || e.content.find_first_not_of(" \t\r\n") == std::string::npos) continue;
      mem::put p;
      p.kind = mem::kind::message;
      p.text = utf8_cut(e.content, _o.memory.max_text_bytes);
      p.session = s.key;
      p.role = e.role == llm::role::user ? "user" : "assistant";
      p.key = fmt::format("{}#{}", e.turn_id, n);
      auto ts = parse_rfc3339(e.ts);
      p.created = ts ? *ts : now;
      puts.push_back(std::move(p));
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
  s.history_base += drop;

  if (!s.done.count(f.turn_id)) s.done_order.push_back(f.turn_id);
  s.done[f.turn_id] = {t.final_text, f.ts, t.iterations, t.tool_calls};
  while (s.done_order.size() > max_answered_per_session) {
    s.done.erase(s.done_order.front());
    s.done_order.pop_front();
  }

  unique_fd dir;
  if (!open_session_file(s, dir))
    _log.error("Failed to open session '{}': {}; the answer to turn '{}' is sent but not stored", s.path,
               std::strerror(errno), t.t.turn_id);
  // The turn is written (page cache: it survives a crash of this process) and answered at
  // once; the fdatasync runs on a writer thread. The router has the answer in its own
  // synced journal, so a power loss can cost this log its last turn, never the reply.
  status written = !s.fd ? status{} : append(s.fd.get(), bytes, s.path);
  if (s.fd) {
    // The turn's lines are durable: now memory may index them (written but not synced
    // lines are indexed anyway).
    std::function<void()> then;
    if (written && !puts.empty()) then = [this, puts = std::move(puts)]() mutable { queue_puts(std::move(puts)); };
    sync_session(s, std::move(dir), std::move(then));
  }
  finish_turn(t.seq, std::move(written));
}

void agent::finish_turn(std::uint64_t seq, status written) {
  auto it = _turns.find(seq);
  if (it == _turns.end()) return;
  auto& t = *it->second;
  if (!written)
    _log.error("{}; the answer to turn '{}' is sent but may not be stored", written.err().message, t.t.turn_id);
  auto r = answer_of(t.t, _o.id, t.final_text, utc_now());
  r.tool_calls = t.tool_calls;
  r.iterations = t.iterations;
  for (auto& req : t.requesters) req.reply(r);
  _log.debug("turn '{}' answered ({} model calls, {} tool calls)", t.t.turn_id, t.iterations, t.tool_calls);
  auto* s = t.s;
  if (!s->queue.empty() && s->queue.front() == t.seq) s->queue.pop_front();
  s->busy = false;
  _by_turn_id.erase(t.t.turn_id);
  for (auto& c : t.calls)
    if (!c.progress_id.empty()) _progress.erase(c.progress_id);
  _turns.erase(it);
  start_next(*s);
  maybe_summarise(*s);  // after the reply went out; never delays it
}

// ---- memory (docs/turn.md "Memory") --------------------------------------------------

void agent::run_memory_tool(turn& t, std::size_t i) {
  auto& c = t.calls[i];
  c.process = _rt.address();
  if (!_o.memory.enabled)
    return on_memory_tool(t, i, tool::make(tool::error_code::no_such_tool, "memory is turned off ([memory] enabled = false)"));
  if (!tool_allowed(_o.settings.tools, c.c.name))
    return complete_call(t, i,
                         fmt::format("Permission denied: the tool '{}' may not be used by this agent "
                                     "(agents.{}.tools).",
                                     c.c.name, _o.id),
                         true);
  // No retry, as for a tool process; a memory that restarts while it holds the request
  // gets it again from the runtime.
  service::call_options o{.timeout = std::chrono::milliseconds(_o.settings.tool_timeout_ms) + tool_grace, .retry = false};
  auto then = [this, seq = t.seq, i](result<ipc::message> r) {
    if (auto* t = find_turn(seq)) on_memory_tool(*t, i, std::move(r));
  };
  if (c.c.name == memory_search_name) {
    auto q = parse_search_arguments(c.c.arguments);
    if (!q) return complete_call(t, i, fmt::format("Bad arguments for '{}': {}", c.c.name, q.err().message), true);
    _rt.call("memory", *q, o, then);
  } else {
    auto p = parse_store_arguments(c.c.arguments, _o.memory.max_text_bytes);
    if (!p) return complete_call(t, i, fmt::format("Bad arguments for '{}': {}", c.c.name, p.err().message), true);
    p->key = fmt::format("{}#{}", t.t.turn_id, c.c.id);
    _rt.call("memory", *p, o, then);
  }
}

void agent::on_memory_tool(turn& t, std::size_t i, result<ipc::message> r) {
  if (i >= t.calls.size() || t.calls[i].done) return;
  auto& c = t.calls[i];
  if (auto err = failure_of(r)) {
    if (timed_out(*err)) err = bus::make(bus::error_code::timeout, "no answer within {} ms", _o.settings.tool_timeout_ms);
    std::string text;
    if (bus::is(*err, bus::error_code::no_such_address))
      text = fmt::format("Memory is not available right now: the memory service is not running ('{}' failed).",
                         c.c.name);
    else if (bus::is(*err, bus::error_code::timeout) || bus::is(*err, bus::error_code::queue_full))
      text = fmt::format("Memory did not answer in time; '{}' failed ({}).", c.c.name, err->message);
    else if (tool::is(*err, tool::error_code::no_such_tool))
      text = fmt::format("There is no tool '{}' here: {}.", c.c.name, err->message);
    else
      text = fmt::format("The tool '{}' failed: memory answered {}: {}", c.c.name, err->code, err->message);
    _log.debug("turn '{}': {}", t.t.turn_id, text);
    return complete_call(t, i, std::move(text), true);
  }
  if (c.c.name == memory_search_name) {
    auto res = r->as<mem::results>();
    if (!res) return complete_call(t, i, fmt::format("Memory answered something unreadable: {}", res.err().message), true);
    auto q = parse_search_arguments(c.c.arguments);
    return complete_call(t, i, format_hits(*res, q ? q->query : std::string()), false);
  }
  auto res = r->as<mem::stored>();
  if (!res) return complete_call(t, i, fmt::format("Memory answered something unreadable: {}", res.err().message), true);
  complete_call(t, i, res->duplicate ? fmt::format("Already remembered (entry {}).", res->id)
                                     : fmt::format("Remembered (entry {}).", res->id),
                false);
}

void agent::queue_puts(std::vector<mem::put> puts) {
  for (auto& p : puts) {
    // Bounded: when memory is away for long, the oldest waiting Puts go first.
    while (!_put_queue.empty() && _put_queue.size() + _puts_in_flight.size() >= _o.max_memory_queue) {
      _put_queue.pop_front();
      if (_puts_dropped++ % drop_warning_every == 0)
        _log.warning("memory is not keeping up: dropped {} message(s) from its index so far (more than {} waiting); "
                     "they stay in the session files",
                     _puts_dropped, _o.max_memory_queue);
    }
    _put_queue.push_back(std::move(p));
  }
  pump_puts();
}

void agent::pump_puts() {
  if (_put_queue.empty()) return;
  if (mono_clock::now() < _put_resume) {
    // Memory was away: look again when the backoff ends.
    if (!_put_timer) _put_timer = _rt.loop().at(_put_resume, [this] {
      _put_timer = 0;
      pump_puts();
    });
    return;
  }
  while (!_put_queue.empty() && _puts_in_flight.size() < _o.max_memory_in_flight) {
    auto id = _next_put++;
    auto& p = _puts_in_flight.emplace(id, std::move(_put_queue.front())).first->second;
    _put_queue.pop_front();
    // No retry here: on_put keeps the Put and backs off (memory away for long must not
    // hold max_memory_in_flight calls open); a memory that restarts while it holds a Put
    // gets it again from the runtime.
    _rt.call("memory", p, {.timeout = put_timeout, .retry = false},
             [this, id](result<ipc::message> r) { on_put(id, std::move(r)); });
  }
}

void agent::on_put(std::uint64_t id, result<ipc::message> r) {
  auto it = _puts_in_flight.find(id);
  if (it == _puts_in_flight.end()) return;
  auto p = std::move(it->second);
  _puts_in_flight.erase(it);
  auto err = failure_of(r);
  if (!err) {
    if (_memory_away) _log.info("memory is back: indexing the session messages that waited");
    _memory_away = false;
    _put_backoff = 500ms;
    _log.debug("indexed '{}' in memory", p.key);
    return pump_puts();
  }
  if (timed_out(*err)) err = bus::make(bus::error_code::timeout, "no answer from 'memory' within {} s", put_timeout.count());
  bool transient = bus::is(*err, bus::error_code::no_such_address) || bus::is(*err, bus::error_code::queue_full) ||
                   bus::is(*err, bus::error_code::timeout) || bus::is(*err, bus::error_code::shutting_down) ||
                   mem::is(*err, mem::error_code::storage);
  if (transient) {
    if (!_memory_away)
      _log.warning("Failed to index session messages in memory: {}; retrying (at most {} wait)", err->to_string(),
                   _o.max_memory_queue);
    _memory_away = true;
    // Back at the front, unless newer ones filled the queue meanwhile.
    if (_put_queue.size() + _puts_in_flight.size() < _o.max_memory_queue) _put_queue.push_front(std::move(p));
    else if (_puts_dropped++ % drop_warning_every == 0)
      _log.warning("memory is not keeping up: dropped {} message(s) from its index so far", _puts_dropped);
    _put_resume = mono_clock::now() + _put_backoff;
    _put_backoff = std::min<std::chrono::milliseconds>(_put_backoff * 2, max_put_backoff);
    return pump_puts();
  }
  // Refused for what it is (too large, bad request, denied): sending it again changes nothing.
  if (_puts_dropped++ % drop_warning_every == 0)
    _log.warning("memory refused to index '{}' of session '{}': {} ({} dropped so far)", p.key, p.session,
                 err->to_string(), _puts_dropped);
  pump_puts();
}

void agent::maybe_summarise(session& s) {
  auto& m = _o.memory;
  if (m.summarise_after_messages == 0 || s.summarising || _draining) return;
  auto covered = covered_until(s.summaries);
  auto total = s.history_base + s.history.size();
  if (covered >= total || total - covered <= m.summarise_after_messages) return;
  // The messages from `covered` on: in memory, or (a long-trimmed session) from the file.
  const std::vector<entry>* msgs = &s.history;
  std::uint64_t base = s.history_base;
  loaded_session loaded;
  if (covered < base) {
    auto l = load_session(s.path);
    if (!l) {
      _log.warning("Failed to summarise session '{}': {}", s.key, l.err().message);
      return;
    }
    loaded = std::move(*l);
    msgs = &loaded.entries;
    base = 0;
  }
  auto max_chars = std::max<std::size_t>(16 * 1024, _o.budget_tokens * 3);
  auto plan = plan_summary(*msgs, base, covered, m.summarise_after_messages, m.summary_keep_messages, max_chars);
  if (!plan) return;
  auto b = static_cast<std::size_t>(plan->from - base), e = static_cast<std::size_t>(plan->to - base);
  summary_job job;
  job.session = s.key;
  job.r.from = plan->from;
  job.r.to = plan->to;
  job.r.first_ts = (*msgs)[b].ts;
  job.r.last_ts = (*msgs)[e - 1].ts;
  llm::complete c;
  c.agent = _o.id;
  c.tier = _o.settings.tier;
  c.model = _o.settings.model;
  c.system = std::string(summary_instruction());
  c.messages.push_back(llm::turn{llm::role::user, summary_transcript(*msgs, b, e), {}, {}, false});
  c.max_tokens = 1024;
  _log.info("summarising messages {}..{} of session '{}'", plan->from, plan->to - 1, s.key);
  s.summarising = true;
  _rt.call("llm", c, {.timeout = _o.llm_deadline, .retry = false},
           [this, job = std::move(job)](result<ipc::message> r) mutable { on_summary(std::move(job), std::move(r)); });
}

void agent::on_summary(summary_job job, result<ipc::message> r) {
  auto si = _sessions.find(job.session);
  if (si == _sessions.end()) return;
  auto& s = *si->second;
  auto err = failure_of(r);
  if (err && timed_out(*err))
    err = llm::make(llm::error_code::timeout, "no answer from the llm service within {} s",
                    std::chrono::duration_cast<std::chrono::seconds>(_o.llm_deadline).count());
  std::string text;
  if (!err) {
    auto c = r->as<llm::completion>();
    if (!c) err = c.err();
    else text = std::move(c->text);
  }
  if (!err && text.find_first_not_of(" \t\r\n") == std::string::npos)
    err = llm::make(llm::error_code::upstream, "the model's summary was empty");
  if (err) {
    s.summarising = false;
    _log.warning("Failed to summarise session '{}': {}; trying again after its next turn", s.key, err->to_string());
    return;
  }
  job.r.text = std::move(text);
  job.r.created = to_rfc3339(utc_now());
  auto stem = session_file_name(s.key);
  stem.resize(stem.size() - std::string_view(".jsonl").size());
  job.r.file = summary_file_path(stem, s.summaries.size() + 1);
  auto bytes = summary_markdown(s.key, _o.id, job.r);
  auto path = _o.workspace + "/" + job.r.file;
  _writer.replace(std::move(path), std::move(bytes), [this, job = std::move(job)](status written) mutable {
    on_summary_written(std::move(job), std::move(written));
  });
}

void agent::on_summary_written(summary_job job, status written) {
  auto si = _sessions.find(job.session);
  if (si == _sessions.end()) return;
  auto& s = *si->second;
  s.summarising = false;
  if (!written) {
    _log.error("Failed to write the summary of session '{}': {}; trying again after its next turn", s.key,
               written.err().message);
    return;
  }
  // The session records what the summary covers, so it is neither repeated nor lost on a restart.
  unique_fd dir;
  if (!open_session_file(s, dir)) {
    _log.error("Failed to open session '{}': {}; the summary '{}' is not recorded", s.path, std::strerror(errno),
               job.r.file);
    return;
  }
  if (auto a = append(s.fd.get(), encode_summary(job.r), s.path); !a) {
    _log.error("{}; the summary '{}' is not recorded", a.err().message, job.r.file);
    return;
  }
  sync_session(s, std::move(dir));
  _log.info("summarised messages {}..{} of session '{}' into '{}'", job.r.from, job.r.to - 1, s.key, job.r.file);
  if (_o.memory.enabled) {
    mem::put p;
    p.kind = mem::kind::summary;
    p.text = utf8_cut(job.r.text, _o.memory.max_text_bytes);
    p.session = s.key;
    p.tags = {"summary"};
    p.key = fmt::format("{}#summary#{}-{}", s.key, job.r.from, job.r.to);
    auto created = parse_rfc3339(job.r.created);
    p.created = created ? *created : utc_now();
    queue_puts({std::move(p)});
  }
  s.summaries.push_back(std::move(job.r));
  maybe_summarise(s);  // a long backlog is summarised a piece at a time
}

// ---- serving -------------------------------------------------------------------------

int agent::run() {
  refresh_prompt(/*force=*/true);
  discover(/*all=*/true);
  if (auto s = _rt.subscribe(tool::tools_changed::type_name); !s)
    _log.warning("Failed to subscribe to tool changes: {}; new tools show after a tool process restarts",
                 s.err().message);
  _log.info("agent '{}' serving: workspace '{}', {} tool process(es), context budget {} tokens", _o.id, _o.workspace,
            _procs.size(), _o.budget_tokens);
  int rc = _rt.run();
  if (!_turns.empty()) {
    _log.warning("agent '{}' stopping with {} turn(s) unfinished", _o.id, _turns.size());
    // Their callers ask the restarted agent again (the bus is closed by now: nothing more goes out).
    for (auto& [seq, t] : _turns)
      for (auto& r : t->requesters) r.fail(bus::make(bus::error_code::shutting_down, "agent '{}' is stopping", _o.id));
  }
  _writer.stop();
  return rc;
}

}  // namespace weft::agent
