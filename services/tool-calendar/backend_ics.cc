// Local iCalendar files as calendars: a directory whose *.ics files are one calendar each
// (named by the file's stem), or one file. Every change reads the file, checks it is a whole
// calendar, edits it in place (ical.cc: what it holds besides is kept) and writes it to a
// temporary file beside it that is renamed over it — a reader never sees half a file and a
// crash leaves the old one. A file that does not read as a whole calendar is an error naming
// it and is never written over. The files are tool-calendar's (one shared process): names
// are checked to stay in the configured directory, symbolic links included.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>

#include <fmt/format.h>

#include "services/tool-calendar/backend.hh"

namespace weft::tools::calendar {

namespace {

namespace fs = std::filesystem;

/// One change at a time across the process's ics accounts: a read-modify-write of a file
/// is not interleaved with another one's (tool-calendar serves on several workers).
std::mutex& files_mutex() {
  static std::mutex m;
  return m;
}

/// Why `text` is not a whole iCalendar object (cut short, components not closed), or "".
std::string damage_in(std::string_view text) {
  std::vector<std::string> open;
  std::size_t at = 0, lines = 0;
  bool seen = false;
  while (at < text.size()) {
    auto nl = text.find('\n', at);
    auto line = text.substr(at, nl == std::string_view::npos ? std::string_view::npos : nl - at);
    at = nl == std::string_view::npos ? text.size() : nl + 1;
    ++lines;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    if (line.empty() || line[0] == ' ' || line[0] == '\t') continue;  // folded continuation
    auto upper = std::string(line);
    std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return std::toupper(c); });
    if (upper.rfind("BEGIN:", 0) == 0) {
      if (!seen && upper != "BEGIN:VCALENDAR") return fmt::format("line {} begins {}, not VCALENDAR", lines, line.substr(6));
      if (seen && open.empty()) return fmt::format("line {}: more after the calendar's END", lines);
      seen = true;
      open.push_back(upper.substr(6));
    } else if (upper.rfind("END:", 0) == 0) {
      if (open.empty() || open.back() != upper.substr(4))
        return fmt::format("line {} ends {} where {} is open", lines, line.substr(4), open.empty() ? "nothing" : open.back());
      open.pop_back();
    } else if (!seen) {
      return fmt::format("line {} comes before BEGIN:VCALENDAR", lines);
    } else if (open.empty()) {
      return fmt::format("line {}: more after the calendar's END", lines);
    } else if (line.find(':') == std::string_view::npos) {
      return fmt::format("line {} is not NAME:value", lines);
    }
  }
  if (!open.empty()) return fmt::format("it is cut short: {} is not closed", open.back());
  return "";
}

class ics_calendars final : public backend {
 public:
  explicit ics_calendars(std::string path) : _path(std::move(path)) {}

  /// The directory the calendars are in, and the one file when the account is a file.
  struct place {
    fs::path dir;
    std::string only;  ///< the file's name when the account is one file
  };

  result<place> where() const {
    std::error_code ec;
    fs::path p(_path);
    if (fs::is_directory(p, ec)) {
      auto dir = fs::canonical(p, ec);
      if (ec) return fail(errc::io, "Failed to open the calendars in '{}': {}", _path, ec.message());
      return place{dir, ""};
    }
    if (p.extension() != ".ics") return fail(errc::not_found, "Failed to open the calendars in '{}': it is no directory and no .ics file", _path);
    auto dir = fs::canonical(p.parent_path().empty() ? fs::path(".") : p.parent_path(), ec);
    if (ec) return fail(errc::io, "Failed to open the calendar '{}': {}", _path, ec.message());
    return place{dir, p.filename().string()};
  }

