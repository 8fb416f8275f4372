#include "services/memory/memory_service.hh"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include <weft/base/fd.hh>

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
constexpr auto housekeeping_period = 1s;         ///< transfers expire, checkpoints fall due
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

memory_service::memory_service(service::runtime& rt, service::config cfg, std::string home)
    : _rt(rt), _cfg(std::move(cfg)), _home(std::move(home)), _log(log::get("memory")) {
  if (auto e = configured_embedder(_cfg)) _embedder = *e;
  else _no_embedder = e.err().message;
  _log.info("memory: {} agents; {}", _cfg.agents.size(),
            _embedder.empty() ? "keyword search only (BM25): " + _no_embedder : "embeddings from " + _embedder);
  auto w = witness_log::open(_home);
  if (w) _witness = std::move(*w);
  else _log.error("{}; agent actions are NOT being witnessed", w.err().message);
  _next_checkpoint = clock::now() + std::chrono::seconds(_cfg.memory.checkpoint_s);

  _rt.on<mem::put>([this](mem::put p, service::responder r) { handle_put(std::move(p), std::move(r)); });
  _rt.on<mem::search>([this](mem::search s, service::responder r) { handle_search(std::move(s), std::move(r)); });
  _rt.on<mem::forget>([this](mem::forget f, service::responder r) { handle_forget(std::move(f), false, std::move(r)); });
  _rt.on<mem::wipe>([this](mem::wipe w, service::responder r) {
    mem::forget f;
    f.agent = std::move(w.agent);
    handle_forget(std::move(f), true, std::move(r));
  });
  _rt.on<mem::stats>([this](mem::stats s, service::responder r) { handle_stats(s, std::move(r)); });
  _rt.on<mem::export_begin>([this](mem::export_begin e, service::responder r) { handle_export(e, std::move(r)); });
  _rt.on<mem::read_chunk>([this](mem::read_chunk c, service::responder r) { handle_read_chunk(c, std::move(r)); });
  _rt.on<mem::import_begin>([this](mem::import_begin b, service::responder r) { handle_import_begin(b, std::move(r)); });
  _rt.on<mem::write_chunk>([this](mem::write_chunk c, service::responder r) { handle_write_chunk(c, std::move(r)); });
  _rt.on<mem::import_commit>([this](mem::import_commit c, service::responder r) { handle_import_commit(c, std::move(r)); });
  _rt.on<mem::skill_installed>([this](mem::skill_installed s, service::responder r) {
    handle_skill_installed(s, std::move(r));
  });
  _rt.on<mem::plugin_installed>([this](mem::plugin_installed p, service::responder r) {
    handle_plugin_installed(p, std::move(r));
  });
  if (_witness) {
    for (auto topic : witness_log::topics()) {
      _rt.on_event(topic, [this](const ipc::message& m) { _witness->on_event(m); });
      if (auto s = _rt.subscribe(topic); !s) {
        _log.error("{}; routing and tool calls are NOT being witnessed", s.err().message);
        break;
      }
    }
  }
  // Everything one pass of the loop handled shares one commit per namespace (group commit).
  _hook = _rt.loop().before_wait([this] { return after_pass(); });
  _tick = _rt.loop().every(housekeeping_period, [this] { housekeeping(); });
  _rt.on_stop([this] { stop(); });
  // Leftovers of transfers interrupted by a restart.
  std::error_code ec;
  fs::remove_all(transfer_dir(_home), ec);
  // Every configured agent's namespace opens once the loop runs (READY is out by then), so
  // embeddings missing after a crash are requested and the first search does not pay for
  // the replay.
  _rt.loop().defer([this] {
    for (auto& [id, a] : _cfg.agents)
      if (auto ns = space(id); !ns) _log.error("{}", ns.err().message);
  });
}

memory_service::~memory_service() {
  _rt.loop().remove_before_wait(_hook);
  _rt.loop().cancel(_tick);
  for (auto& [key, j] : _embeds) _rt.forget(j.call);
  for (auto& [key, j] : _searches) _rt.forget(j.call);
}

