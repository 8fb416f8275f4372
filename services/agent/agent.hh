#pragma once
/// The agent's event loop: answers Chat.v1.Turn with TurnResult by running the tool loop
/// (model → tools in parallel → model …) against the llm service and the agent's tool
/// processes, keeping each session's record in its JSONL file.
///
/// Why a single-threaded loop on the bus_client, not CAF actors: every step of a turn is
/// waiting for a bus reply, so a turn is a small state machine keyed by request id; one
/// thread owns all state (no locks, no copies between actor mailboxes and the bridge's
/// bus thread), sessions are ordered by a per-session queue, and the only blocking work —
/// fdatasync — runs on durable_writer's threads. Nothing in the loop waits for the llm or
/// a tool.

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <weft/ipc/bus_client.hh>
#include <weft/service/config.hh>
#include <weft/service/notify.hh>

#include "proto/chat_v1.hh"
#include "proto/llm_v1.hh"
#include "proto/memory_v1.hh"
#include "proto/tool_v1.hh"
#include "services/agent/durable_writer.hh"
#include "services/agent/session.hh"
#include "services/agent/skills.hh"

namespace weft::agent {

/// Everything the agent needs from the config and the environment, resolved by main.
struct agent_options {
  std::string id;
  std::string name;                     ///< display name
  std::string workspace;
  service::agent_settings settings;
  std::size_t budget_tokens = 0;        ///< context window minus the output reserve
  std::vector<std::string> tool_processes;  ///< bus addresses, in family order
  std::vector<skill_dir> skill_dirs;    ///< lowest precedence first
  std::chrono::milliseconds llm_deadline{std::chrono::minutes(10)};
  std::chrono::milliseconds stop_timeout{10000};
  std::chrono::milliseconds prompt_refresh{2000};  ///< how long the system prompt is cached
  std::size_t max_sessions = 64;        ///< sessions kept in memory (idle ones are evicted, reloaded from disk)
  std::size_t max_queued_per_session = 256;
  std::size_t max_turns = 10000;        ///< turns in hand at once
  unsigned writer_threads = 16;  ///< fdatasyncs in parallel (docs/agents.md)
  service::memory_settings memory;      ///< [memory]: indexing, memory tools, summaries
  std::size_t max_memory_queue = 1000;  ///< Puts waiting for the memory service (oldest dropped beyond)
  std::size_t max_memory_in_flight = 16;
};

/// The budget sentence appended when a turn runs out of model calls.
std::string budget_sentence(std::uint32_t max_iterations);

/// The text of a chat message for the model: text parts as they are, other parts as a
/// bracketed note.
std::string text_of(const proto::chat_v1::message& m);

class agent {
 public:
  agent(ipc::bus_client& bus, service::notifier& n, agent_options o);
  ~agent();
  /// Serves until TERM/INT on `signal_fd`, then drains (turns in hand finish, up to the
  /// stop timeout). Returns the exit code.
  int run(int signal_fd);

  /// The bus's event side, subscribed to io.weft.Tool.v1.ToolsChanged: a tool process of
  /// this agent that announces a new tool set is listed again before the next turn.
  void subscribe(std::unique_ptr<ipc::event_subscriber> events) { _events = std::move(events); }
  /// A ToolsChanged from `from` (the sender the bus stamped): re-list it if it is one of
  /// this agent's tool processes. Returns whether it was.
  bool on_tools_changed(const std::string& from);

 private:
  struct session;
  struct turn;
  struct tool_process;
  enum class wait_kind : std::uint8_t { llm, tool, list, mem_put, mem_tool, summary };
  struct pending {
    wait_kind kind;
    std::uint64_t turn = 0;  ///< turn seq
    std::size_t index = 0;   ///< tool: call index; list: process index
    mono_clock::time_point deadline;
  };

