#include "tests/integration/turn_client.hh"

#include <doctest/doctest.h>

#include <weft/base/time.hh>

namespace weft::test {

namespace chat = proto::chat_v1;

chat::turn web_turn(const std::string& turn_id, const std::string& chat_id, const std::string& text) {
  chat::turn t;
  t.turn_id = turn_id;
  t.session = "web:" + chat_id;
  t.message.id = turn_id;
  t.message.channel = "web";
  t.message.chat_id = chat_id;
  t.message.sender = "tester";
  t.message.ts = utc_now();
  t.message.parts.push_back({chat::part_kind::text, text, {}, {}, {}, {}});
  return t;
}

chat::turn_result streamed_turn(ipc::bus_client& b, const std::string& agent, chat::turn t,
                                std::vector<std::string>& deltas, std::chrono::seconds timeout) {
  t.stream_to = b.address();
  auto id = b.send_request("agent/" + agent, t);
  REQUIRE(id);
  for (auto until = std::chrono::steady_clock::now() + timeout; std::chrono::steady_clock::now() < until;) {
    auto m = b.next(std::chrono::seconds(1));
    if (!m) continue;
    if (m->is(chat::delta::type_name)) deltas.push_back(m->as<chat::delta>()->text);
    else if (m->env.id == *id) return m->as<chat::turn_result>().value();
  }
  FAIL("no TurnResult from agent/" << agent << " within " << timeout.count() << " s");
  return {};
}

}  // namespace weft::test
