#pragma once
/// The memory process on the service runtime: serves io.weft.Memory.v1 for every agent's
/// namespace, asks llm for embeddings, and writes the witness chain from bus events.
///
/// Each pass of the loop handles every message that has arrived, then commits (a before-wait
/// hook): one fdatasync per namespace written to, after which the writes are applied to the
/// indexes and acknowledged (group commit).

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <weft/base/log.hh>
#include <weft/service/config.hh>
#include <weft/service/runtime.hh>

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
  /// Registers the Memory.v1 handlers, the witness chain's event subscriptions, the commit
  /// hook and the housekeeping timer on `rt`; opens every configured agent's namespace once
  /// the loop runs (after READY, so a long replay does not hold up the stack).
  memory_service(service::runtime& rt, service::config cfg, std::string home);
  ~memory_service();
  memory_service(const memory_service&) = delete;
  memory_service& operator=(const memory_service&) = delete;

 private:
  using clock = mono_clock;
  struct witnessed {  ///< a witness record written once its write is durable
    std::string actor, kind, subject, detail;
  };
  struct waiting_reply {  ///< a write acknowledged after its namespace commits
    service::responder r;
    std::string agent;
    std::string type, payload;
    std::optional<witnessed> record;
  };
  struct embed_job {
    std::string agent;
    std::vector<std::uint32_t> labels;
    std::vector<std::string> ids;  ///< the entries' ids, parallel to labels
    std::uint64_t call = 0;        ///< the runtime call asking llm
  };
  struct search_job {
    service::responder r;
    std::string agent;
    proto::memory_v1::search s;
    std::uint64_t call = 0;  ///< the runtime call asking llm for the query's vector
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

  result<memory_namespace*> space(const std::string& agent);
  /// Authorizes; on denial fails `r` with Denied, publishes the AccessDenied audit event and
  /// writes it to the witness chain.
  std::optional<access> allow(service::responder& r, std::string_view requested, bool write);
  /// Fails `r` with `e` (Denied), publishes the AccessDenied audit event and witnesses it.
  void deny(service::responder& r, std::string_view target, const error& e);
  void handle_put(proto::memory_v1::put p, service::responder r);
  void handle_search(proto::memory_v1::search s, service::responder r);
  void handle_forget(proto::memory_v1::forget f, bool wipe, service::responder r);
  void handle_stats(const proto::memory_v1::stats& s, service::responder r);
  void handle_export(const proto::memory_v1::export_begin& e, service::responder r);
  void handle_read_chunk(const proto::memory_v1::read_chunk& c, service::responder r);
  void handle_import_begin(const proto::memory_v1::import_begin& b, service::responder r);
  void handle_write_chunk(const proto::memory_v1::write_chunk& c, service::responder r);
  void handle_import_commit(const proto::memory_v1::import_commit& c, service::responder r);
  void handle_skill_installed(const proto::memory_v1::skill_installed& s, service::responder r);
  void handle_plugin_installed(const proto::memory_v1::plugin_installed& p, service::responder r);
  void on_embedded(std::uint64_t job, result<ipc::message> answer);
  void on_query_embedded(std::uint64_t job, result<ipc::message> answer);
  void answer_search(search_job& j, std::optional<std::vector<float>> qv, std::string note);
  /// The before-wait hook: commits what the pass wrote, then asks for embeddings. True when
  /// it sent something.
  bool after_pass();
  bool commit_all();
  bool feed_embedder();
  /// Every second: expired transfers, due checkpoints, embeddings waiting out a pause.
  void housekeeping();
  void checkpoint_all();
  void stop();
  std::string search_mode(const memory_namespace& ns) const;
  void witness(std::string_view actor, std::string_view kind, std::string_view subject, std::string detail);
  template <class T>
  void reply_after_commit(service::responder r, const std::string& agent, const T& m,
                          std::optional<witnessed> record = std::nullopt) {
    _waiting.push_back({std::move(r), agent, std::string(T::type_name), wire::encode(m), std::move(record)});
  }
  /// Marks a namespace whose store failed: its waiting writes are refused at the next
  /// commit_all and it is reopened from disk.
  void broke(const std::string& agent) { _broken.insert(agent); }
  std::size_t transfers_of(const std::string& owner) const;
  std::size_t embed_batch_size() const;

  service::runtime& _rt;
  service::config _cfg;
  std::filesystem::path _home;
  log::logger& _log;
  std::map<std::string, std::unique_ptr<memory_namespace>> _spaces;
  std::vector<waiting_reply> _waiting;
  std::map<std::uint64_t, embed_job> _embeds;     ///< by job number
  std::map<std::uint64_t, search_job> _searches;  ///< by job number (waiting for the query's vector)
  std::uint64_t _next_job = 1;
  std::map<std::string, export_file> _exports;
  std::map<std::string, import_file> _imports;
  std::uint64_t _next_file = 1;
  std::string _embedder;        ///< provider/model, when configured
  std::string _no_embedder;     ///< why there is none (keyword-only search), else empty
  clock::time_point _embed_retry{};  ///< after a failure, embeddings wait until then
  clock::time_point _next_checkpoint;
  std::unique_ptr<witness_log> _witness;
  std::set<std::string> _broken;
  event_loop::id _hook = 0;
  event_loop::id _tick = 0;
};

}  // namespace weft::memory
