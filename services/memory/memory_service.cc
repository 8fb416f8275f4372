#include "services/memory/memory_service.hh"

#include <fcntl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "proto/bus_v1.hh"
#include "proto/llm_v1.hh"
#include "proto/memory_v1.hh"
#include "services/memory/witness_log.hh"

namespace weft::memory {

namespace fs = std::filesystem;
namespace mem = proto::memory_v1;
namespace lv = proto::llm_v1;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t embed_batch = 64;          ///< texts per Embed request, at most
constexpr std::size_t embed_text_bytes = 8192;   ///< each text is cut to this for embedding
constexpr auto embed_timeout = 150s;             ///< an Embed reply later than this is given up
constexpr std::size_t embeds_in_flight = 2;      ///< Embed requests at once (all namespaces)
constexpr auto search_embed_timeout = 10s;       ///< a search waits this long for its query vector
constexpr auto embed_retry_after = 60s;          ///< after a failed Embed
constexpr auto embed_retry_soon = 2s;            ///< after llm was not on the bus
constexpr auto file_lifetime = 10min;            ///< unread exports and unfinished imports
constexpr std::uint32_t max_chunk = 4u << 20;      ///< the protocol's limit; the bus's may be lower
constexpr std::uint64_t max_import_bytes = 64ull << 30;
constexpr std::size_t max_transfers = 8;         ///< exports plus imports open at once
constexpr std::size_t max_transfers_per_caller = 2;
constexpr std::size_t max_messages_per_pass = 256;  ///< then commit, beat and come back
constexpr std::size_t max_subject_bytes = 80;    ///< of a caller-supplied name in logs and audit

bool is_admin(std::string_view from) { return from == "weftd" || from.substr(0, 4) == "ctl/"; }

/// Exports and imports in progress. The leading dot keeps it apart from the namespaces:
/// no agent id starts with one.
fs::path transfer_dir(const fs::path& home) { return home / "memory" / ".transfer"; }

std::vector<float> floats_of(const wire::bytes& b) {
  std::vector<float> v(b.size() / sizeof(float));
  std::memcpy(v.data(), b.data(), v.size() * sizeof(float));
  return v;
}

}  // namespace

result<access> authorize(const service::config& cfg, std::string_view from, std::string_view requested, bool write) {
  if (is_admin(from)) {
    if (requested.empty()) return mem::make(mem::error_code::bad_request, "name the agent whose memory to use");
    if (!cfg.agents.count(std::string(requested)))
      return mem::make(mem::error_code::bad_request, "agent '{}' is not in [agents]", requested);
    return access{std::string(requested), true};
  }
  if (from.substr(0, 6) != "agent/" || from.size() == 6 || from.find('/', 6) != std::string_view::npos)
    return mem::make(mem::error_code::denied, "'{}' has no memory namespace; only agents, weftd and weftctl do",
                     from);
  auto own = std::string(from.substr(6));
  if (requested.empty() || requested == own) return access{own, false};
  if (!write)
    for (auto& s : cfg.memory.shares)
      if (s.owner == requested && std::find(s.readers.begin(), s.readers.end(), own) != s.readers.end())
        return access{std::string(requested), false};
  return mem::make(mem::error_code::denied, "agent '{}' may not {} the memory of agent '{}'{}", own,
                   write ? "change" : "read", requested.substr(0, max_subject_bytes),
                   write ? "" : " (no [[memory.shares]] entry names it as a reader)");
}

