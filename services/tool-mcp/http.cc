// The Streamable HTTP transport (protocols.md §1.7).
#include "transport.hh"

namespace weft::mcp_host {

result<std::unique_ptr<transport>> start_http(const service::mcp_server_entry& e, transport_events) {
  return fail(errc::unavailable, "Failed to connect to '{}': the HTTP transport is not implemented yet", e.url);
}

}  // namespace weft::mcp_host
