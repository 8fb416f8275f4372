#include "services/plugin-host/plugin_host.hh"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>

#include <fmt/ranges.h>

#include <weft/plugin/abi.hh>
#include <weft/plugin/folder.hh>
#include <weft/plugin/profile.hh>
#include <weft/wasm/engine.hh>

#include "services/plugin-host/fetch.hh"
#include "services/plugin-host/kv_store.hh"

namespace weft::plugin_host {

namespace {

namespace abi = plugin::abi;
using hf = plugin::host_function;
using tools::json;
namespace tool = proto::tool_v1;

constexpr std::int32_t e(abi::error x) { return static_cast<std::int32_t>(x); }
/// The longest path a plugin may name.
constexpr std::uint32_t max_path_bytes = 4096;
/// The largest file file_read hands a plugin or file_write takes from it.
constexpr std::uint64_t max_file_bytes = 0x7fffffff;
/// The longest request body an http_fetch may send.
constexpr std::uint32_t max_fetch_body = 1u << 20;

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    std::uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1f) : n == 3 ? (c & 0x0f) : (c & 0x07);
    for (std::size_t k = 1; k < n; ++k) {
      auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3f);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += n;
  }
  return true;
}

wasm::func_type to_wasm(const abi::signature& s) {
  auto one = [](abi::valtype v) { return v == abi::valtype::i64 ? wasm::value_type::i64 : wasm::value_type::i32; };
  wasm::func_type t;
  for (auto p : s.params) t.params.push_back(one(p));
  for (auto r : s.results) t.results.push_back(one(r));
  return t;
}

std::string code_name(std::int32_t code) {
  auto n = abi::error_name(code);
  return n ? std::string(*n) : "unknown";
}

}  // namespace

std::string bus_tool_name(std::string_view plugin, std::string_view tool) { return fmt::format("{}__{}", plugin, tool); }

/// One plugin as it runs: its manifest and profile, its module, the current instance (made
/// again after a trap), the state of the call in progress for the host functions, and its
/// store. Guarded by `mu`: one call at a time.
struct plugin_host::plugin_rt {
  std::string name, dir;
  plugin::manifest manifest;
  plugin::profile profile;
  std::unique_ptr<wasm::engine> engine;
  std::shared_ptr<const wasm::module> module;
  std::unique_ptr<wasm::instance> instance;
  std::vector<wasm::host_function> host;
  std::optional<kv_store> kv;
  std::string kv_error;
  std::mutex mu;
  // The call in progress.
  bool in_call = false;
  std::optional<std::string> result_data;
  bool result_is_error = false;
  std::uint32_t log_lines = 0;
  std::uint32_t fetches = 0;
  std::string tool;    // the tool being called, for events
  std::string denial;  // why a host function answered DENIED
  std::chrono::steady_clock::time_point started{};
  // Traps.
  std::uint32_t traps_in_row = 0;
  bool disabled = false;
  std::string disabled_reason;
};

plugin_host::plugin_host(const tools::workspace& ws, host_options o, log::logger& log)
    : _ws(ws), _opts(std::move(o)), _log(log) {}
plugin_host::~plugin_host() = default;

std::unique_ptr<plugin_host> plugin_host::load(const tools::workspace& ws, host_options o, log::logger& log) {
  std::unique_ptr<plugin_host> h(new plugin_host(ws, std::move(o), log));
  const auto& root = h->_opts.plugins_dir;
  std::vector<std::string> names;
  if (root.empty()) {
    log.warning("no plugins folder given (WEFT_PLUGINS_DIR); no plugin loaded.");
  } else if (DIR* d = ::opendir(root.c_str())) {
    while (auto* ent = ::readdir(d)) {
      std::string n = ent->d_name;
      if (n.empty() || n[0] == '.') continue;  // ".", "..", and hidden folders (an install in progress)
      names.push_back(n);
    }
    ::closedir(d);
  } else if (errno != ENOENT) {
    log.warning("Failed to list plugins in '{}': {}; no plugin loaded, ignoring.", root, std::strerror(errno));
  }
  std::sort(names.begin(), names.end());
  if (names.size() > h->_opts.max_plugins) {
    log.warning("{} plugin folders in '{}': only the first {} are read, ignoring the rest.", names.size(), root,
                h->_opts.max_plugins);
    names.resize(h->_opts.max_plugins);
  }
  for (auto& n : names) h->load_one(n);
  return h;
}

