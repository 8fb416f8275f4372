#include <weft/witness/writer.hh>

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <weft/base/log.hh>
#include <weft/base/time.hh>

#include "format.hh"
#include "key.hh"

#include <weft/base/fd.hh>
#include <weft/base/io.hh>

namespace weft::witness {

using namespace detail;
namespace fs = std::filesystem;

struct writer::state {
  fs::path dir;
  writer_options opt;
  secret_key key;
  detail::key_id kid{};
  unique_fd fd;  ///< the open segment; none after an error that could not be cut back
  fs::path file;
  segment_header header;
  digest header_hash{};
  std::uint64_t seg_records = 0;
  std::uint64_t seg_bytes = 0;
  std::uint64_t unsigned_records = 0;
  std::uint64_t last_seq = 0;
  digest head{};
  mono_clock::time_point last_mark = mono_clock::now();
  std::uint64_t appended = 0, checkpoints = 0, sealed = 0;

  std::uint32_t every() const { return header.checkpoint_records ? header.checkpoint_records : opt.checkpoint_records; }
};

namespace {

status write_all(int fd, std::string_view data, const fs::path& file) {
  std::size_t done = 0;
  while (done < data.size()) {
    auto n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      return fail(errc::io, "Failed to write witness segment '{}': {}", file.string(),
                  n < 0 ? std::strerror(errno) : "no progress");
    done += static_cast<std::size_t>(n);
  }
  return {};
}

status datasync(int fd, const fs::path& file) {
  if (::fdatasync(fd) != 0)
    return fail(errc::io, "Failed to sync witness segment '{}': {}", file.string(), std::strerror(errno));
  return {};
}

/// Starts segment `number`, continuing the chain from `from` at `first_seq`.
status create_segment(writer::state& s, std::uint64_t number, std::uint64_t first_seq, const digest& from) {
  segment_header h;
  h.checkpoint_records = s.opt.checkpoint_records;
  h.segment = number;
  h.first_seq = first_seq;
  h.continues_from = from;
  h.key = s.kid;
  h.created_ns = utc_now().time_since_epoch().count();
  auto bytes = encode_header(h);
  auto file = s.dir / segment_name(number);
  // Created whole under a temporary name, so no half-written header ever carries the name.
  if (auto st = write_file_atomic(file, bytes, 0640); !st) return st;
  unique_fd fd(::open(file.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
  if (!fd) return fail(errc::io, "Failed to open witness segment '{}': {}", file.string(), std::strerror(errno));
  s.fd = std::move(fd);
  s.file = file;
  s.header = h;
  s.header_hash = sha256(bytes);
  s.seg_records = 0;
  s.seg_bytes = bytes.size();
  s.unsigned_records = 0;
  s.head = from;
  return {};
}

}  // namespace

result<std::unique_ptr<writer>> writer::open(const fs::path& audit_dir, const fs::path& key_file,
                                             writer_options options) {
  if (sodium_init() < 0) return fail(errc::unavailable, "Failed to initialise libsodium");
  if (options.checkpoint_records == 0) options.checkpoint_records = 1;
  std::unique_ptr<writer> w(new writer());
  w->_s = std::make_unique<state>();
  auto& s = *w->_s;
  s.dir = audit_dir;
  s.opt = options;

  std::error_code ec;
  if (!fs::is_directory(audit_dir, ec)) {
    fs::create_directories(audit_dir, ec);
    if (ec) return fail(errc::io, "Failed to create audit directory '{}': {}", audit_dir.string(), ec.message());
    fs::permissions(audit_dir, fs::perms(0750), ec);
  }
  if (auto st = load_or_create_key(key_file, audit_dir / public_key_name, s.key, w->_recovery.key_generated); !st)
    return st.take_error();
  s.kid = id_of(s.key.pk);

  auto segs = list_segments(audit_dir);
  if (!segs) return segs.take_error();
  if (segs->empty()) {
    if (auto st = create_segment(s, 1, 1, digest{}); !st) return st.take_error();
    w->_recovery.segment_created = true;
    return w;
  }

  auto [number, file] = segs->back();
  auto name = file.string();
  auto bytes = read_file(file, std::uint64_t{1} << 34);
  if (!bytes) return fail(errc::io, "Failed to read witness segment '{}': {}", name, bytes.err().message);
  auto header = decode_header(*bytes);
  if (!header) return fail(errc::malformed, "Failed to open witness segment '{}': {}", name, header.err().message);
  if (header->segment != number)
    return fail(errc::malformed, "Failed to open witness segment '{}': its header names segment {}", name, header->segment);
  if (header->key != s.kid)
    return fail(errc::invalid_argument,
                "Failed to open witness segment '{}': it was signed with key id {}, but '{}' holds key id {}; "
                "restore that key or move the chain aside", name, to_hex(header->key), key_file.string(), to_hex(s.kid));
  s.header = *header;
  s.header_hash = sha256(std::string_view(*bytes).substr(0, header_bytes));
  s.head = header->continues_from;
  s.last_seq = header->first_seq - 1;
  s.file = file;

  auto scan = scan_frames(*bytes);
  std::uint64_t good_end = header_bytes;
  bool sealed = false;
  auto damaged = [&](std::uint64_t index, std::string_view why) {
    return fail(errc::malformed,
                "Failed to open witness segment '{}': record {} is damaged ({}) and signed or followed by more "
                "records; run 'weftctl audit verify' to locate it", name, index, why);
  };
  for (std::size_t i = 0; i < scan.frames.size(); ++i) {
    auto& f = scan.frames[i];
    bool last_frame = i + 1 == scan.frames.size() && (!scan.bad_offset || scan.tail_torn);
    if (sealed) return damaged(s.seg_records + 1, "data after the seal");
    if (f.type == frame_record) {
      std::string why;
      auto v = parse_record_frame(f.body);
      if (!v) {
        why = v.err().message;
      } else if (auto r = decode_record(v->encoded); !r) {
        why = r.err().message;
      } else if (chain_hash(v->prev, v->encoded) != v->hash) {
        why = "hash mismatch";
      } else if (v->prev != s.head || r->seq != s.last_seq + 1) {
        why = "does not link to the record before it";
      } else {
        s.head = v->hash;
        s.last_seq = r->seq;
        ++s.seg_records;
        ++s.unsigned_records;
        good_end = f.offset + f.size;
        continue;
      }
      // A damaged last record after the last signature is what a crash mid-write leaves.
      if (!last_frame) return damaged(s.seg_records + 1, why);
      w->_recovery.torn_records = 1;
      break;
    }
    auto m = parse_mark_frame(f.type, f.body);
    if (!m) return damaged(s.seg_records, m.err().message);
    auto msg = mark_message(*m, s.header_hash);
    if (crypto_sign_verify_detached(m->sig.data(), reinterpret_cast<const unsigned char*>(msg.data()), msg.size(),
                                    s.key.pk.data()) != 0 ||
        m->count != s.seg_records || m->last_hash != s.head)
      return damaged(s.seg_records, "a signature does not match the records");
    s.unsigned_records = 0;
    sealed = m->seal;
    good_end = f.offset + f.size;
  }
  if (scan.bad_offset && scan.tail_torn &&
      holds_signed_mark(std::string_view(*bytes).substr(*scan.bad_offset), s.header_hash, s.key.pk))
    return fail(errc::malformed,
                "Failed to open witness segment '{}': {} at byte {}, and signed records follow (damage, not a torn "
                "write); run 'weftctl audit verify'", name, scan.bad_reason, *scan.bad_offset);
  if (scan.bad_offset && !scan.tail_torn)
    return fail(errc::malformed, "Failed to open witness segment '{}': {} at byte {}; run 'weftctl audit verify'",
                name, scan.bad_reason, *scan.bad_offset);
  if (good_end < bytes->size()) {
    w->_recovery.torn_bytes = bytes->size() - good_end;
    if (::truncate(file.c_str(), static_cast<off_t>(good_end)) != 0)
      return fail(errc::io, "Failed to cut the torn tail of witness segment '{}': {}", name, std::strerror(errno));
    log::get("witness").warning("witness segment '{}': cut {} bytes of a torn tail ({} damaged records) after seq {}",
                                name, w->_recovery.torn_bytes, w->_recovery.torn_records, s.last_seq);
  }
  s.seg_bytes = good_end;

  if (sealed) {
    if (auto st = create_segment(s, number + 1, s.last_seq + 1, s.head); !st) return st.take_error();
    w->_recovery.segment_created = true;
    return w;
  }
  s.fd = unique_fd(::open(file.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
  if (!s.fd) return fail(errc::io, "Failed to open witness segment '{}': {}", name, std::strerror(errno));
  if (w->_recovery.torn_bytes > 0)
    if (auto st = datasync(s.fd.get(), file); !st) return st.take_error();
  if (s.unsigned_records > 0) {
    // Sign what survived, so a crash never leaves more than one unsigned tail.
    if (auto st = w->checkpoint_locked(false); !st) return st.take_error();
    w->_recovery.checkpoint_written = true;
  }
  return w;
}

writer::~writer() {
  if (!_s || !_s->fd) return;
  std::lock_guard lock(_mu);
  if (_s->unsigned_records > 0) {
    if (auto st = checkpoint_locked(false); !st) log::get("witness").warning("{}", st.err().message);
  }
}

status writer::checkpoint_locked(bool seal) {
  auto& s = *_s;
  mark m;
  m.seal = seal;
  m.count = s.seg_records;
  m.last_seq = s.seg_records ? s.last_seq : 0;
  m.last_hash = s.head;
  m.time_ns = utc_now().time_since_epoch().count();
  auto msg = mark_message(m, s.header_hash);
  crypto_sign_detached(m.sig.data(), nullptr, reinterpret_cast<const unsigned char*>(msg.data()), msg.size(),
                       s.key.bytes.data());
  auto frame = mark_frame(m);
  if (auto st = write_all(s.fd.get(), frame, s.file); !st) {
    if (::ftruncate(s.fd.get(), static_cast<off_t>(s.seg_bytes)) != 0) { /* the next open cuts it */ }
    return st;
  }
  s.seg_bytes += frame.size();
  if (auto st = datasync(s.fd.get(), s.file); !st) return st;
  s.unsigned_records = 0;
  s.last_mark = mono_clock::now();
  ++s.checkpoints;
  return {};
}

status writer::roll_over_locked() {
  auto& s = *_s;
  // Sealed (and synced) before the next segment exists: a segment that has a successor is
  // always sealed, so a missing seal there is tampering, not a crash.
  if (auto st = checkpoint_locked(true); !st) return st;
  ++s.sealed;
  return create_segment(s, s.header.segment + 1, s.last_seq + 1, s.head);
}

result<std::uint64_t> writer::append(const entry& e) {
  std::lock_guard lock(_mu);
  auto& s = *_s;
  if (!s.fd) return fail(errc::unavailable, "Failed to append to the witness chain: the writer is closed after an error");
  record r{s.last_seq + 1, e.time == utc_time{} ? utc_now() : e.time, e.actor, e.kind, e.subject, e.detail};
  auto encoded = encode_record(r);
  if (encoded.size() > s.opt.max_record_bytes)
    return fail(errc::invalid_argument, "Failed to append to the witness chain: a record of {} bytes exceeds the limit of {}",
                encoded.size(), s.opt.max_record_bytes);
  auto hash = chain_hash(s.head, encoded);
  auto frame = record_frame(s.head, hash, encoded);
  if (auto st = write_all(s.fd.get(), frame, s.file); !st) {
    // Cut back a partial frame so the chain stays whole; if even that fails, stop writing.
    if (::ftruncate(s.fd.get(), static_cast<off_t>(s.seg_bytes)) != 0) {
      s.fd.reset();
    }
    return st.take_error();
  }
  s.seg_bytes += frame.size();
  s.head = hash;
  s.last_seq = r.seq;
  ++s.seg_records;
  ++s.unsigned_records;
  ++s.appended;
  if (s.opt.sync_every_append)
    if (auto st = datasync(s.fd.get(), s.file); !st) return st.take_error();
  auto interval = s.opt.checkpoint_interval;
  if (s.unsigned_records >= s.every() ||
      (interval.count() > 0 && mono_clock::now() - s.last_mark >= interval))
    if (auto st = checkpoint_locked(false); !st) return st.take_error();
  if (s.seg_records >= s.opt.segment_records || s.seg_bytes >= s.opt.segment_bytes)
    if (auto st = roll_over_locked(); !st) return st.take_error();
  return r.seq;
}

status writer::sync() {
  std::lock_guard lock(_mu);
  auto& s = *_s;
  if (!s.fd) return fail(errc::unavailable, "Failed to sync the witness chain: the writer is closed after an error");
  auto interval = s.opt.checkpoint_interval;
  if (s.unsigned_records > 0 && (interval.count() == 0 || mono_clock::now() - s.last_mark >= interval))
    return checkpoint_locked(false);
  return datasync(s.fd.get(), s.file);
}

status writer::checkpoint() {
  std::lock_guard lock(_mu);
  auto& s = *_s;
  if (!s.fd) return fail(errc::unavailable, "Failed to sign the witness chain: the writer is closed after an error");
  if (s.unsigned_records > 0) return checkpoint_locked(false);
  return datasync(s.fd.get(), s.file);
}

writer_stats writer::stats() const {
  std::lock_guard lock(_mu);
  auto& s = *_s;
  writer_stats st;
  st.last_seq = s.last_seq;
  st.segment = s.header.segment;
  st.segment_records = s.seg_records;
  st.segment_bytes = s.seg_bytes;
  st.unsigned_records = s.unsigned_records;
  st.appended = s.appended;
  st.checkpoints = s.checkpoints;
  st.segments_sealed = s.sealed;
  st.key_id = to_hex(s.kid);
  st.head = to_hex(s.head);
  return st;
}

}  // namespace weft::witness