result<std::string> configured_embedder(const service::config& cfg) {
  const service::provider_settings* p = nullptr;
  auto enabled = [&](const std::string& name) -> const service::provider_settings* {
    auto it = cfg.providers.find(name);
    return it != cfg.providers.end() && it->second.enabled ? &it->second : nullptr;
  };
  if (!cfg.llm.embedding_provider.empty()) {
    p = enabled(cfg.llm.embedding_provider);
    if (!p) return fail(errc::not_found, "embedding provider '{}' is not configured or has no API key",
                        cfg.llm.embedding_provider);
  } else if (!cfg.llm.default_provider.empty()) {
    p = enabled(cfg.llm.default_provider);
  } else {
    for (auto& [name, s] : cfg.providers)
      if (s.enabled && !p) p = &s;
  }
  if (!p) return fail(errc::not_found, "no embedding provider is configured");
  auto model = !cfg.llm.embedding_model.empty() ? cfg.llm.embedding_model : p->embedding_model;
  if (model.empty()) return fail(errc::not_found, "provider '{}' has no embedding model", p->name);
  if (p->style == service::api_style::anthropic)
    return fail(errc::not_found, "provider '{}' (Anthropic API) has no embeddings; set [llm] embedding_provider",
                p->name);
  return p->name + "/" + model;
}

memory_service::memory_service(zmq::context_t& ctx, ipc::bus_client& bus, service::config cfg, std::string home)
    : _ctx(ctx), _bus(bus), _cfg(std::move(cfg)), _home(std::move(home)), _log(log::get("memory")) {
  if (auto e = configured_embedder(_cfg)) _embedder = *e;
  else _no_embedder = e.err().message;
  _log.info("memory: {} agents; {}", _cfg.agents.size(),
            _embedder.empty() ? "keyword search only (BM25): " + _no_embedder : "embeddings from " + _embedder);
  auto w = witness_log::open(_ctx, _home);
  if (w) _witness = std::move(*w);
  else _log.error("{}; agent actions are NOT being witnessed", w.err().message);
  _next_checkpoint = clock::now() + std::chrono::seconds(_cfg.memory.checkpoint_s);
}

memory_service::~memory_service() = default;

result<memory_namespace*> memory_service::space(const std::string& agent) {
  if (auto it = _spaces.find(agent); it != _spaces.end()) return it->second.get();
  auto ns = memory_namespace::open(_home / "memory" / agent, agent, _cfg.memory, [this] {
    if (_notify) (void)_notify->beat_if_due();
  });
  if (!ns) return mem::make(mem::error_code::storage, "Failed to open the memory of agent '{}': {}", agent,
                            ns.err().message);
  auto* p = ns->get();
  _spaces[agent] = std::move(*ns);
  return p;
}

std::string memory_service::search_mode(const memory_namespace& ns) const {
  if (!_no_embedder.empty()) return "keyword only (BM25): " + _no_embedder;
  if (ns.has_vectors())
    return fmt::format("hybrid: BM25 + vectors ({}, {} dimensions)", ns.embedder(), ns.statistics("").dims);
  return fmt::format("keyword (BM25) until the first embeddings arrive from {}", _embedder);
}

void memory_service::witness(std::string_view actor, std::string_view kind, std::string_view subject,
                             std::string detail) {
  if (_witness) _witness->record(actor, kind, subject, std::move(detail));
}

void memory_service::deny(const ipc::message& m, std::string_view target, const error& e) {
  _log.warning("Denied {} from '{}': {}", m.env.type, m.env.from, e.message);
  auto subject = fmt::format("memory/{}", target.empty() ? "?" : target.substr(0, max_subject_bytes));
  (void)_bus.publish(proto::bus_v1::access_denied{m.env.from, subject, m.env.type, "memory namespaces"});
  witness(m.env.from, "access_denied", subject, e.message);
  (void)_bus.reply_error(m, e);
}

std::optional<access> memory_service::allow(const ipc::message& m, std::string_view requested, bool write) {
  auto a = authorize(_cfg, m.env.from, requested, write);
  if (a) return *a;
  if (mem::is(a.err(), mem::error_code::denied)) deny(m, requested, a.err());
  else (void)_bus.reply_error(m, a.err());
  return std::nullopt;
}

// -------------------------------------------------------------------------------------
// Requests