void plugin_host::load_one(const std::string& name) {
  auto dir = _opts.plugins_dir + "/" + name;
  plugin_status refused{.name = name};
  auto refuse = [&](std::string why) {
    _log.error("Failed to load plugin '{}': {}", name, why);
    if (_opts.on_event) _opts.on_event({name, "", "refused", "", why});
    refused.error = std::move(why);
    _refused.push_back(std::move(refused));
  };
  // The admin's marker (weftctl plugin disable): nothing of the folder is read or run.
  if (auto off = plugin::read_disabled(dir)) {
    _log.info("plugin '{}' is not loaded: {}", name, plugin::disabled_message(*off));
    _refused.push_back({.name = name, .disabled = true, .error = plugin::disabled_message(*off)});
    return;
  }
  plugin::agent_policy policy{.agent = _ws.agent(), .workspace = _ws.root(), .network = _opts.network,
                              .host_functions = _opts.host_functions};
  // The checks weftctl plugin install runs too (libs/plugin folder.hh), so both refuse alike.
  auto c = plugin::check_folder(dir, name, policy);
  if (c.manifest) {
    refused.version = c.manifest->version;
    for (auto& w : c.manifest->warnings) _log.warning("plugin '{}': {}", name, w);
    if (c.manifest->name == name)
      for (auto cap : c.manifest->unsupported())
        _log.warning("plugin '{}' names the capability '{}', which this build does not support, ignoring.", name,
                     plugin::name_of(cap));
  }
  if (c.profile)
    for (auto& r : c.profile->refused) _log.info("plugin '{}': {} not granted: {}", name, r.what, r.why);
  if (!c.ok()) return refuse(std::move(c.error));

  auto rt = std::make_unique<plugin_rt>();
  rt->name = name;
  rt->dir = dir;
  rt->engine = std::move(c.engine);
  rt->module = std::move(c.module);
  rt->manifest = std::move(*c.manifest);
  rt->profile = std::move(*c.profile);
  auto kv = kv_store::open(_ws.root() + "/.plugin-data/" + name + "/kv");
  if (kv) rt->kv.emplace(std::move(*kv));
  else rt->kv_error = kv.err().message;

  // The host functions, each a closure over this plugin's state.
  plugin_rt* p = rt.get();
  const auto& ws = _ws;
  auto& log = _log;
  auto lines_max = _opts.log_lines_per_call;
  using values = std::vector<wasm::value>;
  auto status_of = [](std::int32_t v) -> result<values> { return values{wasm::value::i32(static_cast<std::uint32_t>(v))}; };
  // Writes the first min(n, cap) bytes of `data` to (buf, cap): the buffer protocol.
  auto fill = [](wasm::host_call& c, std::uint32_t buf, std::uint32_t cap, std::string_view data) -> std::int32_t {
    if (cap > 0) {
      auto room = c.memory.span(buf, cap);
      if (!room) return e(abi::error::invalid);
      auto n = std::min<std::size_t>(cap, data.size());
      std::memcpy(room->data(), data.data(), n);
    }
    return data.size() > static_cast<std::size_t>(INT32_MAX) ? e(abi::error::too_large)
                                                              : static_cast<std::int32_t>(data.size());
  };
  // A path the plugin names, checked against the profile's paths for reading or writing:
  // relative, without "..", beneath a granted path. The file is then opened beneath the
  // workspace by the kernel (symlinks leading out refused).
  auto granted_path = [p, &ws](wasm::host_call& c, std::uint32_t ptr, std::uint32_t len, bool write,
                               std::string& rel) -> std::int32_t {
    if (len == 0 || len > max_path_bytes) return e(abi::error::invalid);
    auto text = c.memory.read_string(ptr, len, max_path_bytes);
    if (!text || !valid_utf8(*text)) return e(abi::error::invalid);
    auto r = plugin::workspace_relative(*text);
    if (!r) {
      p->denial = fmt::format("'{}': {}", text->substr(0, 256), r.err().message);
      return e(abi::error::denied);
    }
    rel = *r;
    auto full = rel == "." ? ws.root() : ws.root() + "/" + rel;
    auto beneath = [&](const std::string& base) {
      return full == base || (full.size() > base.size() && full.compare(0, base.size(), base) == 0 && full[base.size()] == '/');
    };
    auto& rw = p->profile.sandbox.read_write;
    auto& ro = p->profile.sandbox.read_only;
    bool ok = std::any_of(rw.begin(), rw.end(), beneath) || (!write && std::any_of(ro.begin(), ro.end(), beneath));
    if (!ok) p->denial = fmt::format("'{}' is not beneath a path the manifest {} and the agent grants", rel, write ? "may write" : "may read");
    return ok ? 0 : e(abi::error::denied);
  };
  auto fs_error = [p](const error& err) -> std::int32_t {
    if (tool::is(err, tool::error_code::denied) || err.message.find(std::strerror(ELOOP)) != std::string::npos) {
      p->denial = err.message;
      return e(abi::error::denied);
    }
    if (err.message.find(std::strerror(ENOENT)) != std::string::npos) return e(abi::error::not_found);
    return e(abi::error::io);
  };

  auto sig = [](hf f) { return to_wasm(abi::signature_of(f)); };
  // A host function that answers DENIED says so in the log and to on_event (the audit
  // record), with the reason it left in p->denial.
  auto add = [&](hf f, wasm::host_fn fn) {
    if (!p->profile.grants(f)) return;
    wasm::host_fn reported = [p, f, fn = std::move(fn), &log, on_event = _opts.on_event](wasm::host_call& c) -> result<values> {
      p->denial.clear();
      auto r = fn(c);
      if (r && r->size() == 1 && (*r)[0].as_i32() == e(abi::error::denied)) {
        auto detail = fmt::format("{} refused: {}", plugin::name_of(f), p->denial.empty() ? "not allowed" : p->denial);
        log.warning("plugin '{}' (tool '{}'): {}", p->name, p->tool, detail);
        if (on_event) on_event({p->name, p->tool, "denied", "DENIED", detail});
      }
      return r;
    };
    p->host.push_back({std::string(abi::import_module), std::string(plugin::name_of(f)), sig(f), std::move(reported)});
  };
  add(hf::log, [p, &log, lines_max, status_of](wasm::host_call& c) -> result<values> {
    auto level = c.args[0].as_i32();
    auto len = c.args[2].as_u32();
    if (level < 0 || level > 3 || !c.memory.span(c.args[1].as_u32(), len)) return status_of(e(abi::error::invalid));
    if (p->log_lines >= lines_max) return status_of(e(abi::error::limit));
    ++p->log_lines;
    auto text = c.memory.read_string(c.args[1].as_u32(), std::min(len, abi::host_limits::log_line_bytes));
    if (!text) return status_of(e(abi::error::invalid));
    for (auto& ch : *text)
      if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) ch = ' ';
    switch (level) {
      case 0: log.error("plugin '{}': {}", p->name, *text); break;
      case 1: log.warning("plugin '{}': {}", p->name, *text); break;
      case 2: log.info("plugin '{}': {}", p->name, *text); break;
      default: log.debug("plugin '{}': {}", p->name, *text); break;
    }
    return status_of(0);
  });
  add(hf::result, [p, status_of](wasm::host_call& c) -> result<values> {
    if (!p->in_call || p->result_data) return status_of(e(abi::error::state));
    auto len = c.args[1].as_u32();
    auto is_error = c.args[2].as_i32();
    if (is_error != 0 && is_error != 1) return status_of(e(abi::error::invalid));
    if (len > p->profile.limits.result_bytes) return status_of(e(abi::error::too_large));
    auto text = c.memory.read_string(c.args[0].as_u32(), len, p->profile.limits.result_bytes);
    if (!text || !valid_utf8(*text)) return status_of(e(abi::error::invalid));
    p->result_data = std::move(*text);
    p->result_is_error = is_error == 1;
    return status_of(0);
  });
  add(hf::clock, [](wasm::host_call&) -> result<values> {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch());
    return values{wasm::value::i64(static_cast<std::uint64_t>(ms.count()))};
  });
  add(hf::kv_get, [p, status_of, fill](wasm::host_call& c) -> result<values> {
    if (!p->in_call) return status_of(e(abi::error::state));
    auto klen = c.args[1].as_u32();
    if (klen == 0 || klen > abi::host_limits::kv_key_bytes) return status_of(e(abi::error::invalid));
    auto key = c.memory.read_string(c.args[0].as_u32(), klen, abi::host_limits::kv_key_bytes);
    if (!key) return status_of(e(abi::error::invalid));
    if (!p->kv) return status_of(e(abi::error::io));
    auto v = p->kv->get(*key);
    if (!v) return status_of(e(abi::error::not_found));
    return status_of(fill(c, c.args[2].as_u32(), c.args[3].as_u32(), *v));
  });
  add(hf::kv_put, [p, status_of](wasm::host_call& c) -> result<values> {
    if (!p->in_call) return status_of(e(abi::error::state));
    auto klen = c.args[1].as_u32(), vlen = c.args[3].as_u32();
    if (klen == 0 || klen > abi::host_limits::kv_key_bytes) return status_of(e(abi::error::invalid));
    if (vlen > abi::host_limits::kv_value_bytes) return status_of(e(abi::error::too_large));
    auto key = c.memory.read_string(c.args[0].as_u32(), klen, abi::host_limits::kv_key_bytes);
    auto value = c.memory.read_string(c.args[2].as_u32(), vlen, abi::host_limits::kv_value_bytes);
    if (!key || !value) return status_of(e(abi::error::invalid));
    if (!p->kv) return status_of(e(abi::error::io));
    auto err = p->kv->put(*key, *value);
    if (!err) return status_of(0);
    switch (*err) {
      case kv_store::put_error::invalid_key: return status_of(e(abi::error::invalid));
      case kv_store::put_error::value_too_large: return status_of(e(abi::error::too_large));
      case kv_store::put_error::store_full: return status_of(e(abi::error::limit));
      case kv_store::put_error::io: return status_of(e(abi::error::io));
    }
    return status_of(e(abi::error::io));
  });
  add(hf::file_read, [p, &ws, status_of, fill, granted_path, fs_error](wasm::host_call& c) -> result<values> {
    if (!p->in_call) return status_of(e(abi::error::state));
    std::string rel;
    if (auto g = granted_path(c, c.args[0].as_u32(), c.args[1].as_u32(), /*write=*/false, rel); g < 0) return status_of(g);
    auto buf = c.args[2].as_u32(), cap = c.args[3].as_u32();
    if (cap > 0 && !c.memory.span(buf, cap)) return status_of(e(abi::error::invalid));
    auto fd = ws.open_beneath(rel, O_RDONLY | O_NOFOLLOW, "read");
    if (!fd) return status_of(fs_error(fd.err()));
    struct stat st {};
    if (::fstat(fd->get(), &st) != 0) return status_of(e(abi::error::io));
    if (!S_ISREG(st.st_mode)) return status_of(e(abi::error::invalid));
    auto limit = std::min<std::uint64_t>(max_file_bytes, std::uint64_t(p->profile.limits.memory_mib) << 20);
    if (static_cast<std::uint64_t>(st.st_size) > limit) return status_of(e(abi::error::too_large));
    std::string data;
    data.resize(static_cast<std::size_t>(st.st_size));
    std::size_t done = 0;
    while (done < data.size()) {
      auto n = ::read(fd->get(), data.data() + done, data.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return status_of(e(abi::error::io));
      if (n == 0) break;
      done += static_cast<std::size_t>(n);
    }
    data.resize(done);
    return status_of(fill(c, buf, cap, data));
  });
  add(hf::file_write, [p, &ws, status_of, granted_path, fs_error](wasm::host_call& c) -> result<values> {
    if (!p->in_call) return status_of(e(abi::error::state));
    auto flags = c.args[4].as_i32();
    if (flags != 0 && flags != 1) return status_of(e(abi::error::invalid));
    std::string rel;
    if (auto g = granted_path(c, c.args[0].as_u32(), c.args[1].as_u32(), /*write=*/true, rel); g < 0) return status_of(g);
    if (rel == ".") return status_of(e(abi::error::invalid));
    auto len = c.args[3].as_u32();
    if (len > std::min<std::uint64_t>(max_file_bytes, std::uint64_t(p->profile.limits.memory_mib) << 20))
      return status_of(e(abi::error::too_large));
    auto data = c.memory.span(c.args[2].as_u32(), len);
    if (!data) return status_of(e(abi::error::invalid));
    auto write_all = [&](int fd) {
      std::size_t done = 0;
      while (done < data->size()) {
        auto n = ::write(fd, data->data() + done, data->size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        done += static_cast<std::size_t>(n);
      }
      return true;
    };
    if (flags == 1) {
      auto fd = ws.open_beneath(rel, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW, "append to", 0644);
      if (!fd) return status_of(fs_error(fd.err()));
      return status_of(write_all(fd->get()) ? 0 : e(abi::error::io));
    }
    // Replace: a temporary file beside it, renamed over it (a symlink there is replaced, not followed).
    auto parent = ws.open_parent(rel, /*create=*/false, "write");
    if (!parent) return status_of(fs_error(parent.err()));
    auto tmp = fmt::format(".{}.weft-plugin.tmp", parent->name);
    int fd = ::openat(parent->dir.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) return status_of(e(abi::error::io));
    bool ok = write_all(fd) && ::fsync(fd) == 0;
    ::close(fd);
    if (!ok || ::renameat(parent->dir.get(), tmp.c_str(), parent->dir.get(), parent->name.c_str()) != 0) {
      ::unlinkat(parent->dir.get(), tmp.c_str(), 0);
      return status_of(e(abi::error::io));
    }
    return status_of(0);
  });
  // http_fetch: (method, method_len, url, url_len, headers, headers_len, body, body_len,
  // buf, cap, status) -> i32, through the plugin's socket at the egress proxy.
  std::string proxy;
  if (p->profile.grants(hf::http_fetch) && _opts.proxy_for) proxy = _opts.proxy_for(name);
  add(hf::http_fetch, [p, &log, status_of, proxy, max_fetches = _opts.fetches_per_call](wasm::host_call& c) -> result<values> {
    if (!p->in_call) return status_of(e(abi::error::state));
    if (p->fetches >= max_fetches) return status_of(e(abi::error::limit));
    ++p->fetches;
    auto text = [&](int i, std::uint32_t max) -> std::optional<std::string> {
      auto len = c.args[i + 1].as_u32();
      if (len > max) return std::nullopt;
      auto t = c.memory.read_string(c.args[i].as_u32(), len, max);
      if (!t) return std::nullopt;
      return std::move(*t);
    };
    auto method = text(0, 8);
    auto url = text(2, 8192);
    auto headers = text(4, 16 * 1024);
    if (!method || !url || !headers || !valid_utf8(*url)) return status_of(e(abi::error::invalid));
    static constexpr std::string_view methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"};
    if (std::find(std::begin(methods), std::end(methods), *method) == std::end(methods)) return status_of(e(abi::error::invalid));
    if (!url->starts_with("http://") && !url->starts_with("https://")) return status_of(e(abi::error::invalid));
    if (c.args[7].as_u32() > max_fetch_body) return status_of(e(abi::error::too_large));
    auto body = text(6, max_fetch_body);
    if (!body) return status_of(e(abi::error::invalid));
    auto buf = c.args[8].as_u32(), cap = c.args[9].as_u32(), status_at = c.args[10].as_u32();
    if ((cap > 0 && !c.memory.span(buf, cap)) || !c.memory.span(status_at, 4)) return status_of(e(abi::error::invalid));
    auto lines = parse_headers(*headers);
    if (!lines) return status_of(e(abi::error::invalid));
    // The name and port must be on the manifest's list before anything leaves this process;
    // the egress checks again, and checks every address the name resolves to.
    if (auto v = plugin::listed(p->manifest.permissions.network, *url, 0); !v) {
      p->denial = fmt::format("{} {}: {}", *method, url->substr(0, 256), v.reason);
      return status_of(e(abi::error::denied));
    }
    if (proxy.empty()) return status_of(e(abi::error::io));
    auto left = std::chrono::milliseconds(p->profile.limits.time_ms) -
                std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - p->started);
    if (left <= std::chrono::milliseconds(0)) return status_of(e(abi::error::limit));
    fetch_request r{.method = *method, .url = *url, .headers = std::move(*lines), .body = std::move(*body),
                    .timeout = std::min(left, std::chrono::milliseconds(30000)), .keep = cap};
    auto a = fetch_via(proxy, r);
    if (a.denied) {
      p->denial = fmt::format("{} {}: {}", *method, url->substr(0, 256), a.error);
      return status_of(e(abi::error::denied));
    }
    if (a.too_large || a.status == 0) {
      log.info("plugin '{}' (tool '{}'): http_fetch {} {}: {}", p->name, p->tool, *method, url->substr(0, 256), a.error);
      return status_of(e(a.too_large ? abi::error::limit : abi::error::io));
    }
    std::int32_t st = static_cast<std::int32_t>(a.status);
    auto room = c.memory.span(status_at, 4);
    std::memcpy(room->data(), &st, 4);  // wasm memory is little-endian, as is this host
    if (a.length > static_cast<std::uint64_t>(INT32_MAX)) return status_of(e(abi::error::too_large));
    if (cap > 0) std::memcpy(c.memory.span(buf, cap)->data(), a.body.data(), a.body.size());
    return status_of(static_cast<std::int32_t>(a.length));
  });
  _plugins.push_back(std::move(rt));
  _log.info("plugin '{}' {} loaded: {} tools, host functions {}", name, p->manifest.version, p->manifest.tools.size(),
            [&] {
              std::vector<std::string_view> n;
              for (auto f : p->profile.granted) n.push_back(plugin::name_of(f));
              return fmt::format("{}", fmt::join(n, ", "));
            }());
  if (!p->kv) _log.warning("plugin '{}': {}; kv_get and kv_put answer WEFT_E_IO, ignoring.", name, p->kv_error);
}

