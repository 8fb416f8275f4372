#include "broker.hh"

#include <sodium.h>

#include <weft/base/io.hh>
#include <weft/ipc/builtin.hh>

namespace weft::bus {

namespace {


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
  return out;
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
    _quarantined[q->agent] = {q->reason, env.from, utc_now()};
    _log.warning("Quarantined agent '{}' (asked by '{}'): {}", q->agent, env.from, q->reason);
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
  if (_quarantined.erase(r->agent)) {
    _log.warning("Released agent '{}' from quarantine (asked by '{}')", r->agent, env.from);
    event(proto::agent_released{r->agent, env.from});
  }
  reply(rid, env, proto::quarantine_list::type_name, wire::encode(quarantine_list()));
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
