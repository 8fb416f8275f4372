#include <weft/plugin/folder.hh>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <weft/plugin/abi.hh>

namespace weft::plugin {

namespace {

/// The largest DISABLED marker read; a reason is a line or two.
constexpr std::size_t max_marker_bytes = 4096;

abi::valtype to_abi(wasm::value_type t) {
  switch (t) {
    case wasm::value_type::i32: return abi::valtype::i32;
    case wasm::value_type::i64: return abi::valtype::i64;
    case wasm::value_type::f32: return abi::valtype::f32;
    case wasm::value_type::f64: return abi::valtype::f64;
    case wasm::value_type::v128: return abi::valtype::v128;
    case wasm::value_type::funcref: return abi::valtype::funcref;
    case wasm::value_type::externref: return abi::valtype::externref;
  }
  return abi::valtype::externref;
}

abi::signature to_abi(const wasm::func_type& t) {
  abi::signature s;
  for (auto p : t.params) s.params.push_back(to_abi(p));
  for (auto r : t.results) s.results.push_back(to_abi(r));
  return s;
}

abi::external_kind to_abi(wasm::extern_kind k) {
  switch (k) {
    case wasm::extern_kind::func: return abi::external_kind::function;
    case wasm::extern_kind::table: return abi::external_kind::table;
    case wasm::extern_kind::memory: return abi::external_kind::memory;
    case wasm::extern_kind::global: return abi::external_kind::global;
    case wasm::extern_kind::tag: return abi::external_kind::tag;
  }
  return abi::external_kind::tag;
}

abi::module_interface interface_of(const wasm::module& m) {
  abi::module_interface out;
  for (auto& i : m.imports()) out.imports.push_back({i.module, i.field, to_abi(i.kind), to_abi(i.type)});
  for (auto& x : m.exports()) out.exports.push_back({x.name, to_abi(x.kind), to_abi(x.type)});
  return out;
}

/// Reads a regular file, never through a symlink, refusing more than `max` bytes.
result<std::string> read_file_bytes(const std::string& path, std::size_t max) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return fail(errc::io, "Failed to read '{}': {}", path, std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return fail(errc::io, "Failed to read '{}': not a regular file", path);
  }
  std::string out;
  char buf[65536];
  for (;;) {
    auto n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      auto e = errno;
      ::close(fd);
      return fail(errc::io, "Failed to read '{}': {}", path, std::strerror(e));
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > max) {
      ::close(fd);
      return fail(errc::io, "Failed to read '{}': larger than {} bytes", path, max);
    }
  }
  ::close(fd);
  return out;
}

}  // namespace

std::size_t max_entry_bytes() { return wasm::load_limits{}.max_module_bytes; }

folder_check check_folder(const std::string& dir, const std::string& name, const agent_policy& policy) {
  folder_check out;
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    out.error = "not a folder (a symlink is not followed)";
    return out;
  }
  auto m = load_manifest(dir);
  if (!m) {
    out.error = m.err().message;
    return out;
  }
  if (m->name != name) {
    out.manifest = std::move(*m);
    out.error = fmt::format("its manifest names it '{}', not its folder's name", out.manifest->name);
    return out;
  }
  auto entry = dir + "/" + m->entry;
  return check_module(std::move(*m), entry, policy);
}

folder_check check_module(struct manifest m, const std::string& entry_path, const agent_policy& policy) {
  folder_check out;
  out.manifest = std::move(m);
  auto& man = *out.manifest;
  auto prof = derive_profile(man, policy);
  if (!prof) {
    out.error = prof.err().message;
    return out;
  }
  out.profile = std::move(*prof);
  auto bytes = read_file_bytes(entry_path, max_entry_bytes());
  if (!bytes) {
    out.error = bytes.err().message;
    return out;
  }
  out.engine = wasm::engine::create(wasm::engine_kind::interpreter);
  auto mod = out.engine->load(std::span(reinterpret_cast<const std::uint8_t*>(bytes->data()), bytes->size()),
                              {.name = man.name + "/" + man.entry});
  if (!mod) {
    out.error = fmt::format("{}: {}", mod.err().code, mod.err().message);
    return out;
  }
  auto problems = abi::check_interface(interface_of(**mod), man, out.profile->granted);
  if (!problems.empty()) {
    out.error = fmt::format("{}", fmt::join(problems, "; "));
    return out;
  }
  out.module = std::move(*mod);
  return out;
}

result<std::vector<host_function>> imported_host_functions(const std::string& entry_path) {
  auto bytes = read_file_bytes(entry_path, max_entry_bytes());
  if (!bytes) return bytes.take_error();
  auto engine = wasm::engine::create(wasm::engine_kind::interpreter);
  auto mod = engine->load(std::span(reinterpret_cast<const std::uint8_t*>(bytes->data()), bytes->size()),
                          {.name = entry_path});
  if (!mod) return fail(errc::invalid_argument, "{}: {}", mod.err().code, mod.err().message);
  std::vector<host_function> out;
  for (auto& i : (*mod)->imports()) {
    if (i.module != "weft" || i.kind != wasm::extern_kind::func) continue;
    if (auto f = host_function_named(i.field); f && std::find(out.begin(), out.end(), *f) == out.end()) out.push_back(*f);
  }
  return out;
}

std::optional<disabled_note> read_disabled(const std::string& dir) {
  struct stat st {};
  // Only a plugin folder's own marker: not one reached through a symlinked folder.
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return std::nullopt;
  auto path = dir + "/" + std::string(disabled_marker);
  if (::lstat(path.c_str(), &st) != 0) return std::nullopt;
  disabled_note note;
  auto text = read_file_bytes(path, max_marker_bytes);
  if (!text) {
    // Present but unreadable (a symlink, a folder, too long): the admin meant something by
    // it, so it still disables; the reason says what is wrong with it.
    note.reason = fmt::format("its {} marker cannot be read: {}", disabled_marker, text.err().message);
    return note;
  }
  std::size_t at = 0;
  while (at < text->size()) {
    auto nl = text->find('\n', at);
    auto line = text->substr(at, nl == std::string::npos ? std::string::npos : nl - at);
    at = nl == std::string::npos ? text->size() : nl + 1;
    if (line.rfind("reason: ", 0) == 0) note.reason = line.substr(8);
    else if (line.rfind("since: ", 0) == 0) note.since = line.substr(7);
  }
  for (auto& c : note.reason)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  return note;
}

std::string disabled_text(const disabled_note& note) {
  std::string reason = note.reason;
  for (auto& c : reason)
    if (c == '\n' || c == '\r') c = ' ';
  return fmt::format("# weftctl plugin disable: weft-plugin-host does not load this plugin while this file is here.\n"
                     "reason: {}\nsince: {}\n",
                     reason, note.since);
}

std::string disabled_message(const disabled_note& note) {
  return fmt::format("disabled by the admin: {}", note.reason.empty() ? "no reason given" : note.reason);
}

}  // namespace weft::plugin
