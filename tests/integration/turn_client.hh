#pragma once
/// Sending an agent a Chat.v1 Turn straight over the bus, as a streaming channel does, for
/// integration tests.

#include <chrono>
#include <string>
#include <vector>

#include <weft/ipc/bus_client.hh>

#include "proto/chat_v1.hh"

namespace weft::test {

/// A web-chat Turn `turn_id` in chat `chat_id` (session web:<chat_id>) saying `text`.
proto::chat_v1::turn web_turn(const std::string& turn_id, const std::string& chat_id, const std::string& text);

/// A turn of a streaming channel to agent/<agent>: its TurnResult, with the Delta texts that
/// came before it (appended to `deltas`). Fails the test when no answer comes in `timeout`.
proto::chat_v1::turn_result streamed_turn(ipc::bus_client& b, const std::string& agent, proto::chat_v1::turn t,
                                          std::vector<std::string>& deltas,
                                          std::chrono::seconds timeout = std::chrono::seconds(120));

}  // namespace weft::test
