#include "services/plugin-host/kv_store.hh"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <weft/plugin/abi.hh>

namespace weft::plugin_host {

namespace {

using limits = plugin::abi::host_limits;
constexpr std::string_view magic = "WEFTKV1\n";

void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

bool get_u32(std::string_view& in, std::uint32_t& v) {
  if (in.size() < 4) return false;
  v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])) << (8 * i);
  in.remove_prefix(4);
  return true;
}

}  // namespace

result<kv_store> kv_store::open(std::string path) {
  kv_store s(std::move(path));
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(s._path).parent_path(), ec);
  if (ec) return fail(errc::io, "Failed to create the key-value store '{}': {}", s._path, ec.message());
  std::ifstream f(s._path, std::ios::binary);
  if (!f) {
    if (errno == ENOENT || !std::filesystem::exists(s._path)) return s;
    return fail(errc::io, "Failed to read the key-value store '{}': {}", s._path, std::strerror(errno));
  }
  std::ostringstream buf;
  buf << f.rdbuf();
  auto text = buf.str();
  // A store never holds more than its limit plus the length fields.
  if (text.size() > magic.size() + limits::kv_store_bytes + 8 * limits::kv_keys)
    return fail(errc::io, "Failed to read the key-value store '{}': larger than a store may be", s._path);
  std::string_view in = text;
  if (in.substr(0, magic.size()) != magic)
    return fail(errc::io, "Failed to read the key-value store '{}': not a weft key-value file", s._path);
  in.remove_prefix(magic.size());
  while (!in.empty()) {
    std::uint32_t kl = 0, vl = 0;
    if (!get_u32(in, kl) || kl == 0 || kl > limits::kv_key_bytes || in.size() < kl)
      return fail(errc::io, "Failed to read the key-value store '{}': damaged", s._path);
    std::string key(in.substr(0, kl));
    in.remove_prefix(kl);
    if (!get_u32(in, vl) || vl == 0 || vl > limits::kv_value_bytes || in.size() < vl)
      return fail(errc::io, "Failed to read the key-value store '{}': damaged", s._path);
    s._bytes += kl + vl;
    s._map[std::move(key)] = std::string(in.substr(0, vl));
    in.remove_prefix(vl);
  }
  if (s._map.size() > limits::kv_keys || s._bytes > limits::kv_store_bytes)
    return fail(errc::io, "Failed to read the key-value store '{}': over its limits", s._path);
  return s;
}

std::optional<std::string_view> kv_store::get(std::string_view key) const {
  auto it = _map.find(key);
  if (it == _map.end()) return std::nullopt;
  return std::string_view(it->second);
}

std::optional<kv_store::put_error> kv_store::put(std::string_view key, std::string_view value) {
  if (key.empty() || key.size() > limits::kv_key_bytes) return put_error::invalid_key;
  if (value.size() > limits::kv_value_bytes) return put_error::value_too_large;
  auto it = _map.find(key);
  std::size_t old = it == _map.end() ? 0 : key.size() + it->second.size();
  if (value.empty()) {
    if (it == _map.end()) return std::nullopt;
    auto kept = std::move(it->second);
    _map.erase(it);
    _bytes -= old;
    if (!save()) {
      _map.emplace(std::string(key), std::move(kept));
      _bytes += old;
      return put_error::io;
    }
    return std::nullopt;
  }
  std::size_t after = _bytes - old + key.size() + value.size();
  if (after > limits::kv_store_bytes || (it == _map.end() && _map.size() >= limits::kv_keys))
    return put_error::store_full;
  std::optional<std::string> previous;
  if (it != _map.end()) previous = it->second;
  _map[std::string(key)] = std::string(value);
  auto before = _bytes;
  _bytes = after;
  if (!save()) {
    if (previous) _map[std::string(key)] = *previous;
    else _map.erase(std::string(key));
    _bytes = before;
    return put_error::io;
  }
  return std::nullopt;
}

status kv_store::save() const {
  std::string out(magic);
  for (auto& [k, v] : _map) {
    put_u32(out, static_cast<std::uint32_t>(k.size()));
    out += k;
    put_u32(out, static_cast<std::uint32_t>(v.size()));
    out += v;
  }
  auto tmp = _path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return fail(errc::io, "Failed to write the key-value store '{}': {}", _path, std::strerror(errno));
  std::size_t done = 0;
  while (done < out.size()) {
    auto n = ::write(fd, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return fail(errc::io, "Failed to write the key-value store '{}': {}", _path, std::strerror(errno));
    }
    done += static_cast<std::size_t>(n);
  }
  bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced || ::rename(tmp.c_str(), _path.c_str()) != 0)
    return fail(errc::io, "Failed to write the key-value store '{}': {}", _path, std::strerror(errno));
  return {};
}

}  // namespace weft::plugin_host