void memory_service::dispatch(const ipc::message& m) {
  if (m.env.kind == ipc::bus::kind::reply || m.env.kind == ipc::bus::kind::error) return on_reply(m);
  if (m.env.kind != ipc::bus::kind::request) return;
  const auto& t = m.env.type;
  if (t == mem::put::type_name) return handle_put(m);
  if (t == mem::search::type_name) return handle_search(m);
  if (t == mem::forget::type_name) return handle_forget(m, false);
  if (t == mem::wipe::type_name) return handle_forget(m, true);
  if (t == mem::stats::type_name) return handle_stats(m);
  if (t == mem::export_begin::type_name) return handle_export(m);
  if (t == mem::read_chunk::type_name) return handle_read_chunk(m);
  if (t == mem::import_begin::type_name) return handle_import_begin(m);
  if (t == mem::write_chunk::type_name) return handle_write_chunk(m);
  if (t == mem::import_commit::type_name) return handle_import_commit(m);
  (void)_bus.reply_error(m, ipc::bus::make(ipc::bus::error_code::bad_request, "memory does not serve '{}'", t));
}

void memory_service::handle_put(const ipc::message& m) {
  auto p = m.as<mem::put>();
  if (!p) return (void)_bus.reply_error(m, p.err());
  auto a = allow(m, p->agent, true);
  if (!a) return;
  auto ns = space(a->agent);
  if (!ns) return (void)_bus.reply_error(m, ns.err());
  auto r = (*ns)->put(*p, utc_now());
  if (!r) {
    if (mem::is(r.err(), mem::error_code::storage)) broke(a->agent);
    return (void)_bus.reply_error(m, r.err());
  }
  std::optional<witnessed> w;
  if (!r->duplicate)
    w = witnessed{m.env.from, "memory_write", fmt::format("memory/{}/{}", a->agent, r->id),
                  fmt::format("put {} ({} bytes{})", mem::to_string(p->kind), p->text.size(),
                              p->session.empty() ? "" : ", session " + p->session.substr(0, max_subject_bytes))};
  reply_after_commit(m, a->agent, mem::stored{r->id, r->duplicate}, std::move(w));
}

void memory_service::handle_forget(const ipc::message& m, bool wipe) {
  std::string requested;
  mem::forget f;
  if (wipe) {
    auto w = m.as<mem::wipe>();
    if (!w) return (void)_bus.reply_error(m, w.err());
    requested = w->agent;
  } else {
    auto r = m.as<mem::forget>();
    if (!r) return (void)_bus.reply_error(m, r.err());
    f = std::move(*r);
    requested = f.agent;
  }
  auto a = allow(m, requested, true);
  if (!a) return;
  if (wipe && !a->admin)
    return deny(m, a->agent, mem::make(mem::error_code::denied, "only weftd and weftctl may wipe a namespace"));
  auto ns = space(a->agent);
  if (!ns) return (void)_bus.reply_error(m, ns.err());
  auto r = wipe ? (*ns)->wipe() : (*ns)->forget(f.ids);
  if (!r) {
    if (mem::is(r.err(), mem::error_code::storage)) broke(a->agent);
    return (void)_bus.reply_error(m, r.err());
  }
  std::optional<witnessed> w;
  if (*r)
    w = witnessed{m.env.from, "memory_write", fmt::format("memory/{}", a->agent),
                  wipe ? fmt::format("wipe ({} entries)", *r) : fmt::format("forget {} of {} ids", *r, f.ids.size())};
  reply_after_commit(m, a->agent, mem::forgotten{*r}, std::move(w));
}

void memory_service::handle_stats(const ipc::message& m) {
  auto s = m.as<mem::stats>();
  if (!s) return (void)_bus.reply_error(m, s.err());
  auto a = allow(m, s->agent, false);
  if (!a) return;
  auto ns = space(a->agent);
  if (!ns) return (void)_bus.reply_error(m, ns.err());
  (void)_bus.reply(m, (*ns)->statistics(search_mode(**ns)));
}