namespace {

wasm::limits limits_of(const plugin::profile& p) {
  wasm::limits l;
  l.max_memory_pages = p.limits.memory_mib * 16;  // 64 KiB pages
  l.fuel = p.limits.instructions;
  return l;
}

}  // namespace

result<tools::tool::result> plugin_host::call(const std::string& plugin, const std::string& tool_name,
                                              const json& args) {
  auto it = std::find_if(_plugins.begin(), _plugins.end(), [&](auto& p) { return p->name == plugin; });
  if (it == _plugins.end()) return tool::make(tool::error_code::no_such_tool, "no plugin '{}'", plugin);
  auto& p = **it;
  auto t = std::find_if(p.manifest.tools.begin(), p.manifest.tools.end(), [&](auto& x) { return x.name == tool_name; });
  if (t == p.manifest.tools.end()) return tool::make(tool::error_code::no_such_tool, "plugin '{}' has no tool '{}'", plugin, tool_name);
  auto shown = bus_tool_name(plugin, tool_name);
  // This thread keeps only what the plugins were granted, from its first plugin call on
  // (once per thread: layers stack).
  static thread_local bool confined = false;
  if (!confined && _layer) {
    if (const char* step = _layer->apply())
      return tool::make(tool::error_code::failed, "Failed to confine the thread that runs plugin '{}': {}: {}", plugin,
                        step, std::strerror(errno));
    confined = true;
  }
  std::lock_guard lock(p.mu);

  auto failed = [&](std::string_view code, const std::string& message) {
    json s{{"plugin", plugin}, {"tool", tool_name}, {"error", code}, {"disabled", p.disabled}};
    tool::result r;
    r.content = fmt::format("Failed to run plugin tool '{}': {}: {}", shown, code, message);
    r.is_error = true;
    r.structured = s.dump();
    return r;
  };
  if (p.disabled) return failed("Disabled", p.disabled_reason);
  // A trap (or a call over its time): the instance is not trusted any more; the next call
  // gets a fresh one, and too many in a row disable the plugin.
  auto trapped = [&](std::string code, const std::string& message) {
    p.instance.reset();
    ++p.traps_in_row;
    if (p.traps_in_row >= _opts.max_traps) {
      p.disabled = true;
      p.disabled_reason = fmt::format("plugin '{}' is disabled after {} traps in a row (the last: {}: {}); "
                                      "restart tool-plugins-{} to enable it again",
                                      plugin, p.traps_in_row, code, message, _ws.agent());
      _log.error("{}", p.disabled_reason);
      if (_opts.on_event) {
        _opts.on_event({plugin, tool_name, "trap", code, message});
        _opts.on_event({plugin, tool_name, "disabled", code, p.disabled_reason});
      }
      auto r = failed(code, message + "; " + p.disabled_reason);
      return r;
    }
    _log.warning("plugin '{}': tool '{}' trapped ({}: {}); the instance is made again for the next call", plugin,
                 tool_name, code, message);
    if (_opts.on_event) _opts.on_event({plugin, tool_name, "trap", code, message});
    return failed(code, message + "; the plugin is restarted for the next call");
  };
  auto call_export = [&](std::string_view name, std::vector<wasm::value> a) { return p.instance->call(name, a); };

  if (!p.instance) {
    p.in_call = false;
    p.log_lines = 0;
    auto inst = p.engine->instantiate(*p.module, p.host, limits_of(p.profile));
    if (!inst) {
      if (wasm::is_trap(inst.err())) return trapped(inst.err().code, inst.err().message);
      return failed(inst.err().code, inst.err().message);
    }
    p.instance = std::move(*inst);
    auto exports = p.module->exports();
    auto has = [&](std::string_view n) {
      return std::any_of(exports.begin(), exports.end(), [&](auto& x) { return x.name == n; });
    };
    if (has(abi::export_initialize)) {
      auto r = call_export(abi::export_initialize, {});
      if (!r) return trapped(r.err().code, r.err().message);
    }
    auto v = call_export(abi::export_abi_version, {});
    if (!v) return trapped(v.err().code, v.err().message);
    if (v->size() != 1 || (*v)[0].as_i32() != abi::version) {
      p.instance.reset();
      p.disabled = true;
      p.disabled_reason = fmt::format("plugin '{}' was built for ABI version {}, this host runs version {}", plugin,
                                      v->empty() ? -1 : (*v)[0].as_i32(), abi::version);
      _log.error("{}", p.disabled_reason);
      if (_opts.on_event) _opts.on_event({plugin, tool_name, "disabled", "Disabled", p.disabled_reason});
      return failed("Disabled", p.disabled_reason);
    }
  }

  auto text = args.dump();
  if (text.size() > static_cast<std::size_t>(INT32_MAX)) return tool::make(tool::error_code::bad_arguments, "arguments too large");
  auto len = static_cast<std::uint32_t>(text.size());
  auto ptr = call_export(abi::export_alloc, {wasm::value::i32(len)});
  if (!ptr) return trapped(ptr.err().code, ptr.err().message);
  auto at = ptr->empty() ? 0u : (*ptr)[0].as_u32();
  if (at == 0 && len > 0) return failed("OutOfMemory", fmt::format("weft_alloc({}) returned 0", len));
  if (auto w = p.instance->memory().write(at, std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size())); !w)
    return trapped(w.err().code, "weft_alloc returned a buffer outside its memory: " + w.err().message);

  p.in_call = true;
  p.result_data.reset();
  p.result_is_error = false;
  p.log_lines = 0;
  p.fetches = 0;
  p.tool = tool_name;
  auto started = p.started = std::chrono::steady_clock::now();
  auto r = call_export(t->export_name, {wasm::value::i32(at), wasm::value::i32(len)});
  auto took = std::chrono::steady_clock::now() - started;
  p.in_call = false;
  if (!r) {
    if (wasm::is_trap(r.err()) || r.err().code == wasm::errc::poisoned) return trapped(r.err().code, r.err().message);
    return failed(r.err().code, r.err().message);
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(took).count();
  if (ms > static_cast<std::int64_t>(p.profile.limits.time_ms))
    return trapped("Timeout", fmt::format("the call took {} ms, over its limit of {} ms", ms, p.profile.limits.time_ms));
  if (auto f = call_export(abi::export_free, {wasm::value::i32(at), wasm::value::i32(len)}); !f)
    return trapped(f.err().code, f.err().message);
  p.traps_in_row = 0;

  auto st = r->empty() ? 0 : (*r)[0].as_i32();
  tool::result out;
  json s{{"plugin", plugin}, {"tool", tool_name}, {"status", st}};
  if (st >= 0) {
    out.content = p.result_data.value_or("");
    out.is_error = p.result_is_error;
  } else {
    out.content = p.result_data ? *p.result_data : fmt::format("status {} ({})", st, code_name(st));
    out.is_error = true;
    s["error"] = code_name(st);
  }
  out.structured = s.dump();
  return out;
}

