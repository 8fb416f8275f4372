#pragma once
/// Readiness and heartbeats to the supervisor: "READY=1", "WATCHDOG=1", "STATUS=…",
/// "STOPPING=1" datagrams, as systemd's sd_notify. weftd gives each child its own socket
/// ($WEFT_NOTIFY_FD) so it knows who spoke without credentials; under systemd, weftd
/// itself reports to $NOTIFY_SOCKET the same way.

#include <chrono>
#include <string>
#include <string_view>

#include <weft/base/result.hh>

namespace weft::service {

class notifier {
 public:
  /// From $WEFT_NOTIFY_FD, else $NOTIFY_SOCKET; a notifier that does nothing when neither is
  /// set (a service started by hand). Heartbeat interval from $WEFT_WATCHDOG_USEC or
  /// $WATCHDOG_USEC (half of the timeout), zero when there is none.
  static notifier from_env();

  notifier() = default;
  notifier(notifier&& o) noexcept;
  notifier& operator=(notifier&& o) noexcept;
  ~notifier();

  bool active() const { return _fd >= 0; }
  /// Never blocks: when the supervisor stops reading and its queue is full, the datagram is
  /// dropped and the error returned (a missed heartbeat is the supervisor's to judge).
  status send(std::string_view state);
  status ready() { return send("READY=1"); }
  status heartbeat() { return send("WATCHDOG=1"); }
  status stopping() { return send("STOPPING=1"); }
  status status_line(std::string_view s) { return send(std::string("STATUS=") + std::string(s)); }

  /// How often heartbeat() should be called; zero when no one watches.
  std::chrono::milliseconds heartbeat_interval() const { return _interval; }

  /// For main loops: sends a heartbeat if one is due and returns how long the loop may
  /// wait before calling again (`idle` when no one watches).
  std::chrono::milliseconds beat_if_due(std::chrono::milliseconds idle = std::chrono::milliseconds(1000));

 private:
  int _fd = -1;
  std::string _path;  // for NOTIFY_SOCKET (unconnected datagram socket)
  std::chrono::milliseconds _interval{0};
  std::chrono::steady_clock::time_point _next_beat{};
};

}  // namespace weft::service
