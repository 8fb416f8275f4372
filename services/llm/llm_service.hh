#pragma once
/// The llm service: answers io.weft.Llm.v1 Complete and Embed by calling providers over
/// HTTP, many requests at once, on the runtime's event loop (libs/http's client).

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <random>

#include <weft/http/client.hh>
#include <weft/service/config.hh>
#include <weft/service/runtime.hh>

#include "services/llm/budget.hh"
#include "services/llm/messages_endpoint.hh"
#include "services/llm/policy.hh"
#include "services/llm/provider_api.hh"
#include "services/llm/runtime_policy.hh"
#include "services/llm/stream.hh"

namespace weft::llm {

/// Requests waiting for a free slot beyond [llm] max_concurrent; more are refused
/// (Unavailable) so a flood cannot grow memory without bound.
inline constexpr std::size_t max_queued_requests = 4096;

/// The HTTP client's settings for the providers: [llm] timeouts, the 16 MiB body limit and
/// a keep-alive pool as large as the transfers that run at once.
http::client_options client_options_for(const service::llm_settings& s);

class llm_service {
 public:
  /// Registers the handlers on `rt`. `policy_path`: the runtime routing policy file
  /// ($WEFT_HOME/llm/policy.json); empty: in memory only. errc::io when libcurl refuses a
  /// multi handle.
  /// `messages_socket`: where the Anthropic-Messages endpoint for delegated runs listens
  /// (messages_endpoint.hh); empty: none.
  static result<std::unique_ptr<llm_service>> create(service::runtime& rt, service::config cfg, std::string spend_path,
                                                     std::string policy_path = {}, std::string messages_socket = {});
  /// Answers what is still in hand (the runtime stopped waiting at its drain timeout).
  ~llm_service();
  llm_service(const llm_service&) = delete;
  llm_service& operator=(const llm_service&) = delete;

 private:
  struct job;
  llm_service(service::runtime& rt, service::config cfg, std::string spend_path, std::string policy_path,
              std::unique_ptr<http::client> http);
  void on_complete(lv::complete c, service::responder r);
  void on_embed(lv::embed e, service::responder r);
  result<lv::policy> on_set_policy(const lv::set_policy& req, const ipc::message& m);
  result<lv::run_token> on_issue_run_token(const lv::issue_run_token& req, const ipc::message& m);
  void submit(std::unique_ptr<job> j);
  void start_attempt(std::uint64_t id);
  void attempt_done(std::uint64_t id, http::client_response r);
  void retry_later(std::uint64_t id, std::chrono::milliseconds wait);
  void start_queued();

  service::runtime& _rt;
  service::config _cfg;
  spend_ledger _ledger;
  runtime_policy _policy;
  std::unique_ptr<http::client> _http;
  std::unique_ptr<messages_endpoint> _messages;  // after _http and _ledger: it uses both
  log::logger& _log;
  std::mt19937_64 _rng;
  std::uint64_t _next_job = 1;
  std::map<std::uint64_t, std::unique_ptr<job>> _jobs;
  std::deque<std::uint64_t> _queue;  // waiting for a slot
  std::size_t _active = 0;           // attempts on the wire
};

}  // namespace weft::llm
