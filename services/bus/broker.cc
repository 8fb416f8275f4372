#include "broker.hh"

#include <sodium.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include <weft/base/io.hh>
#include <weft/ipc/builtin.hh>

namespace weft::bus {

namespace {


std::int64_t ms_of(utc_time t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

bool agent_id_ok(const std::string& id) { return !id.empty() && id.find('/') == std::string::npos; }

std::string random_instance() {
  unsigned char b[4];
  randombytes_buf(b, sizeof b);
  return to_hex(std::string_view(reinterpret_cast<char*>(b), sizeof b));
}

}  // namespace

broker::broker(const service::bus_settings& s, const ipc::secret& key, transport& t)
    : _key(key), _t(t), _instance(random_instance()), _log(log::get("bus")) {
  configure(s);
}

void broker::configure(const service::bus_settings& s) {
  _settings = s;
  _acl = acl(s.acl, s.default_policy, s.agent_tools);
}

void broker::reply(std::string_view rid, const proto::envelope& req, std::string_view type, const std::string& payload) {
  auto header = ipc::encode_header(proto::kind::reply, type, req.id, req.from, "bus");
  (void)_t.send(rid, header, payload);
}

void broker::reply_error(std::string_view rid, const proto::envelope& req, const error& e) {
  auto header = ipc::encode_header(proto::kind::error, proto::error::type_name, req.id, req.from, "bus");
  (void)_t.send(rid, header, wire::encode(proto::error{e.domain, e.code, e.message}));
}

template <class T>
void broker::event(const T& m) {
  auto header = ipc::encode_header(proto::kind::event, T::type_name, _next_id++, "", "bus");
  _t.publish(T::type_name, header, wire::encode(m));
}

void broker::on_subscription(std::string_view topic, bool subscribed) {
  if (topic.substr(0, 6) != "trace:") return;
  if (subscribed) {
    _traced.emplace(topic);
  } else if (auto it = _traced.find(std::string(topic)); it != _traced.end()) {
    _traced.erase(it);
  }
}

void broker::trace(const proto::envelope& env, std::string_view header, std::string_view payload) {
  if (_traced.empty()) return;
  for (auto* addr : {&env.from, &env.to}) {
    if (addr->empty()) continue;
    auto topic = fmt::format("trace:{}\n", *addr);
    for (auto& p : _traced)
      if (topic.compare(0, p.size(), p) == 0) {
        _t.publish(topic, header, payload);
        break;
      }
  }
}

void broker::drop_peer(std::string_view rid) {
  auto it = _peers.find(std::string(rid));
  if (it == _peers.end()) return;
  auto address = it->second.address;
  auto instance = it->second.instance;
  if (auto r = _rid_of.find(address); r != _rid_of.end() && r->second == rid) _rid_of.erase(r);
  _peers.erase(it);
  _log.info("Peer '{}' left", address);
  event(proto::peer_changed{address, false, instance});
}

void broker::handle_hello(std::string_view rid, const proto::envelope& env, std::string_view payload) {
  auto hello = wire::decode<proto::hello>(payload);
  if (!hello) {
    reply_error(rid, env, proto::make(proto::error_code::malformed, "Hello does not decode: {}", hello.err().message));
    return;
  }
  if (!ipc::verify_token(_key, hello->address, hello->token)) {
    _log.warning("Refused Hello for '{}' from peer {}: token does not match the address", hello->address,
                 to_hex(rid));
    reply_error(rid, env,
                proto::make(proto::error_code::auth_failed, "token does not match the address '{}'", hello->address));
    event(proto::auth_refused{hello->address, "token does not match the address"});
    return;
  }
  // A new connection for a known address replaces the old one (the peer restarted).
  if (auto old = _rid_of.find(hello->address); old != _rid_of.end() && old->second != rid)
    _peers.erase(old->second);
  if (auto same = _peers.find(std::string(rid)); same != _peers.end() && same->second.address != hello->address)
    _rid_of.erase(same->second.address);
  // ROUTER sockets do not report disconnects, so short-lived admin tools (one ctl/<pid>
  // per weftctl run) would pile up: keep at most max_admin_peers, dropping the oldest.
  if (ipc::is_admin(hello->address) && hello->address != "weftd") {
    _admin_order.push_back(hello->address);
    while (_admin_order.size() > max_admin_peers) {
      auto oldest = _admin_order.front();
      _admin_order.pop_front();
      if (auto r = _rid_of.find(oldest); r != _rid_of.end()) {
        _peers.erase(r->second);
        _rid_of.erase(r);
      }
    }
  }
  _peers[std::string(rid)] = peer{hello->address, utc_now(), 0, 0, hello->instance};
  _rid_of[hello->address] = std::string(rid);
  if (ipc::is_admin(hello->address)) _log.debug("Peer '{}' joined", hello->address);  // every weftctl run
  else _log.info("Peer '{}' joined", hello->address);
  auto e = env;
  e.from = hello->address;
  reply(rid, e, proto::welcome::type_name,
        wire::encode(proto::welcome{hello->address, _settings.max_message_bytes, _instance}));
  event(proto::peer_changed{hello->address, true, hello->instance});
}

void broker::handle_own(std::string_view rid, const proto::envelope& env, std::string_view payload) {
  if (env.kind != proto::kind::request) return;
  if (env.type == proto::ping::type_name) {
    reply(rid, env, proto::pong::type_name, wire::encode(proto::pong{"bus"}));
  } else if (env.type == proto::set_log_level::type_name) {
    auto r = ipc::set_log_level(ipc::message{env, std::string(payload)});
    if (r) reply(rid, env, proto::log_level_set::type_name, wire::encode(*r));
    else reply_error(rid, env, r.err());
  } else if (env.type == proto::quarantine::type_name) {
    handle_quarantine(rid, env, payload);
  } else if (env.type == proto::release::type_name) {
    handle_release(rid, env, payload);
  } else if (env.type == proto::throttle::type_name) {
    handle_throttle(rid, env, payload);
  } else if (env.type == proto::list_quarantined::type_name) {
    if (env.from != "monitor" && !ipc::is_admin(env.from))
      reply_error(rid, env, proto::make(proto::error_code::denied, "only monitor, weftd and ctl/* may list quarantined "
                                        "agents, not '{}'", env.from));
    else reply(rid, env, proto::quarantine_list::type_name, wire::encode(quarantine_list()));
  } else if (env.type == proto::list_peers::type_name) {
    proto::peers out;
    for (auto& [r, p] : _peers) out.peers.push_back({p.address, p.since, p.sent, p.received});
    std::sort(out.peers.begin(), out.peers.end(), [](auto& a, auto& b) { return a.address < b.address; });
    reply(rid, env, proto::peers::type_name, wire::encode(out));
  } else {
    reply_error(rid, env, proto::make(proto::error_code::unknown_type, "the bus does not handle '{}'", env.type));
  }
}

proto::quarantine_list broker::quarantine_list() const {
  proto::quarantine_list out;
  for (auto& [agent, q] : _quarantined) out.agents.push_back({agent, q.reason, q.by, q.since});
  auto now = _clock();
  for (auto& [agent, t] : _throttled)
    if (now < t.until) out.throttled.push_back({agent, t.reason, t.by, t.since, t.until, t.window.rate()});
  return out;
}

status broker::open_state(std::string path) {
  _state_path = std::move(path);
  std::ifstream in(_state_path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return {};
    return fail(errc::io, "Failed to read the quarantine file '{}': {}", _state_path, std::strerror(errno));
  }
  std::stringstream text;
  text << in.rdbuf();
  auto bad = [&](std::string_view why) {
    return fail(errc::malformed, "Failed to read the quarantine file '{}': {}; fix it, or remove it to lift every "
                "quarantine and throttle it holds", _state_path, why);
  };
  auto j = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.value("quarantined", nlohmann::json::array()).is_array() ||
      !j.value("throttled", nlohmann::json::array()).is_array())
    return bad("not a weft quarantine file (a JSON object with lists 'quarantined' and 'throttled')");
  auto time_of = [](const nlohmann::json& e, const char* key) -> std::optional<utc_time> {
    if (!e.contains(key) || !e[key].is_string()) return std::nullopt;
    auto t = parse_rfc3339(e[key].get<std::string>());
    return t ? std::optional(*t) : std::nullopt;
  };
  auto str = [](const nlohmann::json& e, const char* key) {
    return e.contains(key) && e[key].is_string() ? e[key].get<std::string>() : std::string();
  };
  std::map<std::string, quarantine_entry> quarantined;
  std::map<std::string, throttle_entry> throttled;
  for (auto& e : j.value("quarantined", nlohmann::json::array())) {
    auto since = e.is_object() ? time_of(e, "since") : std::nullopt;
    if (!since || !agent_id_ok(str(e, "agent"))) return bad("a quarantined entry needs an agent id and a time 'since'");
    quarantined[str(e, "agent")] = {str(e, "reason"), str(e, "by"), *since};
  }
  for (auto& e : j.value("throttled", nlohmann::json::array())) {
    auto since = e.is_object() ? time_of(e, "since") : std::nullopt;
    auto until = e.is_object() ? time_of(e, "until") : std::nullopt;
    auto rate = e.is_object() && e.contains("calls_per_minute") && e["calls_per_minute"].is_number_unsigned()
                    ? e["calls_per_minute"].get<std::uint64_t>() : 0;
    if (!since || !until || !agent_id_ok(str(e, "agent")) || rate < 1 || rate > max_throttle_rate)
      return bad(fmt::format("a throttled entry needs an agent id, times 'since' and 'until', and calls_per_minute "
                             "of 1 to {}", max_throttle_rate));
    throttled.insert_or_assign(str(e, "agent"), throttle_entry{str(e, "reason"), str(e, "by"), *since, *until,
                                                               rate_window(static_cast<std::uint32_t>(rate))});
  }
  if (quarantined.size() > max_quarantined || throttled.size() > max_quarantined)
    return bad(fmt::format("more than {} agents quarantined or throttled", max_quarantined));
  _quarantined = std::move(quarantined);
  _throttled = std::move(throttled);
  for (auto& [agent, q] : _quarantined)
    _log.warning("Agent '{}' stays quarantined (since {}, by '{}'): {}", agent, to_rfc3339(q.since), q.by, q.reason);
  for (auto& [agent, t] : _throttled)
    if (_clock() < t.until)
      _log.warning("Agent '{}' stays throttled to {} tool calls a minute until {}: {}", agent, t.window.rate(),
                   to_rfc3339(t.until), t.reason);
  return {};
}

void broker::save_state() {
  if (_state_path.empty()) return;
  nlohmann::json q = nlohmann::json::array(), t = nlohmann::json::array();
  for (auto& [agent, e] : _quarantined)
    q.push_back({{"agent", agent}, {"reason", e.reason}, {"by", e.by}, {"since", to_rfc3339(e.since)}});
  auto now = _clock();
  for (auto& [agent, e] : _throttled)
    if (now < e.until)
      t.push_back({{"agent", agent}, {"reason", e.reason}, {"by", e.by}, {"since", to_rfc3339(e.since)},
                   {"until", to_rfc3339(e.until)}, {"calls_per_minute", e.window.rate()}});
  nlohmann::json j{{"quarantined", q}, {"throttled", t}};
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(_state_path).parent_path(), ec);
  // Written through (fsync, rename, fsync of the directory): a quarantine the monitor was
  // told is in force must not be lost to a crash right after.
  if (auto s = write_file_atomic(_state_path, j.dump(2) + "\n", 0600); !s)
    _log.error("Failed to keep the quarantines in '{}': {}; they hold until the bus restarts", _state_path,
               s.err().message);
}

