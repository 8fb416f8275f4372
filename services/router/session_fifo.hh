#pragma once
/// The order of a conversation, as the router keeps it: the turns of one session go to the
/// agent one at a time, in the order the router accepted their messages, and their replies
/// go to the channel in that order too. Without it a burst of messages in one chat came back
/// in whatever order resends happened to take after a crash (issue 28: 0, 1, 2, 11, 9, 7 …).
///
/// No sockets: the router tells it what was accepted, answered and delivered, and asks which
/// message of a session may go out next. Sessions are independent of each other.

#include <cstddef>
#include <deque>
#include <string>
#include <unordered_map>

namespace weft::router {

class session_fifo {
 public:
  /// Appends message `id` to `session`, in acceptance order; `answered` when its reply is
  /// already stored (a journal replayed after a restart).
  void push(const std::string& session, const std::string& id, bool answered);
  /// The reply of `id` is stored: the session's next message may go to the agent.
  void answered(const std::string& id);
  /// `id` was delivered (or given up on): it leaves its session.
  void remove(const std::string& id);

  /// The message of `session` whose turn may run now: the oldest one without a reply. Its
  /// elders all have replies, so the agent sees the session in acceptance order. Null: none.
  const std::string* next_turn(const std::string& session) const;
  /// The message of `session` whose reply may be delivered now: the oldest one, once it has
  /// a reply (a younger reply waits until its elders are delivered). Null: none.
  const std::string* next_delivery(const std::string& session) const;

  /// The session `id` belongs to (empty when unknown).
  const std::string& session_of(const std::string& id) const;
  /// Messages not yet delivered, in every session.
  std::size_t size() const { return _session_of.size(); }

 private:
  struct item {
    std::string id;
    bool answered = false;
  };
  std::unordered_map<std::string, std::deque<item>> _sessions;
  std::unordered_map<std::string, std::string> _session_of;  // message id -> session
};

}  // namespace weft::router
