#pragma once
/// The agent: answers Chat.v1.Turn with TurnResult by running the tool loop (model → tools
/// in parallel → model …) against the llm service and the agent's tool processes, keeping
/// each session's record in its JSONL file.
///
/// Why one thread on the service runtime, not CAF actors: every step of a turn is waiting
/// for a bus reply, so a turn is a small state machine driven by the replies to its
/// rt.call()s; one thread owns all state (no locks, no copies between actor mailboxes and a
/// bridge's bus thread), sessions are ordered by a per-session queue, and the only blocking
/// work — fdatasync — runs on durable_writer's workers. Nothing in the loop waits for the
/// llm or a tool. Every request goes through rt.call(), so one that a callee (llm, a tool
/// process, memory) held when it crashed is sent again to its restarted process by the
/// runtime: the turn sees the crash as latency.

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <weft/base/fd.hh>
#include <weft/service/config.hh>
#include <weft/service/policy.hh>
#include <weft/service/runtime.hh>
#include <weft/skills/skills.hh>

#include "proto/chat_v1.hh"
#include "proto/llm_v1.hh"
#include "proto/memory_v1.hh"
#include "proto/tool_v1.hh"
#include "services/agent/durable_writer.hh"
#include "services/agent/session.hh"

namespace weft::agent {

/// Everything the agent needs from the config and the environment, resolved by main.
struct agent_options {
  std::string id;
  std::string name;                     ///< display name
  std::string workspace;
  service::agent_settings settings;
  std::size_t budget_tokens = 0;        ///< context window minus the output reserve
  std::vector<std::string> tool_processes;  ///< bus addresses, in family order
  std::vector<skills::skill_dir> skill_dirs;  ///< lowest precedence first
  std::chrono::milliseconds llm_deadline{std::chrono::minutes(10)};  ///< for all model calls of one turn
  std::chrono::milliseconds prompt_refresh{2000};  ///< how long the system prompt is cached
  std::size_t max_sessions = 64;        ///< sessions kept in memory (idle ones are evicted, reloaded from disk)
  std::size_t max_queued_per_session = 256;
  std::size_t max_turns = 10000;        ///< turns in hand at once
  unsigned writer_threads = 16;  ///< fdatasyncs in parallel (docs/agents.md)
  service::memory_settings memory;      ///< [memory]: indexing, memory tools, summaries
  std::size_t max_memory_queue = 1000;  ///< Puts waiting for the memory service (oldest dropped beyond)
  std::size_t max_memory_in_flight = 16;
  /// [delegation]: the rules that send a message to Claude Code ("flow") or keep it from
  /// it ("local"), and a delegated run's time limit (its tool call waits that long).
  std::vector<service::delegation_rule> delegation_rules;
  std::chrono::milliseconds delegate_timeout{600000};
  /// Why there is no delegate tool although delegation is on ("" when there is one, or
  /// delegation is off): said in the reply to a flow message.
  std::string delegate_absent;
};

/// The delegate tool (tool-delegate), which "flow" rules call directly.
inline constexpr std::string_view delegate_tool_name = "delegate_to_claude";

/// The budget sentence appended when a turn runs out of model calls.
std::string budget_sentence(std::uint32_t max_iterations);

/// The text of a chat message for the model: text parts as they are, other parts as a
/// bracketed note.
std::string text_of(const proto::chat_v1::message& m);

class agent {
 public:
  /// Registers the agent's handlers on `rt` (Turn, Llm.v1.Delta, Tool.v1.ToolsChanged, stop
  /// and drain); `rt` outlives the agent.
  agent(service::runtime& rt, agent_options o);
  ~agent();
  agent(const agent&) = delete;
  agent& operator=(const agent&) = delete;

  /// Lists the tools, then serves until the drain after TERM ends: new turns are refused
  /// (ShuttingDown, which the router retries), the turns in hand finish and their session
  /// lines are synced, bounded by the runtime's drain timeout. Returns the exit code.
  int run();

  /// A ToolsChanged from `from` (the sender the bus stamped): re-list it if it is one of
  /// this agent's tool processes. Returns whether it was.
  bool on_tools_changed(const std::string& from);

 private:
  struct session;
  struct turn;
  struct tool_process;