void broker::handle_quarantine(std::string_view rid, const proto::envelope& env, std::string_view payload) {
  // Decided on the authenticated sender: the monitor quarantines; nobody else, not even an
  // admin tool (an admin releases; a quarantine always has the monitor's record behind it).
  if (env.from != "monitor") {
    reply_error(rid, env, proto::make(proto::error_code::denied, "only the monitor may quarantine an agent, not '{}'",
                                      env.from));
    event(proto::access_denied{env.from, "bus", env.type, "quarantine: monitor only"});
    return;
  }
  auto q = wire::decode<proto::quarantine>(payload);
  if (!q || q->agent.empty() || q->agent.find('/') != std::string::npos) {
    reply_error(rid, env, proto::make(proto::error_code::bad_request, "Quarantine needs an agent id{}",
                                      q ? "" : ": " + q.err().message));
    return;
  }
  if (!_quarantined.count(q->agent)) {
    if (_quarantined.size() >= max_quarantined) {
      reply_error(rid, env, proto::make(proto::error_code::denied, "{} agents are quarantined already (the limit)",
                                        max_quarantined));
      return;
    }
    _quarantined[q->agent] = {q->reason, env.from, _clock()};
    _log.warning("Quarantined agent '{}' (asked by '{}'): {}", q->agent, env.from, q->reason);
    save_state();
    event(proto::agent_quarantined{q->agent, q->reason, env.from});
  }
  reply(rid, env, proto::quarantine_list::type_name, wire::encode(quarantine_list()));
}

