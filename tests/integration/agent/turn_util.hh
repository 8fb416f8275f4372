#pragma once
/// What the agent's integration tests share: a Turn as the router sends it, the fake LLM's
/// request log, and a bounded poll.

#include <chrono>
#include <string>
#include <thread>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <weft/base/time.hh>

#include "proto/chat_v1.hh"
#include "tests/integration/fake_peer.hh"

namespace weft::test {

/// A Turn of one web chat message, with the message's id as the turn id.
inline proto::chat_v1::turn make_turn(const std::string& id, const std::string& text,
                                      const std::string& session = "web:s1") {
  proto::chat_v1::turn t;
  t.turn_id = id;
  t.session = session;
  t.message.id = id;
  t.message.channel = "web";
  t.message.chat_id = "s1";
  t.message.sender = "tester";
  t.message.ts = utc_now();
  t.message.parts.push_back({proto::chat_v1::part_kind::text, text, {}, {}, {}, {}});
  return t;
}

/// The API requests the fake LLM received, oldest first.
inline nlohmann::json requests(fake_peer& llm) {
  auto r = llm.get("/_requests");
  REQUIRE(r.status == 200);
  return nlohmann::json::parse(r.body);
}

/// Polls `pred` until it holds or 20 s pass (the deadline only bounds a failing test).
template <class F>
bool eventually(F pred) {
  using namespace std::chrono_literals;
  auto until = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

}  // namespace weft::test