void memory_service::handle_search(const ipc::message& m) {
  auto s = m.as<mem::search>();
  if (!s) return (void)_bus.reply_error(m, s.err());
  if (s->k < 1 || s->k > 100) return (void)_bus.reply_error(m, mem::make(mem::error_code::bad_request, "k must be 1 to 100, not {}", s->k));
  if (s->query.empty() || s->query.size() > 4096)
    return (void)_bus.reply_error(m, mem::make(mem::error_code::bad_request, "the query must be 1 to 4096 bytes"));
  auto a = allow(m, s->agent, false);
  if (!a) return;
  auto ns = space(a->agent);
  if (!ns) return (void)_bus.reply_error(m, ns.err());
  search_job j{m, a->agent, std::move(*s), clock::now() + search_embed_timeout};
  if (j.s.mode == mem::mode::vector && !_no_embedder.empty())
    return (void)_bus.reply_error(m, mem::make(mem::error_code::bad_request, "vector search is not available: {}",
                                               _no_embedder));
  if (j.s.mode == mem::mode::keyword || !(*ns)->has_vectors() || !_no_embedder.empty()) {
    std::string note;
    if (j.s.mode != mem::mode::keyword)
      note = !_no_embedder.empty() ? "keyword search only: " + _no_embedder
                                   : "keyword search only: no entry of this agent has a vector yet";
    return answer_search(j, std::nullopt, note);
  }
  auto id = _bus.send_request("llm", lv::embed{a->agent, {j.s.query}, ""});
  if (!id) return answer_search(j, std::nullopt, "keyword search only: " + id.err().message);
  _searches.emplace(*id, std::move(j));
}

void memory_service::answer_search(search_job& j, std::optional<std::vector<float>> qv, std::string note) {
  auto ns = space(j.agent);
  if (!ns) return (void)_bus.reply_error(j.req, ns.err());
  search_request r{std::move(j.s), std::move(qv), std::move(note)};
  (void)_bus.reply(j.req, (*ns)->search(r, utc_now()));
}

void memory_service::on_reply(const ipc::message& m) {
  if (auto it = _searches.find(m.env.id); it != _searches.end()) {
    auto j = std::move(it->second);
    _searches.erase(it);
    if (m.is_error()) return answer_search(j, std::nullopt, "keyword search only: " + m.to_error().message);
    auto e = m.as<lv::embeddings>();
    if (!e || e->vectors.size() != 1) return answer_search(j, std::nullopt, "keyword search only: bad embeddings reply");
    return answer_search(j, floats_of(e->vectors[0]), "");
  }
  auto it = _embeds.find(m.env.id);
  if (it == _embeds.end()) return;
  auto job = std::move(it->second);
  _embeds.erase(it);
  auto ns = space(job.agent);
  if (!ns) return;
  if (m.is_error()) {
    auto e = m.to_error();
    (*ns)->requeue(job.labels);
    if (ipc::bus::is(e, ipc::bus::error_code::no_such_address)) {
      // llm is not up yet (memory starts first) or restarting: soon again, quietly.
      _embed_retry = clock::now() + embed_retry_soon;
      return;
    }
    if (lv::is(e, lv::error_code::not_configured)) {
      if (_no_embedder != e.message) _log.warning("Embeddings unavailable, keyword search only: {}", e.message);
      _no_embedder = e.message;
    } else if (lv::is(e, lv::error_code::bad_request) || lv::is(e, lv::error_code::upstream) ||
               ipc::bus::is(e, ipc::bus::error_code::too_large)) {
      // The provider refused these texts. One at a time, so one bad text cannot hold up the
      // rest; a single one refused stays keyword-only.
      if (job.labels.size() == 1) {
        (*ns)->unembeddable(job.labels[0]);
        _log.warning("memory '{}': an entry could not be embedded ({}); it is found by keywords only", job.agent,
                     e.message);
        return;
      }
      (*ns)->embed_singly(job.labels.size());
      _log.warning("Failed to embed {} entries of agent '{}': {}; trying them one by one", job.labels.size(),
                   job.agent, e.message);
      return;
    } else {
      _log.warning("Failed to embed {} entries of agent '{}': {}; retrying in {} s", job.labels.size(), job.agent,
                   e.message, embed_retry_after.count());
    }
    _embed_retry = clock::now() + embed_retry_after;
    return;
  }
  auto e = m.as<lv::embeddings>();
  if (!e || e->vectors.size() != job.labels.size()) {
    (*ns)->requeue(job.labels);
    _embed_retry = clock::now() + embed_retry_after;
    _log.warning("Failed to embed entries of agent '{}': the embeddings reply does not match the request", job.agent);
    return;
  }
  _no_embedder.clear();
  (*ns)->embedded(job.labels.size());
  for (std::size_t i = 0; i < job.labels.size(); ++i) {
    auto v = floats_of(e->vectors[i]);
    auto model = _embedder.empty() ? e->model : _embedder.substr(0, _embedder.find('/') + 1) + e->model;
    if (auto s = (*ns)->add_vector(job.labels[i], std::move(v), model, job.ids[i]); !s)
      _log.error("memory '{}': {}", job.agent, s.err().message);
  }
}

