#include <weft/http/sse.hh>

#include <algorithm>

#include <fmt/core.h>

namespace weft::http {

std::string sse_frame(std::string_view event, std::string_view data, std::optional<std::uint64_t> id) {
  std::string out;
  if (id) out += fmt::format("id: {}\n", *id);
  if (!event.empty()) {
    std::string ev(event);
    ev.erase(std::remove_if(ev.begin(), ev.end(), [](char c) { return c == '\r' || c == '\n'; }), ev.end());
    out += "event: " + ev + "\n";
  }
  std::size_t start = 0;
  for (;;) {
    auto p = data.find_first_of("\r\n", start);
    out += "data: ";
    out += data.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start);
    out += "\n";
    if (p == std::string_view::npos) break;
    start = p + ((data[p] == '\r' && p + 1 < data.size() && data[p + 1] == '\n') ? 2 : 1);
  }
  out += "\n";
  return out;
}

std::string sse_comment(std::string_view text) {
  std::string t(text);
  std::replace(t.begin(), t.end(), '\n', ' ');
  std::replace(t.begin(), t.end(), '\r', ' ');
  return ": " + t + "\n\n";
}

bool sse_parser::feed(std::string_view bytes) {
  if (_failed) return false;
  for (char ch : bytes) {
    if (_skip_lf) {
      _skip_lf = false;
      if (ch == '\n') continue;
    }
    if (ch == '\r' || ch == '\n') {
      _skip_lf = ch == '\r';
      line(_buf);
      _buf.clear();
      if (_failed) return false;
      continue;
    }
    if (_buf.size() >= _max) {
      _failed = true;
      _buf.clear();
      return false;
    }
    _buf.push_back(ch);
  }
  return true;
}

void sse_parser::line(std::string_view l) {
  if (_first_line) {
    _first_line = false;
    if (l.substr(0, 3) == "\xEF\xBB\xBF") l.remove_prefix(3);  // a BOM before the first line
  }
  if (l.empty()) {  // dispatch
    if (_has_data) {
      if (!_cur.data.empty() && _cur.data.back() == '\n') _cur.data.pop_back();
      _cur.id = _last_id;
      if (_cur.event.empty()) _cur.event = "message";
      _ready.push_back(std::move(_cur));
    }
    _cur = sse_event{};
    _has_data = false;
    return;
  }
  if (l.front() == ':') return;  // a comment (keep-alive)
  std::string_view field = l, value;
  if (auto colon = l.find(':'); colon != std::string_view::npos) {
    field = l.substr(0, colon);
    value = l.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (_cur.data.size() + value.size() + 1 > _max) {  // an event that never ends
      _failed = true;
      _cur = sse_event{};
      return;
    }
    _cur.data.append(value);
    _cur.data += '\n';
    _has_data = true;
  } else if (field == "event") {
    _cur.event = std::string(value);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) _last_id = std::string(value);
  } else if (field == "retry") {
    if (!value.empty() && value.size() < 10 &&
        std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
      _retry = _cur.retry_ms = static_cast<std::uint32_t>(std::stoul(std::string(value)));
  }
}

std::optional<sse_event> sse_parser::next() {
  if (_taken >= _ready.size()) {
    _ready.clear();
    _taken = 0;
    return std::nullopt;
  }
  return std::move(_ready[_taken++]);
}

}  // namespace weft::http
