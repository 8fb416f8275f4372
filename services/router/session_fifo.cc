#include "session_fifo.hh"

#include <algorithm>

namespace weft::router {

void session_fifo::push(const std::string& session, const std::string& id, bool answered) {
  if (!_session_of.emplace(id, session).second) return;  // already queued
  _sessions[session].push_back(item{id, answered});
}

void session_fifo::answered(const std::string& id) {
  auto s = _session_of.find(id);
  if (s == _session_of.end()) return;
  for (auto& i : _sessions[s->second])
    if (i.id == id) i.answered = true;
}

void session_fifo::remove(const std::string& id) {
  auto s = _session_of.find(id);
  if (s == _session_of.end()) return;
  auto q = _sessions.find(s->second);
  std::erase_if(q->second, [&](const item& i) { return i.id == id; });
  if (q->second.empty()) _sessions.erase(q);
  _session_of.erase(s);
}

const std::string* session_fifo::next_turn(const std::string& session) const {
  auto q = _sessions.find(session);
  if (q == _sessions.end()) return nullptr;
  for (auto& i : q->second)
    if (!i.answered) return &i.id;
  return nullptr;
}

const std::string* session_fifo::next_delivery(const std::string& session) const {
  auto q = _sessions.find(session);
  if (q == _sessions.end() || !q->second.front().answered) return nullptr;
  return &q->second.front().id;
}

const std::string& session_fifo::session_of(const std::string& id) const {
  static const std::string none;
  auto s = _session_of.find(id);
  return s == _session_of.end() ? none : s->second;
}

}  // namespace weft::router