sandbox::thread_layer::spec plugin_host::thread_spec() const {
  sandbox::thread_layer::spec out;
  auto add = [](std::vector<std::string>& to, const std::string& path) {
    if (std::find(to.begin(), to.end(), path) == to.end()) to.push_back(path);
  };
  for (auto& p : _plugins) {
    for (auto& path : p->profile.sandbox.read_write) add(out.read_write, path);
    for (auto& path : p->profile.sandbox.read_only) add(out.read_only, path);
    add(out.read_write, _ws.root() + "/.plugin-data/" + p->name);
  }
  // libcurl's TLS: the trust store and OpenSSL's configuration.
  for (auto path : {"/etc/ssl", "/usr/lib/ssl", "/usr/share/ca-certificates"}) add(out.read_only, path);
  return out;
}

std::vector<plugin_status> plugin_host::status() const {
  std::vector<plugin_status> out = _refused;
  for (auto& p : _plugins) {
    std::lock_guard lock(p->mu);
    plugin_status s{.name = p->name, .version = p->manifest.version, .loaded = true, .disabled = p->disabled,
                    .error = p->disabled_reason};
    for (auto& t : p->manifest.tools) s.tools.push_back(bus_tool_name(p->name, t.name));
    for (auto c : p->manifest.unsupported()) s.unsupported.emplace_back(plugin::name_of(c));
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.name < b.name; });
  return out;
}

