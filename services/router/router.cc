#include "router.hh"

#include <weft/channel/control.hh>

#include <algorithm>

#include <weft/ipc/address.hh>

#include "routes.hh"

namespace weft::router {

namespace bus = weft::proto::bus_v1;
using namespace std::chrono_literals;

namespace {

/// Errors after which trying again later can succeed: the peer is restarting or busy, or
/// the request did not leave this process (the bus connection was away).
bool transient(const error& e) {
  return e.domain == errc::domain || bus::is(e, bus::error_code::no_such_address) ||
         bus::is(e, bus::error_code::queue_full) || bus::is(e, bus::error_code::shutting_down) ||
         bus::is(e, bus::error_code::timeout) || bus::is(e, bus::error_code::not_authenticated);
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

router::router(service::runtime& rt, const service::config& cfg, std::unique_ptr<journal> j, timing t)
    : _rt(rt), _cfg(cfg), _journal(std::move(j)), _t(t), _log(log::get("router")) {
  _rt.on<chat::inbound>([this](chat::inbound in, service::responder r) { handle_inbound(std::move(in), std::move(r)); });
  _rt.on<chat::explain>([this](const chat::explain& ex, const ipc::message&) { return handle_explain(ex); });
  // The runtime already sent a restarted peer what it held; what waits out a backoff for
  // that peer goes now.
  _rt.on_event<bus::peer_changed>([this](const bus::peer_changed& pc, const ipc::message&) {
    if (pc.joined) on_peer_changed(pc.address);
  });
  // Everything one pass of the loop handled shares one commit (group commit).
  _hook = _rt.loop().before_wait([this] { return flush(); });
}

router::~router() {
  _rt.loop().remove_before_wait(_hook);
  if (_commit_retry) _rt.loop().cancel(_commit_retry);
  for (auto& [id, e] : _live) {
    if (e.call) _rt.forget(e.call);
    if (e.retry) _rt.loop().cancel(e.retry);
  }
}

result<std::unique_ptr<router>> router::open(service::runtime& rt, const service::config& cfg,
                                             const std::string& journal_path, timing t) {
  std::vector<record> records;
  auto j = journal::open(journal_path, [&](record r) { records.push_back(std::move(r)); });
  if (!j) return j.take_error();
  auto r = std::make_unique<router>(rt, cfg, std::move(*j), t);
  // The journal's order of inbound records is the order they were accepted in.
  std::vector<std::string> order;
  std::unordered_map<std::string, entry> live;
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
        if (!live.count(rec.id)) order.push_back(rec.id);
        live.insert_or_assign(rec.id, std::move(e));
        break;
      }
      case record::kind::reply: {
        auto it = live.find(rec.id);
        auto m = wire::decode<chat::message>(rec.message);
        if (it == live.end() || !m) {
          ++bad;
          continue;
        }
        it->second.reply = std::move(*m);
        break;
      }
      case record::kind::delivered:
        live.erase(rec.id);
        r->remember(rec.id);
        break;
      case record::kind::seen:
        r->remember(rec.id);
        break;
    }
  }
  if (bad) r->_log.warning("{}: {} records could not be used; see the warnings above", journal_path, bad);
  std::size_t turns = 0, replies = 0;
  for (auto& id : order) {
    auto it = live.find(id);
    if (it == live.end()) continue;
    (it->second.reply ? replies : turns)++;
    r->add(std::move(it->second));
    live.erase(it);
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

void router::add(entry e) {
  e.seq = _next_seq++;
  // A control word (/stop, /allow, /deny) must reach the agent while the session's turn
  // runs, not after it.
  auto& parts = e.inbound.parts;
  e.control = parts.size() == 1 && parts[0].kind == chat::part_kind::text &&
              channel::control_word(parts[0].text.value_or("")) != channel::control::none;
  auto q = queue_of(e);
  _fifo.push(q, e.id, e.reply.has_value());
  _kick.insert(std::move(q));  // sent after the next commit
  auto id = e.id;
  _live.emplace(std::move(id), std::move(e));
}

void router::handle_inbound(chat::inbound in, service::responder r) {
  auto& msg = in.message;
  if (msg.id.empty() || msg.channel.empty())
    return r.fail(bus::make(bus::error_code::bad_request, "an inbound message needs an id and a channel"));
  if (auto it = _live.find(msg.id); it != _live.end()) {
    _accept.push_back({std::move(r), chat::accepted{msg.id, it->second.agent, true}});  // answered once stored
    return;
  }
  if (_done.count(msg.id)) return r.reply(chat::accepted{msg.id, "", true});
  auto meta = msg.meta;
  meta.try_emplace("chat_id", msg.chat_id);
  meta.try_emplace("user_id", msg.sender);
  auto d = route(_cfg, msg.channel, meta);
  if (!d) {
    _log.warning("Failed to route message '{}': {}", msg.id, d.err().message);
    return r.fail(d.err());
  }
  entry e;
  e.id = msg.id;
  e.agent = d->agent;
  e.session = msg.channel + ":" + msg.chat_id;
  // Channels that show answers as they are written ask for the pieces.
  if (in.stream) e.stream_to = r.from();
  _journal->append(record{record::kind::inbound, e.id, e.agent, e.session, e.stream_to, wire::encode(msg)});
  chat::explanation audit{msg.channel, d->agent, d->rule, d->reason, msg.id, e.session};
  (void)_rt.bus().publish(audit);
  _log.debug("Routed '{}' to '{}' by {} ({})", msg.id, d->agent, d->rule, d->reason);
  _accept.push_back({std::move(r), chat::accepted{msg.id, d->agent, false}});
  e.inbound = std::move(msg);
  add(std::move(e));
}

result<chat::explanation> router::handle_explain(const chat::explain& ex) {
  auto d = route(_cfg, ex.channel, ex.meta);
  if (!d) return d.take_error();
  return chat::explanation{ex.channel, d->agent, d->rule, d->reason, "", ""};
}

void router::pump(const std::string& queue) {
  auto idle = [](const entry& e) { return !e.call && !e.retry; };
  if (auto id = _fifo.next_delivery(queue))
    if (auto it = _live.find(*id); it != _live.end() && it->second.reply && idle(it->second)) send(it->second);
  // A reply stored but not yet committed is not a turn to run again.
  if (auto id = _fifo.next_turn(queue))
    if (auto it = _live.find(*id); it != _live.end() && !it->second.reply && idle(it->second)) send(it->second);
}

void router::send(entry& e) {
  auto done = [this, id = e.id, sent = clock::now()](result<ipc::message> r) { on_answer(id, sent, std::move(r)); };
  service::call_options o;
  o.retry = false;  // the router's own backoff and resends, from the journal, keep a turn going
  if (!e.reply) {
    o.timeout = _t.turn_resend;
    e.call = _rt.call(ipc::addr::agent(e.agent), chat::turn{e.id, e.session, e.inbound, e.stream_to}, o, std::move(done));
  } else {
    o.timeout = _t.deliver_resend;
    // The inbound message's meta travels with the reply: what the channel needs to thread it.
    e.call = _rt.call(ipc::addr::channel(e.inbound.channel), chat::deliver{e.reply->id, *e.reply, e.inbound.meta}, o,
                      std::move(done));
  }
}

void router::on_answer(const std::string& id, clock::time_point sent, result<ipc::message> r) {
  auto it = _live.find(id);
  if (it == _live.end()) return;
  auto& e = it->second;
  e.call = 0;
  if (!r) {
    auto& err = r.err();
    // Our own deadline: the request or its answer was lost; send it again at once (the agent
    // answers a Turn it holds when it finishes, the channel a Deliver it sent from its state).
    if (bus::is(err, bus::error_code::timeout) && clock::now() >= sent + (e.reply ? _t.deliver_resend : _t.turn_resend))
      return send(e);
    if (transient(err)) return retry_later(e, err.message);
    if (!e.reply) {
      _log.error("Agent '{}' failed turn '{}': {}", e.agent, id, err.message);
      return store_reply(e, text_reply(e.inbound, e.agent,
                                       fmt::format("Sorry, I could not answer that ({}: {}).", err.code, err.message)));
    }
    _log.error("Channel '{}' refused reply '{}' for good: {}", e.inbound.channel, id, err.message);
  } else if (!e.reply) {  // the answer to a Turn
    auto tr = r->as<chat::turn_result>();
    if (!tr) {
      _log.error("Agent '{}' answered turn '{}' with a bad TurnResult: {}", e.agent, id, tr.err().message);
      return retry_later(e, "bad TurnResult");
    }
    auto reply = std::move(tr->reply);
    reply.channel = e.inbound.channel;
    reply.chat_id = e.inbound.chat_id;
    if (reply.id.empty()) reply.id = id + ":r";
    if (!reply.reply_to) reply.reply_to = id;
    return store_reply(e, std::move(reply));
  }
  // Delivered (or refused for good).
  _journal->append(record{record::kind::delivered, id, {}, {}, {}, {}});
  _finished.push_back(id);
}

void router::store_reply(entry& e, chat::message reply) {
  _journal->append(record{record::kind::reply, e.id, {}, {}, {}, wire::encode(reply)});
  e.reply = std::move(reply);
  e.backoff = {};
  _answered.push_back(e.id);  // delivered, and the session's next turn sent, once committed
}

void router::retry_later(entry& e, const std::string& why) {
  e.backoff = std::clamp(e.backoff * 2, _t.retry_min, _t.retry_max);
  _log.debug("Will retry '{}' in {} ms: {}", e.id, e.backoff.count(), why);
  e.retry = _rt.loop().after(e.backoff, [this, id = e.id] {
    auto it = _live.find(id);
    if (it == _live.end()) return;
    it->second.retry = 0;
    pump(queue_of(it->second));
  });
}

void router::on_peer_changed(const std::string& address) {
  // Only the message a session may send now waits out a backoff, so this keeps each
  // session's order.
  for (auto& [id, e] : _live) {
    if (!e.retry) continue;
    auto target = e.reply ? ipc::addr::channel(e.inbound.channel) : ipc::addr::agent(e.agent);
    if (target != address) continue;
    _rt.loop().cancel(e.retry);
    e.retry = 0;
    e.backoff = {};
    send(e);
  }
}

bool router::flush() {
  if (_commit_retry) return false;
  if (!_journal->dirty() && _accept.empty() && _answered.empty() && _finished.empty() && _kick.empty()) return false;
  if (_journal->dirty()) {
    if (auto s = _journal->commit(); !s) {
      // Nothing buffered is acknowledged: channels keep their messages and retry.
      _log.error("{}", s.err().message);
      for (auto& [r, a] : _accept) r.fail(chat::make(chat::error_code::not_stored, "{}", s.err().message));
      _accept.clear();
      _commit_retry = _rt.loop().after(100ms, [this] { _commit_retry = 0; });
      return true;
    }
  }
  for (auto& [r, a] : _accept) r.reply(a);
  _accept.clear();
  for (auto& id : _answered) {
    _fifo.answered(id);
    _kick.insert(_fifo.session_of(id));
  }
  _answered.clear();
  for (auto& id : _finished) {
    if (auto it = _live.find(id); it != _live.end()) {
      _kick.insert(queue_of(it->second));
      if (it->second.call) _rt.forget(it->second.call);
      if (it->second.retry) _rt.loop().cancel(it->second.retry);
      _live.erase(it);
    }
    _fifo.remove(id);
    remember(id);
  }
  _finished.clear();
  auto kick = std::move(_kick);
  _kick.clear();
  for (auto& q : kick) pump(q);
  // Compact past the threshold, and only once the file doubled since the last compaction,
  // so a large live set does not rewrite the file on every flush.
  if (_journal->size() > std::max(_t.compact_bytes, 2 * _compacted_size)) compact();
  return true;
}

void router::compact() {
  std::vector<const entry*> in_order;
  for (auto& [id, e] : _live) in_order.push_back(&e);
  // Acceptance order survives compaction: a restart replays the sessions in it.
  std::sort(in_order.begin(), in_order.end(), [](const entry* a, const entry* b) { return a->seq < b->seq; });
  std::vector<record> keep;
  for (auto& id : _done_order) keep.push_back(record{record::kind::seen, id, {}, {}, {}, {}});
  for (auto* e : in_order) {
    keep.push_back(record{record::kind::inbound, e->id, e->agent, e->session, e->stream_to, wire::encode(e->inbound)});
    if (e->reply) keep.push_back(record{record::kind::reply, e->id, {}, {}, {}, wire::encode(*e->reply)});
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
