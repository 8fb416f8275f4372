#pragma once
/// The router's state machine on the service runtime: accepts inbound messages (durably,
/// with group commit), routes them to agents, keeps every turn and every reply going until it
/// is answered and delivered, and replays its journal after a restart. The turns of one
/// session run one at a time and their replies are delivered in acceptance order
/// (session_fifo), also across a crash of the agent, the channel or the router itself.

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <weft/service/config.hh>
#include <weft/service/runtime.hh>

#include "journal.hh"
#include "proto/chat_v1.hh"
#include "session_fifo.hh"

namespace weft::router {

namespace chat = weft::proto::chat_v1;

struct timing {
  std::chrono::milliseconds turn_resend{5000};     ///< resend a Turn not answered within this
  std::chrono::milliseconds deliver_resend{2000};  ///< resend a Deliver not answered within this
  std::chrono::milliseconds retry_min{100};        ///< after a transient error: backoff from …
  std::chrono::milliseconds retry_max{5000};       ///< … to this
  std::size_t remembered_ids = 5000;               ///< delivered ids kept for deduplication (redeliveries are recent)
  std::uint64_t compact_bytes = 64u << 20;         ///< compact the journal past this size
};

class router {
 public:
  /// Registers the router's handlers (Inbound, Explain, PeerChanged) and its commit hook on `rt`.
  router(service::runtime& rt, const service::config& cfg, std::unique_ptr<journal> j, timing t = {});
  ~router();
  router(const router&) = delete;
  router& operator=(const router&) = delete;
  /// Builds a router from a journal file, replaying it; what the journal holds unanswered or
  /// undelivered is sent again, each session in acceptance order.
  static result<std::unique_ptr<router>> open(service::runtime& rt, const service::config& cfg,
                                              const std::string& journal_path, timing t = {});

  /// Messages accepted and not yet delivered.
  std::size_t live() const { return _live.size(); }

 private:
  using clock = std::chrono::steady_clock;
  struct entry {
    std::string id, agent, session, stream_to;
    chat::message inbound;
    std::optional<chat::message> reply;
    std::uint64_t seq = 0;                 // acceptance order (journal order)
    std::uint64_t call = 0;                // runtime call in flight (Turn or Deliver), 0 if none
    event_loop::id retry = 0;              // timer of a retry after a transient error, 0 if none
    std::chrono::milliseconds backoff{0};
    bool control = false;                  // "/stop", "/allow", "/deny": a lane of its own, past the running turn
  };

  void handle_inbound(chat::inbound in, service::responder r);
  result<chat::explanation> handle_explain(const chat::explain& ex);
  void on_peer_changed(const std::string& address);
  void add(entry e);
  /// The fifo's key: a session of one agent.
  static std::string queue_of(const entry& e) { return e.agent + '\n' + e.session + (e.control ? "\n/control" : ""); }
  /// Sends what `queue` may send now: the reply of its oldest message, the turn of its
  /// oldest unanswered one.
  void pump(const std::string& queue);
  void send(entry& e);
  void on_answer(const std::string& id, clock::time_point sent, result<ipc::message> r);
  void store_reply(entry& e, chat::message reply);
  void retry_later(entry& e, const std::string& why);
  void remember(const std::string& id);
  /// The before-wait hook: one commit for everything the last batch buffered, then the
  /// answers and sends that waited for it. True when it sent something.
  bool flush();
  void compact();

  service::runtime& _rt;
  const service::config& _cfg;
  std::unique_ptr<journal> _journal;
  timing _t;
  log::logger& _log;
  event_loop::id _hook = 0;
  event_loop::id _commit_retry = 0;  // after a failed commit: when to try again
  std::unordered_map<std::string, entry> _live;
  session_fifo _fifo;
  std::uint64_t _next_seq = 1;
  std::unordered_set<std::string> _done;  // delivered ids (dedup)
  std::deque<std::string> _done_order;
  std::uint64_t _compacted_size = 0;
  // Waiting for the next commit:
  std::vector<std::pair<service::responder, chat::accepted>> _accept;
  std::vector<std::string> _answered;  // replies stored: their sessions may move on
  std::vector<std::string> _finished;  // delivered: they leave their sessions
  std::unordered_set<std::string> _kick;  // queues to pump after the commit
};

}  // namespace weft::router