void broker::handle_release(std::string_view rid, const proto::envelope& env, std::string_view payload) {
  if (env.from.rfind("ctl/", 0) != 0) {
    reply_error(rid, env, proto::make(proto::error_code::denied, "only an admin tool (ctl/*, weftctl) may release an "
                                      "agent, not '{}'", env.from));
    event(proto::access_denied{env.from, "bus", env.type, "release: ctl/* only"});
    return;
  }
  auto r = wire::decode<proto::release>(payload);
  if (!r || r->agent.empty()) {
    reply_error(rid, env, proto::make(proto::error_code::bad_request, "Release needs an agent id{}",
                                      r ? "" : ": " + r.err().message));
    return;
  }
  bool quarantined = _quarantined.erase(r->agent) > 0;
  bool throttled = _throttled.erase(r->agent) > 0;
  if (quarantined || throttled) {
    _log.warning("Released agent '{}' from {} (asked by '{}')", r->agent,
                 quarantined && throttled ? "quarantine and throttle" : quarantined ? "quarantine" : "throttle",
                 env.from);
    save_state();
    event(proto::agent_released{r->agent, env.from});
  }
  reply(rid, env, proto::quarantine_list::type_name, wire::encode(quarantine_list()));
}

void broker::handle_throttle(std::string_view rid, const proto::envelope& env, std::string_view payload) {
  // As Quarantine: only the monitor, on its own record.
  if (env.from != "monitor") {
    reply_error(rid, env, proto::make(proto::error_code::denied, "only the monitor may throttle an agent, not '{}'",
                                      env.from));
    event(proto::access_denied{env.from, "bus", env.type, "throttle: monitor only"});
    return;
  }
  auto t = wire::decode<proto::throttle>(payload);
  if (!t || !agent_id_ok(t->agent) || t->calls_per_minute < 1 || t->calls_per_minute > max_throttle_rate ||
      t->seconds < 1 || t->seconds > max_throttle_seconds) {
    reply_error(rid, env, proto::make(proto::error_code::bad_request,
                                      "Throttle needs an agent id, calls_per_minute of 1 to {} and seconds of 1 to {}{}",
                                      max_throttle_rate, max_throttle_seconds, t ? "" : ": " + t.err().message));
    return;
  }
  auto now = _clock();
  auto until = now + std::chrono::seconds(t->seconds);
  auto it = _throttled.find(t->agent);
  if (it == _throttled.end()) {
    if (_throttled.size() >= max_quarantined) {
      reply_error(rid, env, proto::make(proto::error_code::denied, "{} agents are throttled already (the limit)",
                                        max_quarantined));
      return;
    }
    _throttled.insert_or_assign(t->agent, throttle_entry{t->reason, env.from, now, until, rate_window(t->calls_per_minute)});
  } else {
    // Again while throttled (or after its end, not yet noticed): the new terms, from now; the
    // calls it made within the last minute still count.
    if (it->second.until <= now) it->second.since = now;
    it->second.reason = t->reason;
    it->second.by = env.from;
    it->second.until = until;
    it->second.window.set_rate(t->calls_per_minute);
  }
  _log.warning("Throttled agent '{}' to {} tool calls a minute until {} (asked by '{}'): {}", t->agent,
               t->calls_per_minute, to_rfc3339(until), env.from, t->reason);
  save_state();
  reply(rid, env, proto::quarantine_list::type_name, wire::encode(quarantine_list()));
}