// -------------------------------------------------------------------------------------
// Export and import in chunks

void memory_service::handle_export(const ipc::message& m) {
  auto r = m.as<mem::export_begin>();
  if (!r) return (void)_bus.reply_error(m, r.err());
  // A whole namespace leaves only for its owner or an admin; a share is for searching.
  auto a = allow(m, r->agent, true);
  if (!a) return;
  if (_exports.size() + _imports.size() >= max_transfers || transfers_of(m.env.from) >= max_transfers_per_caller)
    return (void)_bus.reply_error(m, mem::make(mem::error_code::too_large, "too many exports and imports are open ({} in all, {} per caller); try again later", max_transfers, max_transfers_per_caller));
  auto ns = space(a->agent);
  if (!ns) return (void)_bus.reply_error(m, ns.err());
  auto id = fmt::format("exp-{}-{}", ::getpid(), _next_file++);
  auto path = transfer_dir(_home) / (id + ".wmem");
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  auto meta = (*ns)->export_to(path);
  if (!meta) return (void)_bus.reply_error(m, meta.err());
  _exports[id] = export_file{path, meta->bytes, m.env.from, clock::now() + file_lifetime};
  _log.info("Exported {} entries of agent '{}' for '{}' ({} bytes)", meta->entries, a->agent, m.env.from, meta->bytes);
  (void)_bus.reply(m, mem::export_ready{id, meta->bytes, meta->entries, meta->sha256});
}

void memory_service::handle_read_chunk(const ipc::message& m) {
  auto r = m.as<mem::read_chunk>();
  if (!r) return (void)_bus.reply_error(m, r.err());
  auto it = _exports.find(r->snapshot);
  if (it == _exports.end() || it->second.owner != m.env.from)
    return (void)_bus.reply_error(m, mem::make(mem::error_code::not_found, "no export '{}' (exports are kept for {} minutes)", r->snapshot, std::chrono::duration_cast<std::chrono::minutes>(file_lifetime).count()));
  auto& f = it->second;
  if (r->offset > f.bytes) return (void)_bus.reply_error(m, mem::make(mem::error_code::bad_request, "offset {} is past the end ({} bytes)", r->offset, f.bytes));
  // A reply must fit the bus's message limit, envelope included.
  std::uint64_t fits = _cfg.bus.max_message_bytes > (64u << 10) ? _cfg.bus.max_message_bytes - (32u << 10) : 4096;
  auto n = static_cast<std::size_t>(
      std::min<std::uint64_t>({r->max == 0 ? max_chunk : r->max, max_chunk, fits, f.bytes - r->offset}));
  mem::chunk c;
  c.offset = r->offset;
  c.data.resize(n);
  int fd = ::open(f.path.c_str(), O_RDONLY | O_CLOEXEC);
  ssize_t got = fd < 0 ? -1 : ::pread(fd, c.data.data(), n, static_cast<off_t>(r->offset));
  int err = errno;
  if (fd >= 0) ::close(fd);
  if (got != static_cast<ssize_t>(n))
    return (void)_bus.reply_error(m, mem::make(mem::error_code::storage, "Failed to read export '{}': {}", r->snapshot, got < 0 ? std::strerror(err) : "short read"));
  c.eof = r->offset + n == f.bytes;
  f.expires = clock::now() + file_lifetime;
  (void)_bus.reply(m, c);
  if (c.eof) {
    std::error_code ec;
    fs::remove(f.path, ec);
    _exports.erase(it);
  }
}