result<memory_namespace*> memory_service::space(const std::string& agent) {
  if (auto it = _spaces.find(agent); it != _spaces.end()) return it->second.get();
  // A replay of a large store takes a while: weftd keeps hearing from us meanwhile.
  auto ns = memory_namespace::open(_home / "memory" / agent, agent, _cfg.memory,
                                   [this] { (void)_rt.notify().beat_if_due(); });
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

void memory_service::deny(service::responder& r, std::string_view target, const error& e) {
  auto& req = r.request();
  _log.warning("Denied {} from '{}': {}", req.type, req.from, e.message);
  auto subject = fmt::format("memory/{}", target.empty() ? "?" : target.substr(0, max_subject_bytes));
  (void)_rt.bus().publish(proto::bus_v1::access_denied{req.from, subject, req.type, "memory namespaces"});
  witness(req.from, "access_denied", subject, e.message);
  r.fail(e);
}

std::optional<access> memory_service::allow(service::responder& r, std::string_view requested, bool write) {
  auto a = authorize(_cfg, r.from(), requested, write);
  if (a) return *a;
  if (mem::is(a.err(), mem::error_code::denied)) deny(r, requested, a.err());
  else r.fail(a.err());
  return std::nullopt;
}

// -------------------------------------------------------------------------------------
// Requests

void memory_service::handle_put(mem::put p, service::responder r) {
  auto a = allow(r, p.agent, true);
  if (!a) return;
  auto ns = space(a->agent);
  if (!ns) return r.fail(ns.err());
  auto st = (*ns)->put(p, utc_now());
  if (!st) {
    if (mem::is(st.err(), mem::error_code::storage)) broke(a->agent);
    return r.fail(st.err());
  }
  std::optional<witnessed> w;
  if (!st->duplicate)
    w = witnessed{r.from(), "memory_write", fmt::format("memory/{}/{}", a->agent, st->id),
                  fmt::format("put {} ({} bytes{})", mem::to_string(p.kind), p.text.size(),
                              p.session.empty() ? "" : ", session " + p.session.substr(0, max_subject_bytes))};
  auto stored = mem::stored{st->id, st->duplicate};
  reply_after_commit(std::move(r), a->agent, stored, std::move(w));
}

void memory_service::handle_forget(mem::forget f, bool wipe, service::responder r) {
  auto a = allow(r, f.agent, true);
  if (!a) return;
  if (wipe && !a->admin)
    return deny(r, a->agent, mem::make(mem::error_code::denied, "only weftd and weftctl may wipe a namespace"));
  auto ns = space(a->agent);
  if (!ns) return r.fail(ns.err());
  auto n = wipe ? (*ns)->wipe() : (*ns)->forget(f.ids);
  if (!n) {
    if (mem::is(n.err(), mem::error_code::storage)) broke(a->agent);
    return r.fail(n.err());
  }
  std::optional<witnessed> w;
  if (*n)
    w = witnessed{r.from(), "memory_write", fmt::format("memory/{}", a->agent),
                  wipe ? fmt::format("wipe ({} entries)", *n) : fmt::format("forget {} of {} ids", *n, f.ids.size())};
  reply_after_commit(std::move(r), a->agent, mem::forgotten{*n}, std::move(w));
}

void memory_service::handle_stats(const mem::stats& s, service::responder r) {
  auto a = allow(r, s.agent, false);
  if (!a) return;
  auto ns = space(a->agent);
  if (!ns) return r.fail(ns.err());
  r.reply((*ns)->statistics(search_mode(**ns)));
}

void memory_service::handle_search(mem::search s, service::responder r) {
  if (s.k < 1 || s.k > 100) return r.fail(mem::make(mem::error_code::bad_request, "k must be 1 to 100, not {}", s.k));
  if (s.query.empty() || s.query.size() > 4096)
    return r.fail(mem::make(mem::error_code::bad_request, "the query must be 1 to 4096 bytes"));
  auto a = allow(r, s.agent, false);
  if (!a) return;
  auto ns = space(a->agent);
  if (!ns) return r.fail(ns.err());
  if (s.mode == mem::mode::vector && !_no_embedder.empty())
    return r.fail(mem::make(mem::error_code::bad_request, "vector search is not available: {}", _no_embedder));
  search_job j{std::move(r), a->agent, std::move(s), 0};
  if (j.s.mode == mem::mode::keyword || !(*ns)->has_vectors() || !_no_embedder.empty()) {
    std::string note;
    if (j.s.mode != mem::mode::keyword)
      note = !_no_embedder.empty() ? "keyword search only: " + _no_embedder
                                   : "keyword search only: no entry of this agent has a vector yet";
    return answer_search(j, std::nullopt, note);
  }
  // The query's vector; the search waits for it search_embed_timeout at most, then answers
  // by keywords. The runtime sends it again to an llm that restarted meanwhile.
  auto key = _next_job++;
  j.call = _rt.call("llm", lv::embed{a->agent, {j.s.query}, ""}, {.timeout = search_embed_timeout, .retry = false},
                    [this, key](result<ipc::message> m) { on_query_embedded(key, std::move(m)); });
  _searches.emplace(key, std::move(j));
}

void memory_service::answer_search(search_job& j, std::optional<std::vector<float>> qv, std::string note) {
  auto ns = space(j.agent);
  if (!ns) return j.r.fail(ns.err());
  search_request q{std::move(j.s), std::move(qv), std::move(note)};
  j.r.reply((*ns)->search(q, utc_now()));
}

void memory_service::on_query_embedded(std::uint64_t key, result<ipc::message> m) {
  auto it = _searches.find(key);
  if (it == _searches.end()) return;
  auto j = std::move(it->second);
  _searches.erase(it);
  if (!m) {
    if (proto::bus_v1::is(m.err(), proto::bus_v1::error_code::timeout))
      return answer_search(j, std::nullopt, "keyword search only: the embedder did not answer in time");
    return answer_search(j, std::nullopt, "keyword search only: " + m.err().message);
  }
  auto e = m->as<lv::embeddings>();
  if (!e || e->vectors.size() != 1) return answer_search(j, std::nullopt, "keyword search only: bad embeddings reply");
  answer_search(j, floats_of(e->vectors[0]), "");
}

void memory_service::on_embedded(std::uint64_t key, result<ipc::message> m) {
  auto it = _embeds.find(key);
  if (it == _embeds.end()) return;
  auto job = std::move(it->second);
  _embeds.erase(it);
  auto ns = space(job.agent);
  if (!ns) return;
  if (!m) {
    auto& e = m.err();
    (*ns)->requeue(job.labels);
    if (ipc::bus::is(e, ipc::bus::error_code::timeout)) return;  // no answer in time: asked again on the next pass
    if (ipc::bus::is(e, ipc::bus::error_code::no_such_address) || ipc::bus::is(e, ipc::bus::error_code::queue_full) ||
        e.domain == errc::domain) {
      // llm is not up yet (memory starts first) or restarting, or the request did not
      // leave this process: soon again, quietly.
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
  auto e = m->as<lv::embeddings>();
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

void memory_service::handle_export(const mem::export_begin& b, service::responder r) {
  // A whole namespace leaves only for its owner or an admin; a share is for searching.
  auto a = allow(r, b.agent, true);
  if (!a) return;
  if (_exports.size() + _imports.size() >= max_transfers || transfers_of(r.from()) >= max_transfers_per_caller)
    return r.fail(mem::make(mem::error_code::too_large, "too many exports and imports are open ({} in all, {} per caller); try again later", max_transfers, max_transfers_per_caller));
  auto ns = space(a->agent);
  if (!ns) return r.fail(ns.err());
  auto id = fmt::format("exp-{}-{}", ::getpid(), _next_file++);
  auto path = transfer_dir(_home) / (id + ".wmem");
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  auto meta = (*ns)->export_to(path);
  if (!meta) return r.fail(meta.err());
  _exports[id] = export_file{path, meta->bytes, r.from(), clock::now() + file_lifetime};
  _log.info("Exported {} entries of agent '{}' for '{}' ({} bytes)", meta->entries, a->agent, r.from(), meta->bytes);
  r.reply(mem::export_ready{id, meta->bytes, meta->entries, meta->sha256});
}

void memory_service::handle_read_chunk(const mem::read_chunk& q, service::responder r) {
  auto it = _exports.find(q.snapshot);
  if (it == _exports.end() || it->second.owner != r.from())
    return r.fail(mem::make(mem::error_code::not_found, "no export '{}' (exports are kept for {} minutes)", q.snapshot, std::chrono::duration_cast<std::chrono::minutes>(file_lifetime).count()));
  auto& f = it->second;
  if (q.offset > f.bytes) return r.fail(mem::make(mem::error_code::bad_request, "offset {} is past the end ({} bytes)", q.offset, f.bytes));
  // A reply must fit the bus's message limit, envelope included.
  std::uint64_t fits = _cfg.bus.max_message_bytes > (64u << 10) ? _cfg.bus.max_message_bytes - (32u << 10) : 4096;
  auto n = static_cast<std::size_t>(
      std::min<std::uint64_t>({q.max == 0 ? max_chunk : q.max, max_chunk, fits, f.bytes - q.offset}));
  mem::chunk c;
  c.offset = q.offset;
  c.data.resize(n);
  unique_fd fd(::open(f.path.c_str(), O_RDONLY | O_CLOEXEC));
  ssize_t got = fd ? ::pread(fd.get(), c.data.data(), n, static_cast<off_t>(q.offset)) : -1;
  if (got != static_cast<ssize_t>(n))
    return r.fail(mem::make(mem::error_code::storage, "Failed to read export '{}': {}", q.snapshot, got < 0 ? std::strerror(errno) : "short read"));
  c.eof = q.offset + n == f.bytes;
  f.expires = clock::now() + file_lifetime;
  r.reply(c);
  if (c.eof) {
    std::error_code ec;
    fs::remove(f.path, ec);
    _exports.erase(it);
  }
}

void memory_service::handle_import_begin(const mem::import_begin& b, service::responder r) {
  if (!is_admin(r.from()))
    return deny(r, b.agent, mem::make(mem::error_code::denied, "only weftd and weftctl may import a snapshot"));
  if (!b.agent.empty() && !_cfg.agents.count(b.agent))
    return r.fail(mem::make(mem::error_code::bad_request, "agent '{}' is not in [agents]", b.agent));
  if (b.bytes == 0 || b.bytes > max_import_bytes)
    return r.fail(mem::make(mem::error_code::too_large, "a snapshot must be 1 byte to {} GiB", max_import_bytes >> 30));
  if (_exports.size() + _imports.size() >= max_transfers || transfers_of(r.from()) >= max_transfers_per_caller)
    return r.fail(mem::make(mem::error_code::too_large, "too many exports and imports are open ({} in all, {} per caller); try again later", max_transfers, max_transfers_per_caller));
  auto id = fmt::format("imp-{}-{}", ::getpid(), _next_file++);
  auto path = transfer_dir(_home) / (id + ".part");
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  unique_fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd) return r.fail(mem::make(mem::error_code::storage, "Failed to create '{}': {}", path.string(), std::strerror(errno)));
  _imports[id] = import_file{path, b.agent, b.bytes, 0, r.from(), clock::now() + file_lifetime};
  r.reply(mem::import_started{id});
}

void memory_service::handle_write_chunk(const mem::write_chunk& c, service::responder r) {
  auto it = _imports.find(c.id);
  if (it == _imports.end() || it->second.owner != r.from())
    return r.fail(mem::make(mem::error_code::not_found, "no import '{}' in progress", c.id));
  auto& f = it->second;
  if (!c.data.empty() && c.offset < f.received && c.offset + c.data.size() == f.received)
    return r.reply(mem::chunk{{}, f.received, false});  // a resent chunk, already written
  if (c.offset != f.received)
    return r.fail(mem::make(mem::error_code::bad_request, "chunk at {} but {} bytes were received", c.offset, f.received));
  if (c.data.size() > max_chunk || f.received + c.data.size() > f.expected)
    return r.fail(mem::make(mem::error_code::too_large, "more bytes than the {} announced", f.expected));
  unique_fd fd(::open(f.path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
  bool ok = fd && ::write(fd.get(), c.data.data(), c.data.size()) == static_cast<ssize_t>(c.data.size());
  if (!ok) return r.fail(mem::make(mem::error_code::storage, "Failed to write '{}': {}", f.path.string(), std::strerror(errno)));
  f.received += c.data.size();
  f.expires = clock::now() + file_lifetime;
  r.reply(mem::chunk{{}, f.received, f.received == f.expected});
}

void memory_service::handle_import_commit(const mem::import_commit& c, service::responder r) {
  auto it = _imports.find(c.id);
  if (it == _imports.end() || it->second.owner != r.from())
    return r.fail(mem::make(mem::error_code::not_found, "no import '{}' in progress", c.id));
  auto f = it->second;
  _imports.erase(it);
  auto cleanup = [&] {
    std::error_code ec;
    fs::remove(f.path, ec);
  };
  if (f.received != f.expected) {
    cleanup();
    return r.fail(mem::make(mem::error_code::corrupt, "the snapshot is incomplete: {} of {} bytes arrived; nothing was changed", f.received, f.expected));
  }
  auto meta = memstore::verify_snapshot(f.path);
  if (!meta) {
    cleanup();
    return r.fail(mem::make(mem::error_code::corrupt, "{}; nothing was changed", meta.err().message));
  }
  auto agent = f.agent.empty() ? meta->agent : f.agent;
  if (!_cfg.agents.count(agent)) {
    cleanup();
    return r.fail(mem::make(mem::error_code::bad_request, "the snapshot is of agent '{}', which is not in [agents]; import with --agent ID", agent));
  }
  auto ns = space(agent);
  if (!ns) {
    cleanup();
    return r.fail(ns.err());
  }
  auto done = (*ns)->import_from(f.path, *meta, c.replace);
  cleanup();
  if (!done) {
    if (mem::is(done.err(), mem::error_code::storage)) broke(agent);  // reopened from disk
    return r.fail(done.err());
  }
  witness(r.from(), "memory_write", fmt::format("memory/{}", agent),
          fmt::format("import {} entries{} from a snapshot of agent '{}' (sha256 {})", done->added,
                      c.replace ? " replacing all" : "", meta->agent, meta->sha256));
  if (_witness) _witness->sync();  // witnessed before the importer hears of it
  _log.info("Imported {} entries ({} skipped) into agent '{}'", done->added, done->skipped, agent);
  r.reply(mem::imported{agent, done->added, done->skipped});
}

void memory_service::handle_skill_installed(const mem::skill_installed& s, service::responder r) {
  if (!_witness)
    return r.fail(mem::make(mem::error_code::storage, "the witness chain is not open (see memory's log); "
                                                      "the install cannot be recorded"));
  auto seq = _witness->record_skill_installed(r.from(), s);
  if (!seq) {
    if (!mem::is(seq.err(), mem::error_code::denied)) {
      _log.error("Failed to record the install of skill '{}' for '{}': {}", s.skill, r.from(), seq.err().message);
      return r.fail(seq.err());
    }
    auto& req = r.request();
    _log.warning("Denied {} from '{}': {}", req.type, req.from, seq.err().message);
    auto subject = fmt::format("skill/{}", s.skill.substr(0, max_subject_bytes));
    (void)_rt.bus().publish(proto::bus_v1::access_denied{req.from, subject, req.type, "skill installs"});
    witness(req.from, "access_denied", subject, seq.err().message);
    return r.fail(seq.err());
  }
  _log.info("Recorded the {}install of skill '{}' by '{}' (witness seq {})", s.forced ? "forced " : "", s.skill,
            r.from(), *seq);
  r.reply(mem::recorded{*seq});
}

void memory_service::handle_plugin_installed(const mem::plugin_installed& p, service::responder r) {
  if (!_witness)
    return r.fail(mem::make(mem::error_code::storage, "the witness chain is not open (see memory's log); "
                                                      "the install cannot be recorded"));
  auto seq = _witness->record_plugin_installed(r.from(), p);
  if (!seq) {
    if (!mem::is(seq.err(), mem::error_code::denied)) {
      _log.error("Failed to record the install of plugin '{}' for '{}': {}", p.plugin, r.from(), seq.err().message);
      return r.fail(seq.err());
    }
    auto& req = r.request();
    _log.warning("Denied {} from '{}': {}", req.type, req.from, seq.err().message);
    auto subject = fmt::format("plugin/{}", p.plugin.substr(0, max_subject_bytes));
    (void)_rt.bus().publish(proto::bus_v1::access_denied{req.from, subject, req.type, "plugin installs"});
    witness(req.from, "access_denied", subject, seq.err().message);
    return r.fail(seq.err());
  }
  _log.info("Recorded the {}install of plugin '{}' for agent '{}' by '{}' (witness seq {})", p.forced ? "forced " : "",
            p.plugin, p.agent, r.from(), *seq);
  r.reply(mem::recorded{*seq});
}

std::size_t memory_service::transfers_of(const std::string& owner) const {
  std::size_t n = 0;
  for (auto& [id, f] : _exports) n += f.owner == owner;
  for (auto& [id, f] : _imports) n += f.owner == owner;
  return n;
}

// -------------------------------------------------------------------------------------
// Commits, embeddings, housekeeping

bool memory_service::after_pass() {
  bool sent = commit_all();
  return feed_embedder() || sent;
}

bool memory_service::commit_all() {
  bool dirty = !_waiting.empty() || !_broken.empty() || (_witness && _witness->dirty());
  for (auto& [agent, ns] : _spaces) dirty = dirty || ns->dirty();
  if (!dirty) return false;
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
  bool sent = !_waiting.empty();
  for (auto& w : _waiting) {
    if (auto f = failed.find(w.agent); f != failed.end()) w.r.fail(f->second);
    else w.r.send(w.type, std::move(w.payload));
  }
  _waiting.clear();
  for (auto& [agent, e] : failed) _spaces.erase(agent);
  _broken.clear();
  return sent;
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

bool memory_service::feed_embedder() {
  if (!_no_embedder.empty() && _embedder.empty()) return false;  // nothing configured
  if (_rt.stopping() || clock::now() < _embed_retry) return false;
  bool sent = false;
  auto batch_size = embed_batch_size();
  for (auto& [agent, ns] : _spaces) {
    if (_embeds.size() >= embeds_in_flight) break;
    auto batch = ns->take_unembedded(ns->single_embeds() ? 1 : batch_size);
    if (batch.empty()) continue;
    lv::embed e{agent, {}, ""};
    embed_job job;
    job.agent = agent;
    for (auto& p : batch) {
      if (p.text.size() > embed_text_bytes) p.text.resize(embed_text_bytes);  // the model's input limit
      e.inputs.push_back(std::move(p.text));
      job.labels.push_back(p.label);
      job.ids.push_back(std::move(p.id));
    }
    // No answer within embed_timeout: asked again later. An llm that restarts meanwhile
    // gets the request again from the runtime.
    auto key = _next_job++;
    job.call = _rt.call("llm", e, {.timeout = embed_timeout, .retry = false},
                        [this, key](result<ipc::message> m) { on_embedded(key, std::move(m)); });
    _embeds.emplace(key, std::move(job));
    sent = true;
  }
  return sent;
}

void memory_service::housekeeping() {
  auto now = clock::now();
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
  if (now >= _next_checkpoint) checkpoint_all();
  // Embeddings that waited out a pause after a failure.
  (void)feed_embedder();
}

void memory_service::checkpoint_all() {
  _next_checkpoint = clock::now() + std::chrono::seconds(_cfg.memory.checkpoint_s);
  for (auto& [agent, ns] : _spaces)
    if (auto s = ns->checkpoint(utc_now()); !s)
      _log.error("Failed to checkpoint the vectors of agent '{}': {}", agent, s.err().message);
}

void memory_service::stop() {
  _log.info("memory stopping");
  // Searches waiting for their query's vector answer by keywords now.
  auto searches = std::move(_searches);
  _searches.clear();
  for (auto& [key, j] : searches) {
    _rt.forget(j.call);
    answer_search(j, std::nullopt, "keyword search only: the embedder did not answer in time");
  }
  (void)commit_all();
  checkpoint_all();
}

}  // namespace weft::memory
