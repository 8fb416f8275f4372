#pragma once
/// The memory process's side of the witness chain: it holds the signing key and appends
/// the bus's audit events (routing decisions, access denials, agents' tool calls) and its
/// own memory writes to $WEFT_HOME/audit (libs/witness). The events come through the
/// service runtime's subscription (memory_service subscribes to topics()).

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <weft/base/result.hh>
#include <weft/ipc/message.hh>

namespace weft::memory {

class witness_log {
 public:
  /// Opens the chain in `home`/audit with the key in `home`/keys/witness.key (created on
  /// first use).
  static result<std::unique_ptr<witness_log>> open(const std::filesystem::path& home);
  ~witness_log();

  /// The published event types the chain records.
  static std::vector<std::string_view> topics();
  /// Appends a published event of one of topics(), if its sender is the one that decides
  /// such events (the bus stamps the sender, so nobody can put words in another's mouth).
  void on_event(const ipc::message& m);
  /// Appends one record (durable at the next sync()).
  void record(std::string_view actor, std::string_view kind, std::string_view subject, std::string detail);
  /// True when records await sync().
  bool dirty() const;
  /// Makes what was appended durable (and signs a checkpoint when due).
  void sync();

  struct impl;

 private:
  explicit witness_log(std::unique_ptr<impl> p);
  std::unique_ptr<impl> _impl;
};

}  // namespace weft::memory