void memory_service::handle_import_begin(const ipc::message& m) {
  auto r = m.as<mem::import_begin>();
  if (!r) return (void)_bus.reply_error(m, r.err());
  if (!is_admin(m.env.from))
    return deny(m, r->agent, mem::make(mem::error_code::denied, "only weftd and weftctl may import a snapshot"));
  if (!r->agent.empty() && !_cfg.agents.count(r->agent))
    return (void)_bus.reply_error(m, mem::make(mem::error_code::bad_request, "agent '{}' is not in [agents]", r->agent));
  if (r->bytes == 0 || r->bytes > max_import_bytes)
    return (void)_bus.reply_error(m, mem::make(mem::error_code::too_large, "a snapshot must be 1 byte to {} GiB", max_import_bytes >> 30));
  if (_exports.size() + _imports.size() >= max_transfers || transfers_of(m.env.from) >= max_transfers_per_caller)
    return (void)_bus.reply_error(m, mem::make(mem::error_code::too_large, "too many exports and imports are open ({} in all, {} per caller); try again later", max_transfers, max_transfers_per_caller));
  auto id = fmt::format("imp-{}-{}", ::getpid(), _next_file++);
  auto path = transfer_dir(_home) / (id + ".part");
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return (void)_bus.reply_error(m, mem::make(mem::error_code::storage, "Failed to create '{}': {}", path.string(), std::strerror(errno)));
  ::close(fd);
  _imports[id] = import_file{path, r->agent, r->bytes, 0, m.env.from, clock::now() + file_lifetime};
  (void)_bus.reply(m, mem::import_started{id});
}

