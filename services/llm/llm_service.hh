#pragma once
/// The llm service: answers io.weft.Llm.v1 Complete and Embed by calling providers over
/// HTTP, many requests at once, on the one thread that also serves the bus.

#include <deque>
#include <map>
#include <memory>
#include <random>

#include <weft/ipc/bus_client.hh>
#include <weft/service/config.hh>
#include <weft/service/notify.hh>

#include "services/llm/budget.hh"
#include "services/llm/http.hh"
#include "services/llm/policy.hh"
#include "services/llm/runtime_policy.hh"
#include "services/llm/stream.hh"

namespace weft::llm {

/// Requests waiting for a free slot beyond [llm] max_concurrent; more are refused
/// (Unavailable) so a flood cannot grow memory without bound.
inline constexpr std::size_t max_queued_requests = 4096;

class llm_service {
 public:
  /// `policy_path`: the runtime routing policy file ($WEFT_HOME/llm/policy.json); empty:
  /// in memory only.
  llm_service(ipc::bus_client& bus, service::config cfg, std::string spend_path, std::string policy_path = {});
  ~llm_service();

  /// Serves until TERM/INT on `signal_fd` (then finishes what is in flight) — returns 0.
  int run(service::notifier& n, int signal_fd);

  /// One message from the bus (request, event, or a reply nobody waits for).
  void dispatch(const ipc::message& m);

  /// Jobs not yet answered.
  std::size_t in_flight() const { return _jobs.size(); }

 private:
  struct job;
  void on_complete(const ipc::message& m);
  void on_embed(const ipc::message& m);
  void on_set_policy(const ipc::message& m);
  void on_get_policy(const ipc::message& m);
  void submit(std::unique_ptr<job> j);
  void start_attempt(std::uint64_t id);
  void attempt_done(std::uint64_t id, http_response r);
  void finish(std::uint64_t id, result<std::string> reply_payload, std::string_view type);
  void fail_job(std::uint64_t id, const error& e);
  void run_timers();
  void start_queued();
  std::chrono::milliseconds next_timer_wait(std::chrono::milliseconds cap) const;

  ipc::bus_client& _bus;
  service::config _cfg;
  spend_ledger _ledger;
  runtime_policy _policy;
  http_client _http;
  log::logger& _log;
  std::mt19937_64 _rng;
  std::uint64_t _next_job = 1;
  std::map<std::uint64_t, std::unique_ptr<job>> _jobs;
  std::deque<std::uint64_t> _queue;                            // waiting for a slot
  std::multimap<mono_clock::time_point, std::uint64_t> _timers;  // retries due
  std::size_t _active = 0;                                     // attempts on the wire
};

}  // namespace weft::llm
