#pragma once
/// The memory process: one event loop serving io.weft.Memory.v1 for every agent's
/// namespace, asking llm for embeddings, and writing the witness chain from bus events.
///
/// Each pass of the loop handles every message that has arrived, then commits: one
/// fdatasync per namespace written to, after which the writes are applied to the indexes
/// and acknowledged (group commit).

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <weft/base/log.hh>
#include <weft/ipc/bus_client.hh>
#include <weft/service/config.hh>
#include <weft/service/notify.hh>

#include "services/memory/namespace.hh"

namespace weft::memory {

/// Who is asking and for which namespace, decided from the authenticated sender.
struct access {
  std::string agent;   ///< the namespace
  bool admin = false;  ///< weftd or ctl/*: may name any agent, wipe and import
};

/// The namespace a request may touch: the caller's own, a shared one for reads, or any for
/// admins. `requested` is the request's agent field (empty: the caller's own).
/// `write` is true for Put, Forget, Wipe and import.
result<access> authorize(const service::config& cfg, std::string_view from, std::string_view requested, bool write);

/// "provider/model" of the configured embedder, or the reason there is none.
result<std::string> configured_embedder(const service::config& cfg);

class witness_log;

class memory_service {
 public:
  memory_service(zmq::context_t& ctx, ipc::bus_client& bus, service::config cfg, std::string home);
  ~memory_service();
  /// Runs until TERM/INT; 0 on a clean stop.
  int run(service::notifier& n, int signal_fd);

 private:
  using clock = mono_clock;
  struct witnessed {  ///< a witness record written once its write is durable
    std::string actor, kind, subject, detail;
  };
  struct waiting_reply {  ///< a write acknowledged after its namespace commits
    ipc::message req;
    std::string agent;
    std::string type, payload;
    std::optional<witnessed> record;
  };
  struct embed_job {
    std::string agent;
    std::vector<std::uint32_t> labels;
    std::vector<std::string> ids;  ///< the entries' ids, parallel to labels
    clock::time_point deadline;
  };
  struct search_job {
    ipc::message req;
    std::string agent;
    proto::memory_v1::search s;
    clock::time_point deadline;
  };
  struct export_file {
    std::filesystem::path path;
    std::uint64_t bytes = 0;
    std::string owner;  ///< who asked (only they may read it)
    clock::time_point expires;
  };
  struct import_file {
    std::filesystem::path path;
    std::string agent;  ///< empty: the snapshot's
    std::uint64_t expected = 0, received = 0;
    std::string owner;
    clock::time_point expires;
  };

  void dispatch(const ipc::message& m);
  void on_reply(const ipc::message& m);
  result<memory_namespace*> space(const std::string& agent);
  /// Authorizes; on denial replies Denied, publishes the AccessDenied audit event and
  /// writes it to the witness chain.
  std::optional<access> allow(const ipc::message& m, std::string_view requested, bool write);
  /// Replies `e` (Denied), publishes the AccessDenied audit event and witnesses it.
  void deny(const ipc::message& m, std::string_view target, const error& e);
  void handle_put(const ipc::message& m);
  void handle_search(const ipc::message& m);
  void handle_forget(const ipc::message& m, bool wipe);
  void handle_stats(const ipc::message& m);
  void handle_export(const ipc::message& m);
  void handle_read_chunk(const ipc::message& m);
  void handle_import_begin(const ipc::message& m);
  void handle_write_chunk(const ipc::message& m);
  void handle_import_commit(const ipc::message& m);
  void answer_search(search_job& j, std::optional<std::vector<float>> qv, std::string note);
  void commit_all();
  void feed_embedder();
  void run_timers(bool stopping);
  std::string search_mode(const memory_namespace& ns) const;
  void witness(std::string_view actor, std::string_view kind, std::string_view subject, std::string detail);
  template <class T>
  void reply_after_commit(const ipc::message& m, const std::string& agent, const T& r,
                          std::optional<witnessed> record = std::nullopt) {
    _waiting.push_back({m, agent, std::string(T::type_name), wire::encode(r), std::move(record)});
  }
  /// Marks a namespace whose store failed: its waiting writes are refused at the next
  /// commit_all and it is reopened from disk.
  void broke(const std::string& agent) { _broken.insert(agent); }
  std::size_t transfers_of(const std::string& owner) const;
  std::size_t embed_batch_size() const;

  zmq::context_t& _ctx;
  ipc::bus_client& _bus;
  service::config _cfg;
  std::filesystem::path _home;
  log::logger& _log;
  std::map<std::string, std::unique_ptr<memory_namespace>> _spaces;
  std::vector<waiting_reply> _waiting;
  std::map<std::uint64_t, embed_job> _embeds;     ///< by Embed request id
  std::map<std::uint64_t, search_job> _searches;  ///< by Embed request id (the query's vector)
  std::map<std::string, export_file> _exports;
  std::map<std::string, import_file> _imports;
  std::uint64_t _next_file = 1;
  std::string _embedder;        ///< provider/model, when configured
  std::string _no_embedder;     ///< why there is none (keyword-only search), else empty
  clock::time_point _embed_retry{};  ///< after a failure, embeddings wait until then
  clock::time_point _next_checkpoint;
  std::unique_ptr<witness_log> _witness;
  std::set<std::string> _broken;
  service::notifier* _notify = nullptr;  ///< for heartbeats during long operations
};

}  // namespace weft::memory