void memory_service::handle_write_chunk(const ipc::message& m) {
  auto r = m.as<mem::write_chunk>();
  if (!r) return (void)_bus.reply_error(m, r.err());
  auto it = _imports.find(r->id);
  if (it == _imports.end() || it->second.owner != m.env.from)
    return (void)_bus.reply_error(m, mem::make(mem::error_code::not_found, "no import '{}' in progress", r->id));
  auto& f = it->second;
  if (!r->data.empty() && r->offset < f.received && r->offset + r->data.size() == f.received)
    return (void)_bus.reply(m, mem::chunk{{}, f.received, false});  // a resent chunk, already written
  if (r->offset != f.received)
    return (void)_bus.reply_error(m, mem::make(mem::error_code::bad_request, "chunk at {} but {} bytes were received", r->offset, f.received));
  if (r->data.size() > max_chunk || f.received + r->data.size() > f.expected)
    return (void)_bus.reply_error(m, mem::make(mem::error_code::too_large, "more bytes than the {} announced", f.expected));
  int fd = ::open(f.path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  bool ok = fd >= 0 && ::write(fd, r->data.data(), r->data.size()) == static_cast<ssize_t>(r->data.size());
  int err = errno;
  if (fd >= 0) ::close(fd);
  if (!ok) return (void)_bus.reply_error(m, mem::make(mem::error_code::storage, "Failed to write '{}': {}", f.path.string(), std::strerror(err)));
  f.received += r->data.size();
  f.expires = clock::now() + file_lifetime;
  (void)_bus.reply(m, mem::chunk{{}, f.received, f.received == f.expected});
}

void memory_service::handle_import_commit(const ipc::message& m) {
  auto r = m.as<mem::import_commit>();
  if (!r) return (void)_bus.reply_error(m, r.err());
  auto it = _imports.find(r->id);
  if (it == _imports.end() || it->second.owner != m.env.from)
    return (void)_bus.reply_error(m, mem::make(mem::error_code::not_found, "no import '{}' in progress", r->id));
  auto f = it->second;
  _imports.erase(it);
  auto cleanup = [&] {
    std::error_code ec;
    fs::remove(f.path, ec);
  };
  if (f.received != f.expected) {
    cleanup();
    return (void)_bus.reply_error(m, mem::make(mem::error_code::corrupt, "the snapshot is incomplete: {} of {} bytes arrived; nothing was changed", f.received, f.expected));
  }
  auto meta = memstore::verify_snapshot(f.path);
  if (!meta) {
    cleanup();
    return (void)_bus.reply_error(m, mem::make(mem::error_code::corrupt, "{}; nothing was changed", meta.err().message));
  }
  auto agent = f.agent.empty() ? meta->agent : f.agent;
  if (!_cfg.agents.count(agent)) {
    cleanup();
    return (void)_bus.reply_error(m, mem::make(mem::error_code::bad_request, "the snapshot is of agent '{}', which is not in [agents]; import with --agent ID", agent));
  }
  auto ns = space(agent);
  if (!ns) {
    cleanup();
    return (void)_bus.reply_error(m, ns.err());
  }
  auto done = (*ns)->import_from(f.path, *meta, r->replace);
  cleanup();
  if (!done) {
    if (mem::is(done.err(), mem::error_code::storage)) broke(agent);  // reopened from disk
    return (void)_bus.reply_error(m, done.err());
  }
  witness(m.env.from, "memory_write", fmt::format("memory/{}", agent),
          fmt::format("import {} entries{} from a snapshot of agent '{}' (sha256 {})", done->added,
                      r->replace ? " replacing all" : "", meta->agent, meta->sha256));
  if (_witness) _witness->sync();  // witnessed before the importer hears of it
  _log.info("Imported {} entries ({} skipped) into agent '{}'", done->added, done->skipped, agent);
  (void)_bus.reply(m, mem::imported{agent, done->added, done->skipped});
}

std::size_t memory_service::transfers_of(const std::string& owner) const {
  std::size_t n = 0;
  for (auto& [id, f] : _exports) n += f.owner == owner;
  for (auto& [id, f] : _imports) n += f.owner == owner;
  return n;
}

// -------------------------------------------------------------------------------------
// The loop

void memory_service::commit_all() {
  std::map<std::string, error> failed;
  for (auto& agent : _broken)
    failed.emplace(agent, mem::make(mem::error_code::storage, "the memory store of agent '{}' failed a write; "
                                                              "nothing since its last sync was kept",
                                    agent));
  for (auto& [agent, ns] : _spaces) {
    if (!ns->dirty() || failed.count(agent)) continue;
    if (auto s = ns->commit(); !s) {
      _log.error("Failed to commit the memory of agent '{}': {}; its unacknowledged writes are refused and the "
                 "store is reopened",
                 agent, s.err().message);
      failed.emplace(agent, s.err());
    }
  }
  // Durable writes are witnessed, and the witness synced, before anyone hears of them.
  for (auto& w : _waiting)
    if (w.record && !failed.count(w.agent)) witness(w.record->actor, w.record->kind, w.record->subject, w.record->detail);
  if (_witness) _witness->sync();
  for (auto& w : _waiting) {
    if (auto f = failed.find(w.agent); f != failed.end()) (void)_bus.reply_error(w.req, f->second);
    else (void)_bus.reply(w.req, w.type, std::move(w.payload));
  }
  _waiting.clear();
  for (auto& [agent, e] : failed) _spaces.erase(agent);
  _broken.clear();
}

std::size_t memory_service::embed_batch_size() const {
  // The reply carries every vector: keep it under half the bus's message limit. Until the
  // dimensions are known, assume 4096 (the largest common embedding).
  std::size_t dims = 4096;
  for (auto& [agent, ns] : _spaces)
    if (auto d = ns->statistics("").dims) dims = std::min<std::size_t>(dims, d);
  auto fit = (_cfg.bus.max_message_bytes / 2) / (dims * sizeof(float) + 64);
  return std::clamp<std::size_t>(fit, 1, embed_batch);
}

void memory_service::feed_embedder() {
  if (!_no_embedder.empty() && _embedder.empty()) return;  // nothing configured
  if (clock::now() < _embed_retry) return;
  auto batch_size = embed_batch_size();
  for (auto& [agent, ns] : _spaces) {
    if (_embeds.size() >= embeds_in_flight) return;
    auto batch = ns->take_unembedded(ns->single_embeds() ? 1 : batch_size);
    if (batch.empty()) continue;
    lv::embed e{agent, {}, ""};
    std::vector<std::uint32_t> labels;
    std::vector<std::string> ids;
    for (auto& p : batch) {
      if (p.text.size() > embed_text_bytes) p.text.resize(embed_text_bytes);  // the model's input limit
      e.inputs.push_back(std::move(p.text));
      labels.push_back(p.label);
      ids.push_back(std::move(p.id));
    }
    auto id = _bus.send_request("llm", e);
    if (!id) {
      ns->requeue(labels);
      _embed_retry = clock::now() + embed_retry_soon;
      return;
    }
    _embeds.emplace(*id, embed_job{agent, std::move(labels), std::move(ids), clock::now() + embed_timeout});
  }
}

void memory_service::run_timers(bool stopping) {
  auto now = clock::now();
  for (auto it = _embeds.begin(); it != _embeds.end();) {
    if (it->second.deadline > now) {
      ++it;
      continue;
    }
    // No answer (llm restarted, or the reply was lost): ask again later.
    _bus.forget(it->first);
    if (auto ns = _spaces.find(it->second.agent); ns != _spaces.end()) ns->second->requeue(it->second.labels);
    it = _embeds.erase(it);
  }
  for (auto it = _searches.begin(); it != _searches.end();) {
    if (it->second.deadline > now && !stopping) {
      ++it;
      continue;
    }
    _bus.forget(it->first);
    auto j = std::move(it->second);
    it = _searches.erase(it);
    answer_search(j, std::nullopt, "keyword search only: the embedder did not answer in time");
  }
  auto expire = [&](auto& files) {
    std::error_code ec;
    std::erase_if(files, [&](auto& kv) {
      if (kv.second.expires >= now) return false;
      fs::remove(kv.second.path, ec);
      return true;
    });
  };
  expire(_exports);
  expire(_imports);
  if (now >= _next_checkpoint || stopping) {
    _next_checkpoint = now + std::chrono::seconds(_cfg.memory.checkpoint_s);
    for (auto& [agent, ns] : _spaces)
      if (auto s = ns->checkpoint(utc_now()); !s)
        _log.error("Failed to checkpoint the vectors of agent '{}': {}", agent, s.err().message);
  }
}

int memory_service::run(service::notifier& n, int signal_fd) {
  _notify = &n;
  // Leftovers of transfers interrupted by a restart.
  std::error_code ec;
  fs::remove_all(transfer_dir(_home), ec);
  // Open every configured agent's namespace now, so embeddings missing after a crash
  // are requested and the first search does not pay for the replay.
  (void)n.ready();
  for (auto& [id, a] : _cfg.agents)
    if (auto ns = space(id); !ns) _log.error("{}", ns.err().message);
  bool stopping = false;
  while (!stopping) {
    auto beat = n.beat_if_due();
    zmq::pollitem_t items[] = {{_bus.socket().handle(), 0, ZMQ_POLLIN, 0},
                               {_bus.monitor_socket().handle(), 0, ZMQ_POLLIN, 0},
                               {nullptr, signal_fd, ZMQ_POLLIN, 0},
                               {_witness ? _witness->events_socket() : nullptr, 0, ZMQ_POLLIN, 0}};
    auto wait = std::min<std::chrono::milliseconds>(beat, 1000ms);
    if (_bus.has_input()) wait = 0ms;
    zmq::poll(items, _witness && _witness->events_socket() ? 4 : 3, wait);
    if (items[2].revents) {
      signalfd_siginfo si;
      while (::read(signal_fd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) stopping = true;
    }
    _bus.process_input();
    // A bounded pass: a steady stream of requests must not hold back commits and heartbeats.
    for (std::size_t n = 0; n < max_messages_per_pass; ++n) {
      auto m = _bus.next(0ms);
      if (!m) break;
      dispatch(*m);
    }
    if (_witness) _witness->drain_events(max_messages_per_pass);
    commit_all();
    feed_embedder();
    run_timers(stopping);
  }
  _log.info("memory stopping");
  commit_all();
  (void)n.stopping();
  _bus.close(500ms);
  return 0;
}

}  // namespace weft::memory