  /// The file of calendar `cal` (a file name), refused when it would be outside the
  /// directory — a path, a dot file, or a link that leads out.
  result<fs::path> file_of(const std::string& cal) const {
    auto w = where();
    if (!w) return w.take_error();
    auto outside = [&](std::string_view why) {
      return fail(errc::invalid_argument, "Failed to use calendar '{}': {} (the account's calendars are the .ics files in '{}')",
                  cal.substr(0, 200), why, w->dir.string());
    };
    if (cal.empty() || cal.find('/') != std::string::npos || cal[0] == '.' || fs::path(cal).extension() != ".ics" ||
        cal.find('\0') != std::string::npos)
      return outside("it is not the name of a .ics file in the directory");
    if (!w->only.empty() && cal != w->only) return outside("it is not the account's file");
    auto file = w->dir / cal;
    std::error_code ec;
    auto real = fs::weakly_canonical(file, ec);
    if (ec) return fail(errc::io, "Failed to use calendar '{}': {}", file.string(), ec.message());
    if (real.parent_path() != w->dir) return outside(fmt::format("it leads to '{}', outside the directory", real.string()));
    if (fs::exists(real, ec) && !fs::is_regular_file(real, ec)) return outside("it is not a regular file");
    return real;
  }

  /// The file's text, checked whole; "" for a file not made yet (a new calendar).
  result<std::string> read(const fs::path& file) const {
    int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
      if (errno == ENOENT) return std::string();
      return fail(errc::io, "Failed to read calendar file '{}': {}", file.string(), std::strerror(errno));
    }
    std::string text;
    char buf[65536];
    for (;;) {
      auto n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        int err = errno;
        ::close(fd);
        return fail(errc::io, "Failed to read calendar file '{}': {}", file.string(), std::strerror(err));
      }
      if (n == 0) break;
      text.append(buf, static_cast<std::size_t>(n));
      if (text.size() > max_file)
        return ::close(fd), fail(errc::io, "Failed to read calendar file '{}': it is larger than {} MiB", file.string(), max_file >> 20);
    }
    ::close(fd);
    if (text.find_first_not_of(" \t\r\n") == std::string::npos) return std::string();
    if (auto why = damage_in(text); !why.empty())
      return fail(errc::malformed, "Failed to read calendar file '{}': {}; it is left as it is", file.string(), why);
    auto ev = parse_ics(text, file.string());
    if (!ev) return fail(errc::malformed, "{}; it is left as it is", ev.err().message);
    return text;
  }

  /// Replaces `file` with `text`: a temporary file beside it, synced, renamed over it.
  status write(const fs::path& file, const std::string& text) const {
    auto failed = [&](const char* step) {
      return fail(errc::io, "Failed to write calendar file '{}': {}: {}", file.string(), step, std::strerror(errno));
    };
    auto tmp = (file.parent_path() / ("." + file.filename().string() + ".XXXXXX")).string();
    int fd = ::mkstemp(tmp.data());
    if (fd < 0) return failed("a temporary file");
    struct stat st{};
    mode_t mode = ::stat(file.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0600;
    std::size_t done = 0;
    bool ok = ::fchmod(fd, mode) == 0;
    while (ok && done < text.size()) {
      auto n = ::write(fd, text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      ok = n > 0;
      if (ok) done += static_cast<std::size_t>(n);
    }
    ok = ok && ::fsync(fd) == 0;
    int err = errno;
    ::close(fd);
    if (!ok || ::rename(tmp.c_str(), file.c_str()) != 0) {
      if (ok) err = errno;
      ::unlink(tmp.c_str());
      errno = err;
      return failed(ok ? "rename" : "write");
    }
    if (int d = ::open(file.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); d >= 0) {
      ::fsync(d);  // the rename itself, durable
      ::close(d);
    }
    return {};
  }

  result<std::vector<calendar_ref>> calendars() override {
    auto w = where();
    if (!w) return w.take_error();
    std::vector<calendar_ref> out;
    auto add = [&](const std::string& name) {
      auto stem = fs::path(name).stem().string();
      out.push_back({name, stem, stem});
    };
    if (!w->only.empty()) {
      add(w->only);
      return out;
    }
    std::error_code ec;
    for (auto& entry : fs::directory_iterator(w->dir, ec)) {
      auto name = entry.path().filename().string();
      if (name[0] == '.' || entry.path().extension() != ".ics") continue;
      if (file_of(name)) add(name);  // a link that leads out is not a calendar
    }
    if (ec) return fail(errc::io, "Failed to list the calendars in '{}': {}", w->dir.string(), ec.message());
    std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.key < b.key; });
    return out;
  }

  result<std::vector<event>> events_of(const std::string& cal) {
    auto file = file_of(cal);
    if (!file) return file.take_error();
    auto text = read(*file);
    if (!text) return text.take_error();
    if (text->empty()) return std::vector<event>{};
    return parse_ics(*text, file->string());
  }

  result<std::vector<occurrence>> occurrences(const std::string& cal, instant from, instant to) override {
    std::lock_guard<std::mutex> l(files_mutex());
    auto all = events_of(cal);
    if (!all) return all.take_error();
    return expand(*all, from, to);
  }

  /// Reads calendar `cal`, changes its text with `edit`, writes it back.
  template <class Edit>
  status change(const std::string& cal, Edit edit) {
    auto file = file_of(cal);
    if (!file) return file.take_error();
    auto text = read(*file);
    if (!text) return text.take_error();
    auto next = edit(*text, file->string());
    if (!next) return next.take_error();
    return write(*file, *next);
  }

  result<std::string> create(const std::string& cal, event e) override {
    std::lock_guard<std::mutex> l(files_mutex());
    e.uid = new_uid();
    auto s = change(cal, [&](const std::string& text, const std::string&) { return add_to_ics(text, {e}); });
    if (!s) return s.take_error();
    return e.uid;
  }

  status move(const std::string& cal, const std::string& uid, instant start, std::optional<instant> occ,
              const std::string& tz, std::string* what) override {
    std::lock_guard<std::mutex> l(files_mutex());
    return edit_event(cal, uid, [&](const std::string& text, const std::string& shown) {
      return move_event_in(text, shown, uid, start, occ, tz, what);
    });
  }

  status update(const std::string& cal, const std::string& uid, const event_changes& changes, std::optional<instant> occ,
                const std::string& tz, std::string* what) override {
    std::lock_guard<std::mutex> l(files_mutex());
    return edit_event(cal, uid, [&](const std::string& text, const std::string& shown) {
      return update_event_in(text, shown, uid, changes, occ, tz, what);
    });
  }

  /// `edit` applied to the text of the file holding event `uid` (refused when it holds none).
  template <class Edit>
  status edit_event(const std::string& cal, const std::string& uid, Edit edit) {
    return change(cal, [&](const std::string& text, const std::string& shown) -> result<std::string> {
      if (text.empty()) return fail(errc::not_found, "the calendar has no event '{}'", uid);
      auto ev = parse_ics(text, shown);
      if (!ev) return ev.take_error();
      if (std::none_of(ev->begin(), ev->end(), [&](auto& e) { return e.uid == uid; }))
        return fail(errc::not_found, "the calendar has no event '{}'", uid);
      return edit(text, shown);
    });
  }

  status remove(const std::string& cal, const std::string& uid) override {
    std::lock_guard<std::mutex> l(files_mutex());
    return change(cal, [&](const std::string& text, const std::string&) -> result<std::string> {
      if (text.empty()) return fail(errc::not_found, "the calendar has no event '{}'", uid);
      return remove_from_ics(text, uid);
    });
  }

  result<std::vector<event>> all_events(const std::string& cal) override {
    std::lock_guard<std::mutex> l(files_mutex());
    return events_of(cal);
  }

  result<std::size_t> add_events(const std::string& cal, std::vector<event> events) override {
    std::lock_guard<std::mutex> l(files_mutex());
    std::set<std::string> uids;
    for (auto& e : events) {
      if (e.uid.empty()) e.uid = new_uid();  // each such event on its own
      uids.insert(e.uid);
    }
    auto s = change(cal, [&](const std::string& text, const std::string& shown) -> result<std::string> {
      if (!text.empty()) {
        auto have = parse_ics(text, shown);
        if (!have) return have.take_error();
        for (auto& e : *have)
          if (uids.count(e.uid)) return fail(errc::invalid_argument, "event '{}' is in the calendar already", e.uid);
      }
      return add_to_ics(text, events);
    });
    if (!s) return s.take_error();
    return uids.size();
  }

 private:
  /// A calendar file is read whole: larger ones are refused.
  static constexpr std::size_t max_file = 64u << 20;
  std::string _path;
};

}  // namespace

std::unique_ptr<backend> ics_backend(std::string path) { return std::make_unique<ics_calendars>(std::move(path)); }

}  // namespace weft::tools::calendar
