#pragma once
/// Where weft keeps its sockets and state, resolved the same way by every process.

#include <string>

namespace weft::service {

/// Runtime directory (sockets): `configured` if set, else $WEFT_RUNTIME_DIR, else
/// $RUNTIME_DIRECTORY (systemd's RuntimeDirectory=), else $XDG_RUNTIME_DIR/weft,
/// else /tmp/weft-<uid>.
std::string runtime_dir(const std::string& configured = {});

/// State directory: `configured` if set, else $WEFT_HOME, else $STATE_DIRECTORY,
/// else ~/.clawft.
std::string home_dir(const std::string& configured = {});

/// An agent's plugins folder: <home>/plugins/<agent> (outside its workspace: the admin
/// installs plugins there with `weftctl plugin install`; the agent's tools cannot write it).
inline std::string plugins_dir(const std::string& home, const std::string& agent) { return home + "/plugins/" + agent; }

/// Where the installed unit (deploy/systemd/weftd.service) keeps them: weftctl falls back
/// to these when no directory is named and its own chain finds no weftd.
inline constexpr const char* system_runtime_dir = "/run/weft";
inline constexpr const char* system_home_dir = "/var/lib/weft";

std::string bus_endpoint(const std::string& runtime);      ///< ipc://<runtime>/bus
std::string events_endpoint(const std::string& runtime);   ///< ipc://<runtime>/events
std::string control_endpoint(const std::string& runtime);  ///< ipc://<runtime>/control

}  // namespace weft::service
