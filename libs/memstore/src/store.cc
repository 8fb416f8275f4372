#include <weft/memstore/store.hh>

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <unordered_map>

#include <weft/base/io.hh>

#include "file.hh"
#include "record.hh"

namespace weft::memstore {
namespace {

using detail::record_type;

std::filesystem::path segment_path(const std::filesystem::path& dir, std::uint32_t n) {
  return dir / fmt::format("seg-{:08}.rvf", n);
}

// "seg-00000042.rvf" → 42; 0 for anything else.
std::uint32_t segment_number(const std::string& name) {
  if (name.size() != 16 || !name.starts_with("seg-") || !name.ends_with(".rvf")) return 0;
  std::uint32_t n = 0;
  for (char c : name.substr(4, 8)) {
    if (c < '0' || c > '9') return 0;
    n = n * 10 + static_cast<std::uint32_t>(c - '0');
  }
  return n;
}

const std::string& record_id(const detail::record& r) { return r.type == record_type::entry ? r.e.id : r.id; }

}  // namespace

store::~store() = default;

result<std::unique_ptr<store>> store::open(const std::filesystem::path& dir, std::string ns,
                                           store_options opt) {
  auto failed = [&](std::string_view code, const std::string& why) {
    return fail(code, "Failed to open memory store '{}': {}", dir.string(), why);
  };
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return failed(errc::io, ec.message());
  std::unique_ptr<store> s(new store);
  s->_dir = dir, s->_ns = std::move(ns), s->_opt = opt;

  s->_lock_fd = unique_fd(::open((dir / "lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!s->_lock_fd) return failed(errc::io, detail::sys_error(errno));
  if (::flock(s->_lock_fd.get(), LOCK_EX | LOCK_NB) < 0)
    return failed(errno == EWOULDBLOCK ? errc::locked : errc::io,
                  errno == EWOULDBLOCK ? "another process has it open" : detail::sys_error(errno));

  // Leftovers of a crash while creating or compacting a segment were never renamed into
  // place, so they hold nothing acknowledged.
  std::vector<std::uint32_t> numbers;
  bool removed = false;
  for (auto& f : std::filesystem::directory_iterator(dir, ec)) {
    auto name = f.path().filename().string();
    if (name.ends_with(".tmp") || name.ends_with(".compact")) {
      std::filesystem::remove(f.path(), ec);
      removed = true;
    } else if (auto n = segment_number(name)) {
      numbers.push_back(n);
    }
  }
  if (ec) return failed(errc::io, ec.message());
  if (removed)
    if (auto r = weft::sync_dir(dir); !r) return r.take_error();
  std::sort(numbers.begin(), numbers.end());

  for (std::size_t i = 0; i < numbers.size(); ++i) {
    auto seg = rvf::segment::open(segment_path(dir, numbers[i]),
                                  {.max_record_bytes = opt.max_record_bytes, .writable = i + 1 == numbers.size()});
    if (!seg) return seg.take_error();
    if (seg->head().ns != s->_ns)
      return failed(errc::invalid, fmt::format("segment '{}' belongs to namespace '{}', not '{}'",
                                               seg->path().filename().string(), seg->head().ns, s->_ns));
    s->_corrupt += seg->corrupt_records();
    s->_segments.push_back(std::move(*seg));
    s->_numbers.push_back(numbers[i]);
  }
  if (s->_segments.empty() || s->_segments.back().sealed())
    if (auto r = s->next_segment(); !r) return r.take_error();
  return s;
}

status store::next_segment() {
  auto n = _numbers.empty() ? 1 : _numbers.back() + 1;
  auto seg = rvf::segment::create(segment_path(_dir, n), {.ns = _ns, .created = utc_now()},
                                  _opt.max_record_bytes);
  if (!seg) return seg.take_error();
  _segments.push_back(std::move(*seg));
  _numbers.push_back(n);
  return {};
}

result<void> store::replay(visitor& v, location vectors_from) {
  _corrupt = 0;
  for (std::size_t i = 0; i < _segments.size(); ++i) {
    auto& seg = _segments[i];
    auto on_corrupt = [&](const error& e) {
      ++_corrupt;
      v.on_corrupt(e);
    };
    auto r = seg.for_each(
        [&](std::uint64_t off, std::string_view payload) -> status {
          location loc{_numbers[i], off};
          auto rec = detail::decode_record(payload, /*with_vector=*/loc >= vectors_from);
          if (!rec) {
            on_corrupt(fail(errc::corrupt, "Failed to read record of segment '{}' at byte {}: {}",
                            seg.path().string(), off, rec.err().message));
            return {};
          }
          switch (rec->type) {
            case record_type::entry: v.on_entry(rec->e, loc); break;
            case record_type::vector:
              if (loc >= vectors_from) v.on_vector(rec->id, rec->v, rec->model, loc);
              break;
            case record_type::tombstone: v.on_tombstone(rec->id); break;
            case record_type::wipe: v.on_wipe(); break;
          }
          return {};
        },
        on_corrupt);
    if (!r) return r;
  }
  return {};
}

result<location> store::write(std::string_view payload) {
  if (_broken) return *_broken;
  if (payload.size() > _opt.max_record_bytes)
    return fail(errc::too_large, "Failed to append to memory store '{}': record of {} bytes is over the limit of {}",
                _dir.string(), payload.size(), _opt.max_record_bytes);
  auto& active = _segments.back();
  if (!active.sealed() && active.records() > 0 &&
      active.end() + rvf::frame_bytes + payload.size() > _opt.segment_bytes) {
    // Sealing syncs: everything in the old segment is durable before the new one exists.
    if (auto r = active.seal(); !r) {
      // The seal's sync failed: what was appended may not be on disk, and a later sync
      // must not say otherwise.
      _broken = r.err();
      return r.take_error();
    }
    _dirty = false;
  }
  if (_segments.back().sealed())
    if (auto r = next_segment(); !r) return r.take_error();
  auto off = _segments.back().append(payload);
  if (!off) return off.take_error();
  _dirty = true;
  return location{_numbers.back(), *off};
}

result<location> store::append(const entry& e) {
  if (e.id.empty()) return fail(errc::invalid, "Failed to append to memory store '{}': entry without id", _dir.string());
  return write(detail::encode_entry(e));
}

result<location> store::append_vector(std::string_view id, std::span<const float> v, std::string_view model) {
  if (id.empty()) return fail(errc::invalid, "Failed to append to memory store '{}': vector without id", _dir.string());
  return write(detail::encode_vector(id, v, model));
}

result<void> store::append_tombstone(std::string_view id) {
  if (id.empty()) return fail(errc::invalid, "Failed to append to memory store '{}': tombstone without id", _dir.string());
  if (auto r = write(detail::encode_tombstone(id)); !r) return r.take_error();
  return {};
}

result<void> store::append_wipe() {
  if (auto r = write(detail::encode_wipe()); !r) return r.take_error();
  return {};
}

result<void> store::sync() {
  if (_broken) return *_broken;
  if (!_dirty) return {};
  if (_opt.sync)
    if (auto r = _segments.back().sync(); !r) {
      // After a failed fdatasync the kernel may have dropped the dirty pages: nothing
      // written since the last good sync can be trusted until a reopen re-reads the disk.
      _broken = r.err();
      return r;
    }
  _dirty = false;
  return {};
}

location store::end() const { return {_numbers.back(), _segments.back().end()}; }

result<std::vector<float>> store::read_vector(location loc) const {
  auto it = std::lower_bound(_numbers.begin(), _numbers.end(), loc.segment);
  if (it == _numbers.end() || *it != loc.segment)
    return fail(errc::invalid, "Failed to read vector from memory store '{}': no segment {}", _dir.string(), loc.segment);
  auto& seg = _segments[static_cast<std::size_t>(it - _numbers.begin())];
  auto payload = seg.read(loc.offset);
  if (!payload) return payload.take_error();
  auto rec = detail::decode_record(*payload);
  if (!rec)
    return fail(errc::corrupt, "Failed to read record of segment '{}' at byte {}: {}", seg.path().string(),
                loc.offset, rec.err().message);
  if (rec->type != record_type::vector)
    return fail(errc::invalid, "Failed to read vector from segment '{}' at byte {}: not a vector record",
                seg.path().string(), loc.offset);
  return std::move(rec->v);
}

store::stats store::statistics() const {
  stats st{static_cast<std::uint32_t>(_segments.size()), 0, 0, 0, _corrupt};
  for (auto& s : _segments) {
    st.bytes += s.file_bytes();
    st.records += s.records();
    st.dropped_tail_bytes += s.dropped_tail_bytes();
  }
  return st;
}

result<std::uint64_t> store::compact() {
  if (_broken) return *_broken;
  // What later records delete: everything before the last wipe, and an id's entries and
  // vectors before its last tombstone.
  location last_wipe{};
  std::unordered_map<std::string, location> tombs;
  auto scan = [&](std::size_t i, auto&& on_record, auto&& on_corrupt) {
    return _segments[i].for_each(
        [&](std::uint64_t off, std::string_view payload) -> status {
          if (auto rec = detail::decode_record(payload, /*with_vector=*/false)) on_record(off, *rec);
          else on_corrupt(rec.err());
          return {};
        },
        on_corrupt);
  };
  for (std::size_t i = 0; i < _segments.size(); ++i) {
    auto r = scan(i, [&](std::uint64_t off, const detail::record& rec) {
      location loc{_numbers[i], off};
      if (rec.type == record_type::wipe) last_wipe = loc;
      if (rec.type == record_type::tombstone) tombs[rec.id] = loc;
    }, [](const error&) {});
    if (!r) return r.take_error();
  }
  auto dead = [&](location loc, const detail::record& rec) {
    if (loc < last_wipe) return true;
    if (rec.type != record_type::entry && rec.type != record_type::vector) return false;
    auto t = tombs.find(record_id(rec));
    return t != tombs.end() && t->second > loc;
  };

  std::uint64_t reclaimed = 0;
  for (std::size_t i = 0; i + 1 < _segments.size(); ++i) {  // the active segment stays
    auto& seg = _segments[i];
    if (!seg.sealed()) continue;  // damaged (no footer): left as it is
    std::vector<std::uint64_t> keep;
    bool drop = false;
    auto r = scan(i, [&](std::uint64_t off, const detail::record& rec) {
      if (dead({_numbers[i], off}, rec)) drop = true;
      else keep.push_back(off);
    }, [&](const error&) { drop = true; });
    if (!r) return r.take_error();
    if (!drop) continue;
    auto path = seg.path();
    auto before = seg.file_bytes();
    if (keep.empty()) {
      if (::unlink(path.c_str()) < 0)
        return fail(errc::io, "Failed to remove segment '{}': {}", path.string(), detail::sys_error(errno));
      if (auto s = weft::sync_dir(_dir); !s) return s.take_error();
      _segments.erase(_segments.begin() + static_cast<std::ptrdiff_t>(i));
      _numbers.erase(_numbers.begin() + static_cast<std::ptrdiff_t>(i));
      reclaimed += before;
      --i;
      continue;
    }
    auto tmp = path;
    tmp += ".compact";
    auto out = rvf::segment::create(tmp, seg.head(), _opt.max_record_bytes);
    if (!out) return out.take_error();
    for (auto off : keep) {
      auto p = seg.read(off);
      if (!p) return p.take_error();
      if (auto a = out->append(*p); !a) return a.take_error();
    }
    if (auto s = out->seal(); !s) return s.take_error();
    if (::rename(tmp.c_str(), path.c_str()) < 0)
      return fail(errc::io, "Failed to replace segment '{}': {}", path.string(), detail::sys_error(errno));
    if (auto s = weft::sync_dir(_dir); !s) return s.take_error();
    auto now = rvf::segment::open(path, {.max_record_bytes = _opt.max_record_bytes});
    if (!now) return now.take_error();
    reclaimed += before - now->file_bytes();
    seg = std::move(*now);
  }
  return reclaimed;
}

}  // namespace weft::memstore
