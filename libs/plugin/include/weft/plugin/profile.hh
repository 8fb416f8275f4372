#pragma once
/// The hardening profile of a plugin: what its manifest asks for, cut down to what its
/// agent's policy allows, turned into the confinement the plugin-host process applies —
/// Landlock path rules, no sockets of its own, rlimits and the seccomp filter in the terms
/// of libs/sandbox (sandbox::spec), the allowlist the egress check is handed, and the host
/// functions it may import. Derived, never written by hand, so what `weftctl plugin explain`
/// prints is what is enforced.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <weft/plugin/allowlist.hh>
#include <weft/plugin/manifest.hh>
#include <weft/sandbox/spec.hh>

namespace weft::plugin {

/// What the agent and the admin allow the agent's plugins.
struct agent_policy {
  std::string agent;      ///< the agent's id, for messages
  std::string workspace;  ///< absolute path of the agent's workspace
  /// Whether the agent's tool policy allows network access at all (e.g. web_fetch allowed):
  /// without it no plugin of the agent reaches the network, whatever its manifest lists.
  bool network = false;
  /// The host functions the admin grants this agent's plugins.
  std::vector<host_function> host_functions;
};

/// A host function asked for and not granted, or a path or host refused, with the reason.
struct refusal {
  std::string what;  ///< "file_write", "files.write 'memory'", "network"
  std::string why;
};

/// RLIMIT_AS headroom above the plugin's linear memory: the host's own code, heap, stacks
/// and the engine's structures.
inline constexpr std::uint64_t address_space_headroom_mib = 256;
/// RLIMIT_NOFILE of a plugin host: the bus connection and the engine, nothing to open freely.
inline constexpr std::uint64_t plugin_open_files = 64;

struct profile {
  std::string plugin;   ///< manifest name
  std::string version;  ///< manifest version
  std::string agent;
  /// What libs/sandbox applies: read_only and read_write are absolute paths beneath the
  /// workspace (only the declared ones whose host function is granted), deny_network and
  /// own_network set (no socket but AF_UNIX, and a network namespace of its own where the
  /// system permits one), max_address_space from the memory limit plus the headroom,
  /// max_open_files.
  sandbox::spec sandbox;
  /// Resource limits sandbox::spec has no field for yet, to be set with the others:
  /// RLIMIT_CPU in seconds for one call (the host arms the soft limit at its CPU time so
  /// far plus this before each call, a backstop behind the engine's own deadline) and
  /// RLIMIT_CORE 0 (a plugin's memory never lands in a core file).
  std::uint64_t cpu_seconds_per_call = 0;
  bool no_core = true;
  /// The seccomp filter libs/sandbox builds for this spec: "tool" (the syscalls no tool
  /// needs refused: ptrace, mount, bpf, namespaces, io_uring, …) "+deny_network".
  std::string seccomp_profile;
  /// Hosts the plugin may reach through weft's egress path (empty: none).
  allowlist network;
  std::vector<host_function> granted;
  std::vector<refusal> refused;  ///< host functions, paths and the network, each with its reason
  struct limits limits;          ///< for the engine: memory, time, instructions, result size
  std::map<std::string, std::string> env;
  std::vector<capability> unsupported;  ///< named in the manifest, not run by this build ("voice")

  bool grants(host_function f) const;
};

/// The profile of `m` for the agent of `policy`. A host function is granted when the
/// manifest asks for it, the admin grants it, and what it needs is there (file_read: read
/// or write paths; file_write: write paths; http_fetch: hosts and the agent's network).
/// A path is a Landlock rule only when its host function is granted, its real path (when it
/// exists) lies beneath the workspace (a symlink leading out is refused), and, for writing,
/// it does not cover what weft keeps in the workspace (sessions/, memory/, skills/ and the
/// identity files: a plugin may not rewrite the agent). errc::invalid_argument when the
/// workspace is not an absolute path.
result<profile> derive_profile(const manifest& m, const agent_policy& policy);

/// The profile as text for a person (`weftctl plugin explain NAME`): one line per fact,
/// refusals with their reasons.
std::string explain(const profile& p);

}  // namespace weft::plugin
