#pragma once
/// Requests every bus peer answers the same way, whatever its own interface: Ping and
/// SetLogLevel. One place for them, used by service::runtime, actor_bridge and the bus.

#include <string_view>

#include <weft/ipc/bus_client.hh>

namespace weft::ipc {

/// weftd and admin tools (ctl/*): the senders trusted with control requests.
inline bool is_admin(std::string_view address) { return address == "weftd" || address.substr(0, 4) == "ctl/"; }

/// Applies io.weft.Bus.v1.SetLogLevel: admin senders only (the bus stamped the sender,
/// so the check cannot be fooled by the payload); a malformed spec is BadRequest.
result<bus::log_level_set> set_log_level(const message& m);

/// Answers Ping and SetLogLevel requests through `client`; returns false for anything else.
bool answer_builtin(bus_client& client, const message& m);

}  // namespace weft::ipc
