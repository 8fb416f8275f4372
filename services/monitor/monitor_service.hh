#pragma once
/// weft-monitor's wire glue: subscribes to the bus's events, feeds them to monitor::rules,
/// and carries out what the rules return — an Alert event and a log line (the witness chain
/// records the Alert), with [security.monitor] notify a message to the admin's chat, for a
/// throttle the bus's Throttle, and for a quarantine the bus's Quarantine and weftd stopping
/// the agent's tool processes. Serves Monitor.v1 GetState to weftd and ctl/*.

#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <weft/base/log.hh>
#include <weft/base/time.hh>
#include <weft/service/config.hh>
#include <weft/service/runtime.hh>

#include "proto/monitor_v1.hh"
#include "services/monitor/rules.hh"

namespace weft::monitor {

class monitor_service {
 public:
  /// Recent alerts kept for GetState.
  static constexpr std::size_t max_alerts = 100;

  monitor_service(service::runtime& rt, service::config cfg, std::string home);
  ~monitor_service();

  /// The bus event topics it subscribes to.
  static std::vector<std::string_view> topics();
  /// One published event (exposed for the benchmark, which feeds events without a bus).
  void on_event(const ipc::message& m);
  std::uint64_t events() const { return _events; }

 private:
  millis now() const;
  void act(const finding& f);
  void publish(std::string agent, std::string rule, std::string action, std::string detail);
  void stop_tools(const std::string& agent);
  /// Sends `text` to [security.monitor] notify, if set.
  void notify(std::string text);
  proto::monitor_v1::state state(std::uint32_t recent) const;

  service::runtime& _rt;
  service::config _cfg;
  rules _rules;
  std::string _runtime_dir;
  std::deque<proto::monitor_v1::alert> _alerts;
  std::uint64_t _events = 0;
  bool _said_over_limit = false;  // the agent limit was reached and logged
  std::chrono::steady_clock::time_point _start = std::chrono::steady_clock::now();
  utc_time _started_utc = utc_now();
  std::uint64_t _notices = 0;  // notices sent this run
  std::vector<std::jthread> _stoppers;  // weftd's Control stop can take seconds: off the loop
  log::logger& _log;
};

}  // namespace weft::monitor