bool broker::refuse_throttled(std::string_view rid, const proto::envelope& env) {
  // The agent's tool calls: requests from agent/<id>… to a tool address. Its turns, its LLM
  // calls and its tools' own traffic pass; the throttle slows its actions, it does not cut it off.
  if (env.kind != proto::kind::request || env.from.rfind("agent/", 0) != 0 || env.to.rfind("tool/", 0) != 0)
    return false;
  auto id = service::agent_of_address(env.from);
  if (!id) return false;
  auto it = _throttled.find(*id);
  if (it == _throttled.end()) return false;
  auto& t = it->second;
  auto now = _clock();
  if (now >= t.until) {
    _log.warning("The throttle of agent '{}' ended at {}", *id, to_rfc3339(t.until));
    _throttled.erase(it);
    save_state();
    return false;
  }
  if (t.window.admit(ms_of(now))) return false;
  auto wait_s = (t.window.wait_ms(ms_of(now)) + 999) / 1000;
  _log.info("Refused '{}' from '{}' to '{}': agent '{}' is throttled to {} tool calls a minute", env.type, env.from,
            env.to, *id, t.window.rate());
  reply_error(rid, env, proto::make(proto::error_code::throttled,
                                    "agent '{}' is throttled by {} to {} tool calls a minute until {} ({}); this call "
                                    "is over that rate (the next is let through in {} s); 'weftctl security release "
                                    "{}' lifts it sooner",
                                    *id, t.by, t.window.rate(), to_rfc3339(t.until), t.reason, wait_s, *id));
  event(proto::access_denied{env.from, env.to, env.type, "throttle:" + *id});
  return true;
}