std::vector<tools::tool_def> plugin_host::tools() {
  std::vector<tools::tool_def> out;
  for (auto& p : _plugins)
    for (auto& t : p->manifest.tools) {
      tools::tool_def d;
      d.spec.name = bus_tool_name(p->name, t.name);
      d.spec.description = t.description;
      d.spec.input_schema = t.input_schema.empty() ? std::string(R"({"type":"object"})") : t.input_schema;
      d.run = [this, plugin = p->name, name = t.name](const json& args, const tools::call_context&) {
        return call(plugin, name, args);
      };
      out.push_back(std::move(d));
    }
  tools::tool_def st;
  st.spec.name = "plugins_status";
  st.spec.description = "Every plugin folder of the agent: loaded, refused or disabled, and why";
  st.spec.input_schema = R"({"type":"object"})";
  st.hidden = true;
  st.run = [this](const json&, const tools::call_context&) -> result<tool::result> {
    json list = json::array();
    std::string text;
    for (auto& s : status()) {
      list.push_back({{"name", s.name}, {"version", s.version}, {"loaded", s.loaded}, {"disabled", s.disabled},
                      {"error", s.error}, {"tools", s.tools}, {"unsupported", s.unsupported}});
      text += fmt::format("{} {}: {}{}\n", s.name, s.version,
                          s.disabled ? "disabled" : !s.loaded ? "refused" : "loaded",
                          s.error.empty() ? "" : " (" + s.error + ")");
    }
    return tools::answer(text, json{{"plugins", list}});
  };
  out.push_back(std::move(st));
  return out;
}

}  // namespace weft::plugin_host
