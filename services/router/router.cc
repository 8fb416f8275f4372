#include "router.hh"

#include <algorithm>

#include <weft/ipc/address.hh>
#include <weft/ipc/builtin.hh>

#include "routes.hh"

namespace weft::router {

namespace bus = weft::proto::bus_v1;

namespace {

/// Errors after which trying again later can succeed (the peer is restarting or busy).
bool transient(const error& e) {
  return bus::is(e, bus::error_code::no_such_address) || bus::is(e, bus::error_code::queue_full) ||
         bus::is(e, bus::error_code::shutting_down) || bus::is(e, bus::error_code::timeout) ||
         bus::is(e, bus::error_code::not_authenticated);
}

chat::message text_reply(const chat::message& to, const std::string& agent, std::string text) {
  chat::message r;
  r.id = to.id + ":r";
  r.channel = to.channel;
  r.chat_id = to.chat_id;
  r.sender = agent;
  r.ts = utc_now();
  r.parts.push_back(chat::part{chat::part_kind::text, std::move(text), {}, {}, {}, {}});
  r.reply_to = to.id;
  return r;
}

}  // namespace

router::router(const service::config& cfg, ipc::bus_client& bus, std::unique_ptr<journal> j, timing t)
    : _cfg(cfg), _bus(bus), _journal(std::move(j)), _t(t), _log(log::get("router")) {}

result<std::unique_ptr<router>> router::open(const service::config& cfg, ipc::bus_client& bus,
                                             const std::string& journal_path, timing t) {
  std::vector<record> records;
  auto j = journal::open(journal_path, [&](record r) { records.push_back(std::move(r)); });
  if (!j) return j.take_error();
  auto r = std::make_unique<router>(cfg, bus, std::move(*j), t);
  std::size_t bad = 0;
  for (auto& rec : records) {
    switch (rec.k) {
      case record::kind::inbound: {
        auto m = wire::decode<chat::message>(rec.message);
        if (!m) {
          ++bad;
          continue;
        }
        entry e{rec.id, rec.agent, rec.session, rec.stream_to, std::move(*m), std::nullopt};
        r->_live.insert_or_assign(rec.id, std::move(e));
        break;
      }
      case record::kind::reply: {
        auto it = r->_live.find(rec.id);
        auto m = wire::decode<chat::message>(rec.message);
        if (it == r->_live.end() || !m) {
          ++bad;
          continue;
        }
        it->second.reply = std::move(*m);
        break;
      }
      case record::kind::delivered:
        r->_live.erase(rec.id);
        r->remember(rec.id);
        break;
      case record::kind::seen:
        r->remember(rec.id);
        break;
    }
  }
  if (bad) r->_log.warning("{}: {} records could not be used; see the warnings above", journal_path, bad);
  std::size_t turns = 0, replies = 0;
  for (auto& [id, e] : r->_live) {
    (e.reply ? replies : turns)++;
    r->_to_send.push_back(id);
  }
  if (turns + replies)
    r->_log.info("Resuming from the journal: {} turns to answer, {} replies to deliver", turns, replies);
  return r;
}

void router::remember(const std::string& id) {
  if (!_done.insert(id).second) return;
  _done_order.push_back(id);
  while (_done_order.size() > _t.remembered_ids) {
    _done.erase(_done_order.front());
    _done_order.pop_front();
  }
}

void router::on_message(const ipc::message& m) {
  using k = bus::kind;
  if (m.env.kind == k::request) {
    if (ipc::answer_builtin(_bus, m)) return;
    if (m.is(chat::inbound::type_name)) return handle_inbound(m);
    if (m.is(chat::explain::type_name)) return handle_explain(m);
    (void)_bus.reply_error(m, bus::make(bus::error_code::unknown_type, "the router does not handle '{}'", m.env.type));
    return;
  }
  if (m.env.kind == k::reply || m.env.kind == k::error) {
    auto it = _by_req.find(m.env.id);
    if (it == _by_req.end()) return;  // an answer to a request we resent since
    auto id = std::move(it->second);
    _by_req.erase(it);
    handle_answer(m, id);
  }
}

void router::handle_inbound(const ipc::message& m) {
  auto in = m.as<chat::inbound>();
  if (!in) {
    (void)_bus.reply_error(m, in.err());
    return;
  }
  auto& msg = in->message;
  if (msg.id.empty() || msg.channel.empty()) {
    (void)_bus.reply_error(m, bus::make(bus::error_code::bad_request, "an inbound message needs an id and a channel"));
    return;
  }
  if (auto it = _live.find(msg.id); it != _live.end()) {
    _accept.push_back({m, chat::accepted{msg.id, it->second.agent, true}});  // answered once stored
    return;
  }
  if (_done.count(msg.id)) {
    (void)_bus.reply(m, chat::accepted{msg.id, "", true});
    return;
  }
  auto meta = msg.meta;
  meta.try_emplace("chat_id", msg.chat_id);
  meta.try_emplace("user_id", msg.sender);
  auto d = route(_cfg, msg.channel, meta);
  if (!d) {
    _log.warning("Failed to route message '{}': {}", msg.id, d.err().message);
    (void)_bus.reply_error(m, d.err());
    return;
  }
  entry e;
  e.id = msg.id;
  e.agent = d->agent;
  e.session = msg.channel + ":" + msg.chat_id;
  // Channels that show answers as they are written ask for the pieces.
  if (in->stream) e.stream_to = m.env.from;
  _journal->append(record{record::kind::inbound, e.id, e.agent, e.session, e.stream_to, wire::encode(msg)});
  chat::explanation audit{msg.channel, d->agent, d->rule, d->reason, msg.id, e.session};
  (void)_bus.publish(audit);
  _log.debug("Routed '{}' to '{}' by {} ({})", msg.id, d->agent, d->rule, d->reason);
  _accept.push_back({m, chat::accepted{msg.id, d->agent, false}});
  e.inbound = std::move(msg);
  _to_send.push_back(e.id);
  _live.emplace(e.id, std::move(e));
}

void router::handle_explain(const ipc::message& m) {
  auto ex = m.as<chat::explain>();
  if (!ex) {
    (void)_bus.reply_error(m, ex.err());
    return;
  }
  auto d = route(_cfg, ex->channel, ex->meta);
  if (!d) {
    (void)_bus.reply_error(m, d.err());
    return;
  }
  (void)_bus.reply(m, chat::explanation{ex->channel, d->agent, d->rule, d->reason, "", ""});
}

void router::handle_answer(const ipc::message& m, const std::string& id) {
  auto it = _live.find(id);
  if (it == _live.end()) return;
  auto& e = it->second;
  e.req = 0;
  if (!e.reply) {  // the answer to a Turn
    if (m.is_error()) {
      auto err = m.to_error();
      if (transient(err)) return retry_later(e, err.message);
      _log.error("Agent '{}' failed turn '{}': {}", e.agent, id, err.message);
      store_reply(e, text_reply(e.inbound, e.agent,
                                fmt::format("Sorry, I could not answer that ({}: {}).", err.code, err.message)));
      return;
    }
    auto r = m.as<chat::turn_result>();
    if (!r) {
      _log.error("Agent '{}' answered turn '{}' with a bad TurnResult: {}", e.agent, id, r.err().message);
      return retry_later(e, "bad TurnResult");
    }
    auto reply = std::move(r->reply);
    reply.channel = e.inbound.channel;
    reply.chat_id = e.inbound.chat_id;
    if (reply.id.empty()) reply.id = id + ":r";
    if (!reply.reply_to) reply.reply_to = id;
    store_reply(e, std::move(reply));
    return;
  }
  // The answer to a Deliver.
  if (m.is_error()) {
    auto err = m.to_error();
    if (transient(err)) return retry_later(e, err.message);
    _log.error("Channel '{}' refused reply '{}' for good: {}", e.inbound.channel, id, err.message);
  }
  _journal->append(record{record::kind::delivered, id, {}, {}, {}, {}});
  _finished.push_back(id);
}

void router::store_reply(entry& e, chat::message reply) {
  _journal->append(record{record::kind::reply, e.id, {}, {}, {}, wire::encode(reply)});
  e.reply = std::move(reply);
  e.backoff = {};
  _to_send.push_back(e.id);
}

void router::retry_later(entry& e, const std::string& why) {
  e.backoff = std::clamp(e.backoff * 2, _t.retry_min, _t.retry_max);
  e.due = clock::now() + e.backoff;
  _log.debug("Will retry '{}' in {} ms: {}", e.id, e.backoff.count(), why);
}

void router::on_peer_joined(const std::string& address) {
  for (auto& [id, e] : _live) {
    auto target = e.reply ? ipc::addr::channel(e.inbound.channel) : ipc::addr::agent(e.agent);
    if (target != address) continue;
    e.due = clock::now();
    e.backoff = {};
    drop_request(e);  // whatever was in flight died with the previous process
  }
}

void router::drop_request(entry& e) {
  if (!e.req) return;
  _bus.forget(e.req);
  _by_req.erase(e.req);
  e.req = 0;
}

void router::send(entry& e) {
  drop_request(e);
  result<std::uint64_t> id = 0;
  if (!e.reply) {
    chat::turn t{e.id, e.session, e.inbound, e.stream_to};
    id = _bus.send_request(ipc::addr::agent(e.agent), t);
    e.due = clock::now() + _t.turn_resend;
  } else {
    // The inbound message's meta travels with the reply: what the channel needs to thread it.
    id = _bus.send_request(ipc::addr::channel(e.inbound.channel), chat::deliver{e.reply->id, *e.reply, e.inbound.meta});
    e.due = clock::now() + _t.deliver_resend;
  }
  if (!id) return retry_later(e, id.err().message);
  e.req = *id;
  _by_req.emplace(*id, e.id);
}

std::chrono::milliseconds router::flush() {
  if (_journal->dirty()) {
    if (auto s = _journal->commit(); !s) {
      // Nothing buffered is acknowledged: channels keep their messages and retry.
      _log.error("{}", s.err().message);
      for (auto& [m, a] : _accept)
        (void)_bus.reply_error(m, chat::make(chat::error_code::not_stored, "{}", s.err().message));
      _accept.clear();
      return std::chrono::milliseconds(100);
    }
  }
  for (auto& [m, a] : _accept) (void)_bus.reply(m, a);
  _accept.clear();
  for (auto& id : _finished) {
    if (auto it = _live.find(id); it != _live.end()) {
      if (it->second.req) _by_req.erase(it->second.req);
      _live.erase(it);
    }
    remember(id);
  }
  _finished.clear();
  for (auto& id : _to_send)
    if (auto it = _live.find(id); it != _live.end()) send(it->second);
  _to_send.clear();

  auto now = clock::now();
  auto next = now + std::chrono::seconds(1);
  for (auto& [id, e] : _live) {
    if (e.due <= now) send(e);
    next = std::min(next, e.due);
  }
  // Compact past the threshold, and only once the file doubled since the last compaction,
  // so a large live set does not rewrite the file on every flush.
  if (_journal->size() > std::max(_t.compact_bytes, 2 * _compacted_size)) compact();
  return std::max(std::chrono::milliseconds(0), std::chrono::duration_cast<std::chrono::milliseconds>(next - now));
}

void router::compact() {
  std::vector<record> keep;
  for (auto& id : _done_order) keep.push_back(record{record::kind::seen, id, {}, {}, {}, {}});
  for (auto& [id, e] : _live) {
    keep.push_back(record{record::kind::inbound, id, e.agent, e.session, e.stream_to, wire::encode(e.inbound)});
    if (e.reply) keep.push_back(record{record::kind::reply, id, {}, {}, {}, wire::encode(*e.reply)});
  }
  auto before = _journal->size();
  if (auto s = _journal->rewrite(keep); !s) {
    _log.error("{}", s.err().message);
    return;
  }
  _compacted_size = _journal->size();
  _log.info("Compacted the journal from {} to {} bytes ({} live entries)", before, _journal->size(), _live.size());
}

}  // namespace weft::router