  void handle(ipc::message m);
  void on_turn(const ipc::message& m);
  void on_delta(const ipc::message& m);
  void on_reply(const ipc::message& m);
  void check_deadlines();
  void on_writes_done();
  /// Answers the turn `seq` once its session lines are written (`written` says how that went).
  void finish_turn(std::uint64_t seq, status written);

  session* get_session(const std::string& key, error& err);
  void evict_sessions();
  void start_next(session& s);
  void start_turn(turn& t);
  /// Assembles the context and sends Complete; `retry` re-sends the same step (the llm
  /// was not on the bus) without counting another model call.
  void call_llm(turn& t, bool retry = false);
  void on_llm(turn& t, const ipc::message* m, const error* local);
  void run_tools(turn& t);
  void on_tool(turn& t, std::size_t i, const ipc::message* m, const error* local);
  void after_tools(turn& t);
  void finish(turn& t, std::string text);
  /// Marks call `i` done with its result; publishes the witness event (ToolCalled).
  void complete_call(turn& t, std::size_t i, std::string content, bool is_error);
  bool open_session_file(session& s, int& dir_fd);

  // memory (docs/turn.md "Memory")
  void run_memory_tool(turn& t, std::size_t i);
  void on_memory_tool(turn& t, std::size_t i, const ipc::message* m, const error* local);
  void queue_puts(std::vector<proto::memory_v1::put> puts);
  void pump_puts();
  void on_put(std::uint64_t id, const ipc::message* m, const error* local);
  void maybe_summarise(session& s);
  void on_summary(std::uint64_t id, const ipc::message* m, const error* local);
  void on_summary_written(std::uint64_t id, status written);
  void answer(const ipc::message& req, const proto::chat_v1::turn_result& r);
  void fail_turn(turn& t, const error& e);

  void discover(bool all);
  void on_tools_listed(std::size_t proc, const ipc::message* m);
  void rebuild_tools();
  void refresh_prompt(bool force = false);
  bool discovery_in_flight() const;

  ipc::bus_client& _bus;
  service::notifier& _notify;
  agent_options _o;
  log::logger& _log;
  durable_writer _writer;
  int _sessions_dir_fd = -1;

  std::unordered_map<std::string, std::unique_ptr<session>> _sessions;
  std::uint64_t _use_tick = 0;
  std::unordered_map<std::uint64_t, std::unique_ptr<turn>> _turns;  // by seq: queued, running, writing
  std::unordered_map<std::string, turn*> _by_turn_id;
  std::unordered_map<std::uint64_t, pending> _pending;  // by bus request id
  std::deque<std::uint64_t> _waiting_discovery;          // turn seqs
  std::vector<std::pair<mono_clock::time_point, std::uint64_t>> _llm_retries;  // when, turn seq
  std::uint64_t _next_seq = 1;

  std::vector<std::unique_ptr<tool_process>> _procs;
  std::map<std::string, std::size_t> _tool_owner;  // tool name → process index
  std::vector<proto::llm_v1::tool_spec> _offered;
  std::size_t _offered_tokens = 0;

  // memory: Puts waiting (oldest first) and sent; batches waiting for their session sync
  std::deque<proto::memory_v1::put> _put_queue;
  std::unordered_map<std::uint64_t, proto::memory_v1::put> _puts_in_flight;  // by bus request id
  std::unordered_map<std::uint64_t, std::vector<proto::memory_v1::put>> _puts_after_sync;  // by writer job id
  mono_clock::time_point _put_resume{};
  std::chrono::milliseconds _put_backoff{500};
  bool _memory_away = false;
  std::uint64_t _puts_dropped = 0;
  std::uint64_t _next_job = 1;
  struct summary_job {
    std::string session;
    summary_record r;
  };
  std::unordered_map<std::uint64_t, summary_job> _summaries;  // by bus request id, then by writer job id

  std::vector<skill> _skills;
  std::string _system;
  mono_clock::time_point _prompt_at{};

  bool _draining = false;
  std::unique_ptr<ipc::event_subscriber> _events;
};

}  // namespace weft::agent
