#pragma once
/// The memory process's side of the witness chain: it holds the signing key, subscribes
/// to the bus's audit events (routing decisions, access denials, agents' tool calls) and
/// appends them, with its own memory writes, to $WEFT_HOME/audit (libs/witness).

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include <zmq.hpp>

#include <weft/base/result.hh>

namespace weft::memory {

class witness_log {
 public:
  /// Opens the chain in `home`/audit with the key in `home`/keys/witness.key (created on
  /// first use) and subscribes to the bus events at $WEFT_EVENTS.
  static result<std::unique_ptr<witness_log>> open(zmq::context_t& ctx, const std::filesystem::path& home);
  ~witness_log();

  /// Appends one record (durable at the next sync()).
  void record(std::string_view actor, std::string_view kind, std::string_view subject, std::string detail);
  /// The event socket to poll (nullptr when not subscribed).
  void* events_socket();
  /// Appends up to `max` events that have arrived (the rest wait for the next pass).
  void drain_events(std::size_t max);
  /// Makes what was appended durable (and signs a checkpoint when due).
  void sync();

  struct impl;

 private:
  explicit witness_log(std::unique_ptr<impl> p);
  std::unique_ptr<impl> _impl;
};

}  // namespace weft::memory
