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

#include "proto/memory_v1.hh"

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
  /// Appends the record of a forced skill install (Memory.v1 SkillInstalled) and makes it
  /// durable before returning its sequence number, so weftctl installs only what is on
  /// record. Only an admin tool (ctl/*) decides installs: any other `from` is Denied.
  result<std::uint64_t> record_skill_installed(std::string_view from, const proto::memory_v1::skill_installed& e);
  /// The same for a WASM plugin (PluginInstalled): from ctl/* only, synced before it returns.
  result<std::uint64_t> record_plugin_installed(std::string_view from, const proto::memory_v1::plugin_installed& e);
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
