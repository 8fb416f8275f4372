#pragma once
/// The router's durable store: one append-only file of JSON lines. Each accepted inbound
/// message, each reply and each confirmed delivery is a record; records written together
/// share one fdatasync (group commit). On open the file is replayed; a torn last line
/// (power loss mid-write) is cut off, a corrupt line elsewhere is skipped with a warning.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <weft/base/fd.hh>
#include <weft/base/log.hh>
#include <weft/base/result.hh>

namespace weft::router {

struct record {
  enum class kind : std::uint8_t { inbound, reply, delivered, seen };
  kind k = kind::inbound;
  std::string id;       ///< message id (the turn id)
  std::string agent;    ///< inbound: chosen agent
  std::string session;  ///< inbound: session key
  std::string stream_to;  ///< inbound: where the agent streams pieces
  std::string message;  ///< inbound/reply: msgpack of io.weft.Chat.v1.Message
};

class journal {
 public:
  /// Opens (creating) `path` and calls `replay` for every intact record in order.
  static result<std::unique_ptr<journal>> open(const std::string& path, const std::function<void(record)>& replay);
  ~journal();
  journal(const journal&) = delete;
  journal& operator=(const journal&) = delete;

  /// Buffers a record for the next commit().
  void append(const record& r);
  bool dirty() const { return !_buffer.empty(); }
  /// Writes what is buffered and syncs it to disk. On failure the file is cut back to what
  /// was committed before, and the buffer is kept for the next try.
  status commit();

  std::uint64_t size() const { return _size; }
  /// Replaces the file by `live` records (weft::write_file_atomic): compaction.
  status rewrite(const std::vector<record>& live);

  static std::string encode(const record& r);
  static result<record> decode(std::string_view line);

 private:
  journal(std::string path, unique_fd fd, std::uint64_t size);
  std::string _path;
  unique_fd _fd;
  std::uint64_t _size = 0;
  std::string _buffer;
  log::logger& _log;
};

}  // namespace weft::router
