#pragma once
/// Which replies a channel already sent upstream, so a repeated Deliver (the router resends
/// until it hears Delivered) is answered without sending the reply twice — across restarts.
///
/// One file of lines, appended and synced right after upstream confirms, before the channel
/// answers the router:
///   D<TAB>outbox_id<TAB>upstream_id   delivered
///   P<TAB>outbox_id<TAB>n             the first n upstream calls of this reply succeeded
/// Bounded: only the newest `max_entries` delivered ids are kept; the file is rewritten
/// (write_file_atomic) when it holds more than twice that many lines. A torn last line (crash
/// mid-write) is ignored on load.

#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <weft/base/fd.hh>
#include <weft/base/result.hh>

namespace weft::chan {

class delivered_log {
 public:
  /// Opens (creating it and its directory) and loads the file at `path`.
  static result<std::unique_ptr<delivered_log>> open(std::string path, std::size_t max_entries = 10000);
  ~delivered_log();
  delivered_log(const delivered_log&) = delete;
  delivered_log& operator=(const delivered_log&) = delete;

  /// The upstream id when `outbox_id` was delivered; nullopt otherwise.
  std::optional<std::string> delivered(std::string_view outbox_id) const;
  /// Upstream calls of `outbox_id` already done (0 when none recorded).
  std::size_t progress(std::string_view outbox_id) const;

  status mark_progress(std::string_view outbox_id, std::size_t n);
  status mark_delivered(std::string_view outbox_id, std::string_view upstream_id);

  std::size_t size() const { return _delivered.size(); }
  const std::string& path() const { return _path; }

 private:
  delivered_log(std::string path, std::size_t max_entries) : _path(std::move(path)), _max(max_entries) {}
  status append(std::string line);
  status compact();
  void remember(std::string id, std::string upstream);

  std::string _path;
  std::size_t _max;
  unique_fd _fd;
  std::size_t _lines = 0;
  std::map<std::string, std::string, std::less<>> _delivered;  // outbox_id -> upstream_id
  std::deque<std::string> _order;                              // oldest first
  std::map<std::string, std::size_t, std::less<>> _progress;    // not yet delivered
};

/// Escapes '%', TAB, CR and LF as %XX so any id fits on one line; unescape reverses it.
std::string escape_field(std::string_view s);
std::string unescape_field(std::string_view s);

}  // namespace weft::chan