  void on_turn(proto::chat_v1::turn req, service::responder r);
  /// "/stop": the turn running in `s` takes no further step and its running tool calls are
  /// told to stop (Tool.v1 Cancel); `r` gets what was done, at once.
  void stop_running(session& s, const proto::chat_v1::turn& req, service::responder r);
  /// "/allow", "/deny": passed on (Tool.v1 Answer) to the running turn's tool calls in flight,
  /// one of which asked (a delegated run's permission prompt); `r` gets what was done.
  void answer_running(session& s, const proto::chat_v1::turn& req, const std::string& answer, service::responder r);
  void on_delta(const proto::llm_v1::delta& d);
  void on_progress(const proto::tool_v1::progress& p, const std::string& from);
  /// Answers the turn `seq` (its session lines are written; `written` says how that went).
  void finish_turn(std::uint64_t seq, status written);
  turn* find_turn(std::uint64_t seq);

  session* get_session(const std::string& key, error& err);
  void evict_sessions();
  void start_next(session& s);
  void start_turn(turn& t);
  /// Assembles the context and sends Complete, within what is left of the turn's llm deadline.
  void call_llm(turn& t);
  void on_llm(turn& t, result<ipc::message> r);
  void run_tools(turn& t);
  void on_tool(turn& t, std::size_t i, result<ipc::message> r);
  void after_tools(turn& t);
  /// Moves the step's results into the model's steps and the session's entries.
  void record_results(turn& t);
  void finish(turn& t, std::string text);
  /// A "flow" rule matched: the message goes to Claude Code as the task, without the model.
  void start_flow(turn& t);
  /// The delegated run of a flow turn ended: its answer, or the model as the fallback.
  void after_flow(turn& t);
  /// Marks call `i` done with its result; publishes the witness event (ToolCalled).
  void complete_call(turn& t, std::size_t i, std::string content, bool is_error);
  /// Opens the session's file for appending, once; when this creates it, `dir` holds a
  /// descriptor of the sessions directory to sync after the file. False: errno says why.
  bool open_session_file(session& s, unique_fd& dir);
  /// Syncs the lines just appended to `s` on a worker; `then` runs after (may be empty).
  void sync_session(session& s, unique_fd dir, std::function<void()> then = {});

  // memory (docs/turn.md "Memory")
  void run_memory_tool(turn& t, std::size_t i);
  void on_memory_tool(turn& t, std::size_t i, result<ipc::message> r);
  void queue_puts(std::vector<proto::memory_v1::put> puts);
  void pump_puts();
  void on_put(std::uint64_t id, result<ipc::message> r);
  void maybe_summarise(session& s);
  struct summary_job {
    std::string session;
    summary_record r;
  };
  void on_summary(summary_job job, result<ipc::message> r);
  void on_summary_written(summary_job job, status written);

  void discover(bool all);
  void on_tools_listed(std::size_t proc, result<ipc::message> r);
  void rebuild_tools();
  void refresh_prompt(bool force = false);
  bool discovery_in_flight() const;

  service::runtime& _rt;
  agent_options _o;
  log::logger& _log;
  unique_fd _sessions_dir;

  std::unordered_map<std::string, std::unique_ptr<session>> _sessions;
  std::uint64_t _use_tick = 0;
  std::unordered_map<std::uint64_t, std::unique_ptr<turn>> _turns;  // by seq: queued, running
  std::unordered_map<std::string, turn*> _by_turn_id;
  /// Tool calls in flight that take Tool.v1 Progress: progress_id → (turn seq, call index).
  std::unordered_map<std::string, std::pair<std::uint64_t, std::size_t>> _progress;
  std::deque<std::uint64_t> _waiting_discovery;          // turn seqs
  std::uint64_t _next_seq = 1;

  std::vector<std::unique_ptr<tool_process>> _procs;
  std::map<std::string, std::size_t> _tool_owner;  // tool name → process index
  std::vector<proto::llm_v1::tool_spec> _offered;
  std::size_t _offered_tokens = 0;

  // memory: Puts waiting (oldest first) and sent
  std::deque<proto::memory_v1::put> _put_queue;
  std::unordered_map<std::uint64_t, proto::memory_v1::put> _puts_in_flight;  // by put id
  std::uint64_t _next_put = 1;
  mono_clock::time_point _put_resume{};
  event_loop::id _put_timer = 0;
  std::chrono::milliseconds _put_backoff{500};
  bool _memory_away = false;
  std::uint64_t _puts_dropped = 0;

  service::delegation_router _delegation;
  std::vector<skills::skill> _skills;
  std::string _system;
  mono_clock::time_point _prompt_at{};

  bool _draining = false;
  // Last: its workers are stopped (and its completions dropped) before the state they use goes.
  durable_writer _writer;
};

}  // namespace weft::agent
