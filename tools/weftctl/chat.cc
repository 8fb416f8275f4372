// weftctl chat — talk to an agent directly from the terminal, bypassing channels and the
// router: one Chat.v1.Turn per line, streamed Delta text printed as it arrives.
#include <unistd.h>

#include <cstdio>
#include <optional>
#include <iostream>
#include <pwd.h>
#include <random>

#include <weft/ipc/address.hh>
#include <weft/ipc/bus_client.hh>

#include "commands.hh"
#include "proto/chat_v1.hh"

namespace weft::ctl {

namespace chat = weft::proto::chat_v1;
namespace bus = weft::proto::bus_v1;
using namespace std::chrono_literals;

namespace {

std::string user_name() {
  if (const char* u = std::getenv("USER"); u && *u) return u;
  if (auto* pw = ::getpwuid(::getuid())) return pw->pw_name;
  return "user";
}

std::string turn_id() {
  static std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("cli:{:016x}", rng());
}

std::string reply_text(const chat::message& m) {
  std::string out;
  for (auto& p : m.parts) {
    if (p.kind == chat::part_kind::text && p.text) {
      if (!out.empty()) out += "\n";
      out += *p.text;
    } else if (p.kind == chat::part_kind::blob) {
      out += fmt::format("{}[{} {}]", out.empty() ? "" : "\n", p.media_type.value_or("blob"), p.name.value_or(""));
    }
  }
  return out;
}

/// One turn: sends it, prints deltas as they come, then the final reply (only the part the
/// deltas did not already show). Returns the exit code.
int one_turn(ipc::bus_client& b, const std::string& agent, const std::string& user, const std::string& text,
             std::chrono::milliseconds timeout) {
  chat::turn t;
  t.turn_id = turn_id();
  t.session = "cli:" + user;
  t.stream_to = b.address();
  t.message.id = t.turn_id;
  t.message.channel = "cli";
  t.message.chat_id = user;
  t.message.sender = user;
  t.message.ts = utc_now();
  chat::part p;
  p.kind = chat::part_kind::text;
  p.text = text;
  t.message.parts.push_back(std::move(p));
  t.message.meta["user_id"] = user;
  auto address = ipc::addr::agent(agent);
  auto id = b.send_request(address, t);
  if (!id) {
    fmt::print(stderr, "Failed to reach agent '{}': {}\n", agent, id.err().message);
    return 1;
  }
  std::string streamed;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto m = b.next(200ms);
    if (!m) continue;
    if (m->env.kind == bus::kind::event && m->is(chat::delta::type_name)) {
      auto d = m->as<chat::delta>();
      if (d && d->turn_id == t.turn_id) {
        fmt::print("{}", d->text);
        std::fflush(stdout);
        streamed += d->text;
      }
      continue;
    }
    if (m->env.id != *id || (m->env.kind != bus::kind::reply && m->env.kind != bus::kind::error)) continue;
    if (m->is_error()) {
      if (!streamed.empty()) fmt::print("\n");
      auto e = m->to_error();
      if (e.is(bus::interface_name, bus::to_string(bus::error_code::no_such_address)))
        fmt::print(stderr, "Failed to reach agent '{}': no such agent (is it configured in [agents]?)\n", agent);
      else
        fmt::print(stderr, "Failed to get an answer from agent '{}': {}\n", agent, e.to_string());
      return 1;
    }
    auto r = m->as<chat::turn_result>();
    if (!r) {
      fmt::print(stderr, "Failed to read the answer of agent '{}': {}\n", agent, r.err().message);
      return 1;
    }
    auto final_text = reply_text(r->reply);
    if (streamed.empty())
      fmt::print("{}\n", final_text);
    else if (final_text.rfind(streamed, 0) == 0)
      fmt::print("{}\n", final_text.substr(streamed.size()));  // what the stream did not show
    else
      fmt::print("\n{}\n", final_text);  // the final reply differs from the stream: show it whole
    return 0;
  }
  if (!streamed.empty()) fmt::print("\n");
  fmt::print(stderr, "Failed to get an answer from agent '{}': no reply within {} ms (--timeout)\n", agent,
             timeout.count());
  return 1;
}

}  // namespace

int cmd_chat(const options& o, const chat_args& a) {
  const auto& agent = a.agent;
  zmq::context_t ctx(1);
  auto b = join_bus(ctx, o);
  if (!b) {
    fmt::print(stderr, "Failed to join the bus: {}\n", b.err().message);
    return 1;
  }
  auto user = user_name();
  // A turn may run tools and several model calls: wait longer than for admin requests
  // unless --timeout changed the default.
  constexpr unsigned default_timeout_ms = 30000, turn_timeout_ms = 600000;
  auto timeout = std::chrono::milliseconds(o.timeout_ms == default_timeout_ms ? turn_timeout_ms : o.timeout_ms);
  if (a.message) return one_turn(**b, agent, user, *a.message, timeout);
  bool tty = ::isatty(STDIN_FILENO);
  std::string line;
  int rc = 0;
  for (;;) {
    if (tty) {
      fmt::print("you> ");
      std::fflush(stdout);
    }
    if (!std::getline(std::cin, line)) break;
    if (line.empty()) continue;
    if (line == "/quit" || line == "/exit") break;
    rc = one_turn(**b, agent, user, line, timeout);
  }
  if (tty) fmt::print("\n");
  return rc;
}

}  // namespace weft::ctl
