#pragma once
/// The router's state machine, without sockets: accepts inbound messages (durably, with
/// group commit), routes them to agents, keeps every turn and every reply going until it is
/// answered and delivered, and replays its journal after a restart. main.cc drives it.

#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <weft/ipc/bus_client.hh>
#include <weft/service/config.hh>

#include "journal.hh"
#include "proto/chat_v1.hh"

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
  router(const service::config& cfg, ipc::bus_client& bus, std::unique_ptr<journal> j, timing t = {});
  /// Builds a router from a journal file, replaying it.
  static result<std::unique_ptr<router>> open(const service::config& cfg, ipc::bus_client& bus,
                                              const std::string& journal_path, timing t = {});

  /// One message from the bus (request, reply to our requests, or event).
  void on_message(const ipc::message& m);
  /// A peer joined the bus: resend what waits for it now.
  void on_peer_joined(const std::string& address);
  /// Commits what is buffered, then sends what waited for the commit; sends what is due.
  /// Returns how long the caller may sleep.
  std::chrono::milliseconds flush();

  std::size_t live() const { return _live.size(); }

 private:
  using clock = std::chrono::steady_clock;
  enum class stage : std::uint8_t { turn, deliver };
  struct entry {
    std::string id, agent, session, stream_to;
    chat::message inbound;
    std::optional<chat::message> reply;
    std::uint64_t req = 0;          // bus request in flight (Turn or Deliver), 0 if none
    clock::time_point due{};        // when to (re)send
    std::chrono::milliseconds backoff{0};
  };

  void handle_inbound(const ipc::message& m);
  void handle_explain(const ipc::message& m);
  void handle_answer(const ipc::message& m, const std::string& id);
  void store_reply(entry& e, chat::message reply);
  void send(entry& e);
  /// Forgets the request in flight for `e`, if any (its late answer is then ignored).
  void drop_request(entry& e);
  void retry_later(entry& e, const std::string& why);
  void finished(const std::string& id);
  void remember(const std::string& id);
  void compact();

  const service::config& _cfg;
  ipc::bus_client& _bus;
  std::unique_ptr<journal> _journal;
  timing _t;
  log::logger& _log;
  std::unordered_map<std::string, entry> _live;
  std::unordered_map<std::uint64_t, std::string> _by_req;  // bus request id -> entry id
  std::unordered_set<std::string> _done;                   // delivered ids (dedup)
  std::deque<std::string> _done_order;
  std::uint64_t _compacted_size = 0;
  // Waiting for the next commit:
  std::vector<std::pair<ipc::message, chat::accepted>> _accept;
  std::vector<std::string> _to_send;
  std::vector<std::string> _finished;
};

}  // namespace weft::router