const std::pair<const std::string, broker::quarantine_entry>* broker::quarantine_of(const proto::envelope& env) const {
  for (auto* a : {&env.from, &env.to}) {
    auto id = service::agent_of_address(*a);
    if (!id) continue;
    if (auto it = _quarantined.find(*id); it != _quarantined.end()) return &*it;
  }
  return nullptr;
}

void broker::on_message(std::string_view rid, std::string_view header, std::string_view payload) {
  auto decoded = wire::decode<proto::envelope>(header, wire::limits{64 * 1024, 4});
  if (!decoded) {
    _log.warning("Failed to decode an envelope from peer {}: {}, ignoring.", to_hex(rid), decoded.err().message);
    proto::envelope none;
    reply_error(rid, none, proto::make(proto::error_code::malformed, "envelope does not decode: {}",
                                       decoded.err().message));
    return;
  }
  auto& env = *decoded;
  auto it = _peers.find(std::string(rid));
  auto size = header.size() + payload.size();
  if (size > _settings.max_message_bytes) {
    env.from = it == _peers.end() ? std::string() : it->second.address;
    _log.warning("Refused a message of {} bytes from '{}': over max_message_bytes {}", size, env.from,
                 _settings.max_message_bytes);
    if (env.kind == proto::kind::request) {
      reply_error(rid, env, proto::make(proto::error_code::too_large, "message of {} bytes exceeds the limit of {}",
                                        size, _settings.max_message_bytes));
    } else if (env.kind == proto::kind::reply || env.kind == proto::kind::error) {
      // The one waiting for this answer is told, rather than left to time out.
      if (auto dest = _rid_of.find(env.to); dest != _rid_of.end() && it != _peers.end()) {
        proto::envelope waiting;
        waiting.id = env.id;
        waiting.from = env.to;
        reply_error(dest->second, waiting,
                    proto::make(proto::error_code::too_large, "the answer of '{}' ({} bytes) exceeds the bus's "
                                "limit of {} bytes", env.from, size, _settings.max_message_bytes));
      }
    }
    event(proto::limit_exceeded{env.from, "max_message_bytes", size, _settings.max_message_bytes});
    return;
  }
  if (env.type == proto::hello::type_name && env.to == "bus") {
    handle_hello(rid, env, payload);
    return;
  }
  if (it == _peers.end()) {
    // Unknown connection (typically: the bus restarted). Tell it to say Hello again.
    reply_error(rid, env, proto::make(proto::error_code::not_authenticated,
                                      "this connection has not said Hello to bus instance {}", _instance));
    return;
  }
  auto& sender = it->second;
  ++sender.sent;
  env.from = sender.address;  // never trust a self-declared sender

  if (env.kind == proto::kind::event && env.to.empty()) {
    auto h = wire::encode(env);
    _t.publish(env.type, h, payload);
    trace(env, h, payload);
    return;
  }
  if (env.to == "bus") {
    handle_own(rid, env, payload);
    return;
  }
  // A quarantined agent's addresses: every request and directed event from or to them is
  // refused, admin tools' too (weftctl inspects the monitor and the bus, not the agent);
  // replies and errors still pass, so nothing in flight waits out its deadline.
  if (!_quarantined.empty() && env.kind != proto::kind::reply && env.kind != proto::kind::error) {
    if (auto* q = quarantine_of(env)) {
      _log.info("Denied '{}' from '{}' to '{}': agent '{}' is quarantined", env.type, env.from, env.to, q->first);
      if (env.kind == proto::kind::request)
        reply_error(rid, env, proto::make(proto::error_code::denied,
                                          "agent '{}' is quarantined by {} ({}); 'weftctl security release {}' lifts it",
                                          q->first, q->second.by, q->second.reason, q->first));
      event(proto::access_denied{env.from, env.to, env.type, "quarantine:" + q->first});
      return;
    }
  }
  if (env.kind != proto::kind::reply && env.kind != proto::kind::error && !ipc::is_admin(env.from)) {
    auto d = _acl.check(env.from, env.to, env.type);
    if (!d.allowed) {
      _log.info("Denied '{}' from '{}' to '{}' by {}", env.type, env.from, env.to, d.rule);
      if (env.kind == proto::kind::request)
        reply_error(rid, env, proto::make(proto::error_code::denied, "'{}' may not send '{}' to '{}' ({})", env.from,
                                          env.type, env.to, d.rule));
      event(proto::access_denied{env.from, env.to, env.type, d.rule});
      return;
    }
  }
  // After the ACL: a call it refuses does not use up the agent's rate.
  if (!_throttled.empty() && refuse_throttled(rid, env)) return;
  auto dest = _rid_of.find(env.to);
  if (dest == _rid_of.end()) {
    // <process>/<name>: a request to one of a process's tools goes to the process.
    if (auto slash = env.to.rfind('/'); slash != std::string::npos) dest = _rid_of.find(env.to.substr(0, slash));
  }
  if (dest == _rid_of.end()) {
    if (env.kind == proto::kind::request)
      reply_error(rid, env, proto::make(proto::error_code::no_such_address, "no peer has the address '{}'", env.to));
    else
      _log.debug("Dropped a {} for '{}', which is gone", proto::to_string(env.kind), env.to);
    return;
  }
  auto dest_rid = dest->second;
  auto h = wire::encode(env);
  switch (_t.send(dest_rid, h, payload)) {
    case transport::send_result::ok:
      ++_forwarded;
      ++_peers[dest_rid].received;
      trace(env, h, payload);
      break;
    case transport::send_result::full:
      if (env.kind == proto::kind::request)
        reply_error(rid, env, proto::make(proto::error_code::queue_full, "the queue of '{}' is full ({} messages)",
                                          env.to, _settings.queue_depth));
      else
        // The requester is not reading its answers; it will time out and may retry.
        _log.warning("Dropped a {} from '{}' to '{}': its queue is full ({} messages)", proto::to_string(env.kind),
                     env.from, env.to, _settings.queue_depth);
      event(proto::limit_exceeded{env.from, "queue_depth", _settings.queue_depth, _settings.queue_depth});
      break;
    case transport::send_result::unreachable:
      drop_peer(dest_rid);
      if (env.kind == proto::kind::request)
        reply_error(rid, env, proto::make(proto::error_code::no_such_address, "the peer '{}' has gone", env.to));
      break;
  }
}

}  // namespace weft::bus
