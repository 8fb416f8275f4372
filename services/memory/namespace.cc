#include "services/memory/namespace.hh"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include <weft/base/io.hh>

namespace weft::memory {

namespace fs = std::filesystem;
namespace mem = proto::memory_v1;
using json = nlohmann::json;

namespace {

constexpr std::size_t max_tags = 32;
constexpr std::size_t max_tag_bytes = 64;
constexpr std::size_t max_field_bytes = 256;

/// The checkpoint: which vector index directory holds the index, and what it covers.
struct checkpoint_info {
  memstore::location end;    ///< the store position the index covers
  std::uint64_t labels = 0;  ///< entries (labels) before `end`
  std::uint32_t dims = 0;
  std::string model;
  std::string index_dir;  ///< directory name under the namespace directory
};

result<checkpoint_info> read_checkpoint(const fs::path& file) {
  std::ifstream in(file);
  if (!in) return fail(errc::not_found, "no checkpoint");
  auto j = json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return fail(errc::malformed, "Failed to read checkpoint '{}': not a JSON object", file.string());
  try {
    checkpoint_info c;
    c.end.segment = j.at("segment").get<std::uint32_t>();
    c.end.offset = j.at("offset").get<std::uint64_t>();
    c.labels = j.at("labels").get<std::uint64_t>();
    c.dims = j.at("dims").get<std::uint32_t>();
    c.model = j.at("model").get<std::string>();
    c.index_dir = j.at("index").get<std::string>();
    if (c.index_dir.empty() || c.index_dir.find('/') != std::string::npos || c.index_dir[0] == '.')
      return fail(errc::malformed, "Failed to read checkpoint '{}': bad index directory", file.string());
    return c;
  } catch (const json::exception& e) {  // the JSON boundary: a missing or mistyped field
    return fail(errc::malformed, "Failed to read checkpoint '{}': {}", file.string(), e.what());
  }
}

mem::entry to_proto(const memstore::entry& e) {
  return mem::entry{e.id, static_cast<mem::kind>(e.kind), e.text, e.session, e.role, e.tags, e.created, e.key};
}

/// "m-<n>" → n, else 0.
std::uint64_t seq_of(std::string_view id) {
  if (id.size() < 3 || id.substr(0, 2) != "m-") return 0;
  std::uint64_t n = 0;
  auto [p, ec] = std::from_chars(id.data() + 2, id.data() + id.size(), n);
  return ec == std::errc() && p == id.data() + id.size() ? n : 0;
}

error storage_error(const error& e) { return mem::make(mem::error_code::storage, "{}", e.message); }

}  // namespace

// -------------------------------------------------------------------------------------
// Opening: replay the store into the tables and indexes.

class memory_namespace::replayer : public memstore::visitor {
 public:
  replayer(memory_namespace& ns, std::optional<checkpoint_info> cp) : _ns(ns), _cp(std::move(cp)) {}
  void on_entry(const memstore::entry& e, memstore::location at) override {
    auto label = static_cast<std::uint32_t>(_ns._slots.size());
    if (label % 4096 == 4095) _ns._tick();
    if (_cp && at < _cp->end) ++labels_before_checkpoint;
    if (_ns._by_id.count(e.id)) {  // a second record with a live id: keep the first
      _ns._slots.push_back(slot{e, at, std::nullopt, false, false});
      return;
    }
    _ns._slots.push_back(slot{e, at, std::nullopt, true, false});
    _ns._by_id[e.id] = label;
    if (!e.key.empty()) _ns._by_key[e.key] = label;
    _ns._next_seq = std::max(_ns._next_seq, seq_of(e.id) + 1);
    ++_ns._live;
  }
  void on_vector(std::string_view id, std::span<const float> v, std::string_view model,
                 memstore::location at) override {
    auto it = _ns._by_id.find(std::string(id));
    if (it == _ns._by_id.end()) return;
    auto& s = _ns._slots[it->second];
    s.vector_at = at;
    if (_cp && at < _cp->end && _ns._vectors) return;  // the checkpoint's index has it
    if (_ns._dims == 0) _ns._dims = static_cast<std::uint32_t>(v.size()), _ns._model = std::string(model);
    if (v.size() != _ns._dims || model != _ns._model) {
      s.vector_at.reset();  // embedded by another model: embedded again
      return;
    }
    if (!_ns._vectors) _ns._vectors.emplace(_ns._dims, _ns.tier_params());
    vecindex::entry_times t;
    t.created = s.e.created;
    if (auto st = _ns._vectors->add(it->second, v, t, utc_now()); !st)
      _ns._log.warning("memory '{}': vector of entry {} not indexed: {}", _ns._agent, id, st.err().message);
    _ns._vectors_changed = true;
  }
  void on_tombstone(std::string_view id) override {
    auto it = _ns._by_id.find(std::string(id));
    if (it == _ns._by_id.end()) return;
    kill(it->second);
  }
  void on_wipe() override {
    for (std::uint32_t l = 0; l < _ns._slots.size(); ++l)
      if (_ns._slots[l].live) kill(l);
    // Nothing indexed survives (the wipe is after any checkpoint): the next vector may be
    // of another model. A checkpoint taken after the wipe still holds later entries.
    if (!_ns._vectors || _ns._vectors->size() == 0) {
      _ns._vectors.reset();
      _ns._dims = 0;
      _ns._model.clear();
    }
  }
  void on_corrupt(const error& e) override {
    ++corrupt;
    _ns._log.error("memory '{}': {} (record skipped)", _ns._agent, e.message);
  }

  std::uint64_t labels_before_checkpoint = 0;
  std::uint64_t corrupt = 0;

 private:
  void kill(std::uint32_t label) {
    auto& s = _ns._slots[label];
    s.live = false;
    _ns._by_id.erase(s.e.id);
    if (!s.e.key.empty()) _ns._by_key.erase(s.e.key);
    if (_ns._vectors) _ns._vectors->remove(label);
    --_ns._live;
  }

  memory_namespace& _ns;
  std::optional<checkpoint_info> _cp;
};

memory_namespace::memory_namespace(fs::path dir, std::string agent, const service::memory_settings& s)
    : _dir(std::move(dir)), _agent(std::move(agent)), _settings(s), _log(log::get("memory")) {}

memory_namespace::~memory_namespace() = default;

vecindex::tiered_params memory_namespace::tier_params() const {
  vecindex::tiered_params p;
  p.policy.hot_days = _settings.hot_days;
  p.policy.warm_days = _settings.warm_days;
  p.policy.hot_min_hits = _settings.hot_min_hits;
  p.hnsw.ef_search = _settings.ef_search;
  return p;
}

result<std::unique_ptr<memory_namespace>> memory_namespace::open(const fs::path& dir, const std::string& agent,
                                                                 const service::memory_settings& settings,
                                                                 std::function<void()> tick) {
  std::unique_ptr<memory_namespace> ns(new memory_namespace(dir, agent, settings));
  if (tick) ns->_tick = std::move(tick);
  if (auto s = ns->load(); !s) return s.take_error();
  return ns;
}

status memory_namespace::load() {
  memstore::store_options so;
  so.segment_bytes = std::uint64_t(_settings.segment_mb) << 20;
  auto st = memstore::store::open(_dir / "store", _agent, so);
  if (!st) return storage_error(st.err());
  _store = std::move(*st);
  std::optional<checkpoint_info> cp;
  if (auto c = read_checkpoint(_dir / "checkpoint.json")) {
    auto idx = vecindex::tiered_index::load((_dir / c->index_dir).string(), c->dims, tier_params());
    if (idx) {
      _vectors.emplace(std::move(*idx));
      _dims = c->dims;
      _model = c->model;
      cp = *c;
    } else {
      _log.warning("memory '{}': vector checkpoint not used ({}); rebuilding the index from the segment files",
                   _agent, idx.err().message);
    }
  } else if (c.err().code != errc::not_found) {
    _log.warning("memory '{}': {}; rebuilding the vector index from the segment files", _agent, c.err().message);
  }
  auto t0 = mono_clock::now();
  replayer r(*this, cp);
  if (auto s = _store->replay(r); !s) return storage_error(s.err());
  if (cp && r.labels_before_checkpoint != cp->labels) {
    // The checkpoint does not describe these segment files (restored from elsewhere,
    // compacted): its labels would point at the wrong entries. Rebuild from the vectors.
    _log.warning("memory '{}': vector checkpoint covers {} entries, the segment files have {}; rebuilding",
                 _agent, cp->labels, r.labels_before_checkpoint);
    _slots.clear();
    _by_id.clear();
    _by_key.clear();
    _vectors.reset();
    _dims = 0;
    _model.clear();
    _live = 0;
    replayer full(*this, std::nullopt);
    if (auto s = _store->replay(full); !s) return storage_error(s.err());
    cp.reset();
  }
  for (std::uint32_t l = 0; l < _slots.size(); ++l) {
    auto& s = _slots[l];
    if (!s.live) continue;
    _bm25.add(l, s.e.text);
    s.indexed = true;
    if (!s.vector_at) _unembedded.push_back(l);
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(mono_clock::now() - t0).count();
  _log.info("memory '{}': {} entries, {} with vectors{}, opened in {} ms{}", _agent, _live,
            _vectors ? _vectors->size() : 0, cp ? " (index from checkpoint)" : "", ms,
            r.corrupt ? fmt::format("; {} corrupt record(s) skipped", r.corrupt) : "");
  return {};
}

// -------------------------------------------------------------------------------------
// Writes

std::string memory_namespace::next_id() { return fmt::format("m-{}", _next_seq++); }

result<put_outcome> memory_namespace::put(const mem::put& p, utc_time now) {
  if (p.text.empty()) return mem::make(mem::error_code::bad_request, "the text is empty");
  if (p.text.size() > _settings.max_text_bytes)
    return mem::make(mem::error_code::too_large, "the text is {} bytes; [memory] max_text_bytes is {}",
                     p.text.size(), _settings.max_text_bytes);
  if (p.tags.size() > max_tags) return mem::make(mem::error_code::bad_request, "{} tags; at most {}", p.tags.size(), max_tags);
  for (auto& t : p.tags)
    if (t.empty() || t.size() > max_tag_bytes)
      return mem::make(mem::error_code::bad_request, "a tag must be 1 to {} bytes", max_tag_bytes);
  if (p.session.size() > max_field_bytes || p.role.size() > max_field_bytes || p.key.size() > max_field_bytes)
    return mem::make(mem::error_code::bad_request, "session, role and key must be at most {} bytes", max_field_bytes);
  if (!p.key.empty())
    if (auto it = _by_key.find(p.key); it != _by_key.end()) return put_outcome{_slots[it->second].e.id, true};
  memstore::entry e{next_id(), static_cast<std::uint8_t>(p.kind), p.text, p.session, p.role, p.tags,
                    p.created.value_or(now), p.key};
  auto at = _store->append(e);
  if (!at) return storage_error(at.err());
  auto label = static_cast<std::uint32_t>(_slots.size());
  _by_id[e.id] = label;
  if (!e.key.empty()) _by_key[e.key] = label;
  ++_live;
  put_outcome out{e.id, false};
  _slots.push_back(slot{std::move(e), *at, std::nullopt, true, false});
  _applied_ops.push_back(op{op_kind::add, label, {}});
  return out;
}

result<std::uint64_t> memory_namespace::forget(const std::vector<std::string>& ids) {
  std::uint64_t n = 0;
  for (auto& id : ids) {
    auto it = _by_id.find(id);
    if (it == _by_id.end()) continue;
    if (auto s = _store->append_tombstone(id); !s) return storage_error(s.err());
    auto label = it->second;
    auto& sl = _slots[label];
    sl.live = false;
    if (!sl.e.key.empty()) _by_key.erase(sl.e.key);
    _by_id.erase(it);
    --_live;
    _applied_ops.push_back(op{op_kind::remove, label, {}});
    ++n;
  }
  return n;
}

result<std::uint64_t> memory_namespace::wipe() {
  if (auto s = _store->append_wipe(); !s) return storage_error(s.err());
  std::uint64_t n = _live;
  for (auto& s : _slots) s.live = false;
  _by_id.clear();
  _by_key.clear();
  _live = 0;
  _applied_ops.push_back(op{op_kind::wipe, 0, {}});
  return n;
}

status memory_namespace::add_vector(std::uint32_t label, std::vector<float> v, const std::string& model,
                                    std::string_view id) {
  if (label >= _slots.size() || !_slots[label].live) return {};
  if (!id.empty() && _slots[label].e.id != id) return {};
  if (_dims == 0) _dims = static_cast<std::uint32_t>(v.size()), _model = model;
  if (v.size() != _dims || model != _model) {
    if (!_dims_warned)
      _log.error("memory '{}': the embedder '{}' gives {}-dimensional vectors, this namespace holds vectors of "
                 "'{}' ({} dimensions), which cannot be compared; its new entries stay keyword-only. Re-embedding "
                 "a namespace with another model is not built yet: switch the embedder back, or wipe the namespace.",
                 _agent, model, v.size(), _model, _dims);
    _dims_warned = true;
    return {};
  }
  auto at = _store->append_vector(_slots[label].e.id, v, model);
  if (!at) return storage_error(at.err());
  _slots[label].vector_at = *at;
  _applied_ops.push_back(op{op_kind::vector, label, std::move(v)});
  return {};
}

status memory_namespace::commit() {
  if (_applied_ops.empty()) return {};
  if (auto s = _store->sync(); !s) return storage_error(s.err());
  auto now = utc_now();
  std::size_t n = 0;
  for (auto& o : _applied_ops) {
    apply(o, now);
    if (++n % 1024 == 0) _tick();
  }
  _applied_ops.clear();
  return {};
}

void memory_namespace::apply(const op& o, utc_time now) {
  switch (o.kind) {
    case op_kind::add: {
      auto& s = _slots[o.label];
      if (!s.live) return;  // forgotten in the same batch
      _bm25.add(o.label, s.e.text);
      s.indexed = true;
      _unembedded.push_back(o.label);
      return;
    }
    case op_kind::remove:
      _bm25.remove(o.label);
      if (_vectors && _vectors->remove(o.label)) _vectors_changed = true;
      return;
    case op_kind::wipe:
      reset_indexes();
      return;
    case op_kind::vector: {
      if (!_slots[o.label].live) return;
      if (!_vectors) _vectors.emplace(_dims, tier_params());
      if (auto s = _vectors->add(o.label, o.v, now); !s)
        _log.warning("memory '{}': vector of entry {} not indexed: {}", _agent, _slots[o.label].e.id, s.err().message);
      _vectors_changed = true;
      return;
    }
  }
}

void memory_namespace::reset_indexes() {
  // After a wipe the namespace may be embedded by another model: dimensions and model are
  // set again by the next vector, and the old checkpoint goes.
  _bm25 = textsearch::bm25_index();
  _vectors.reset();
  _dims = 0;
  _model.clear();
  _dims_warned = false;
  _vectors_changed = false;
  _unembedded.clear();
  std::error_code ec;
  fs::remove(_dir / "checkpoint.json", ec);
  for (auto it = fs::directory_iterator(_dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec))
    if (it->path().filename().string().rfind("vectors-", 0) == 0) fs::remove_all(it->path(), ec);
}

// -------------------------------------------------------------------------------------
// Embedding queue

std::vector<pending_text> memory_namespace::take_unembedded(std::size_t max) {
  std::vector<pending_text> out;
  if (_single_embeds > 0) max = 1, --_single_embeds;
  while (!_unembedded.empty() && out.size() < max) {
    auto l = _unembedded.front();
    _unembedded.pop_front();
    if (l >= _slots.size()) continue;
    auto& s = _slots[l];
    if (!s.live || s.vector_at || s.unembeddable) continue;
    out.push_back({l, s.e.id, s.e.text});
  }
  _embedding += out.size();
  return out;
}

void memory_namespace::unembeddable(std::uint32_t label) {
  if (label < _slots.size()) _slots[label].unembeddable = true;
}

void memory_namespace::embedded(std::size_t n) { _embedding -= std::min(_embedding, n); }

void memory_namespace::requeue(const std::vector<std::uint32_t>& labels) {
  embedded(labels.size());
  for (auto it = labels.rbegin(); it != labels.rend(); ++it) _unembedded.push_front(*it);
}

std::optional<std::vector<float>> memory_namespace::full_vector(std::uint32_t label) const {
  if (label >= _slots.size() || !_slots[label].vector_at) return std::nullopt;
  auto v = _store->read_vector(*_slots[label].vector_at);
  if (!v) {
    _log.error("memory '{}': {}", _agent, v.err().message);
    return std::nullopt;
  }
  return std::move(*v);
}

// -------------------------------------------------------------------------------------
// Maintenance

status memory_namespace::checkpoint(utc_time now) {
  if (!_vectors) return {};
  if (auto s = commit(); !s) return s;
  auto fetch = [this](std::uint32_t l) { return full_vector(l); };
  auto moved = _vectors->retier(now, fetch);
  if (moved.to_hot + moved.to_warm + moved.to_cold) {
    _vectors_changed = true;
    _log.info("memory '{}': tiers moved {} to hot, {} to warm, {} to cold", _agent, moved.to_hot, moved.to_warm,
              moved.to_cold);
  }
  if (!_vectors_changed) return {};
  auto old = read_checkpoint(_dir / "checkpoint.json");
  auto name = fmt::format("vectors-{}", std::chrono::duration_cast<std::chrono::milliseconds>(
                                             now.time_since_epoch()).count());
  if (old && old->index_dir == name) name += "b";
  if (auto s = _vectors->save((_dir / name).string()); !s) return storage_error(s.err());
  auto end = _store->end();
  std::uint64_t labels = _slots.size();
  json j{{"segment", end.segment}, {"offset", end.offset}, {"labels", labels},
         {"dims", _dims},          {"model", _model},       {"index", name}};
  auto text = j.dump(-1, ' ', false, json::error_handler_t::replace);  // a model name is not trusted UTF-8
  if (auto s = weft::write_file_atomic(_dir / "checkpoint.json", text); !s) return storage_error(s.err());
  std::error_code ec;
  for (auto it = fs::directory_iterator(_dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    auto n = it->path().filename().string();
    if (n.rfind("vectors-", 0) == 0 && n != name) fs::remove_all(it->path(), ec);
  }
  _vectors_changed = false;
  return {};
}

// -------------------------------------------------------------------------------------
// Export and import

result<memstore::snapshot_meta> memory_namespace::export_to(const fs::path& path) {
  if (auto s = commit(); !s) return s.take_error();
  memstore::snapshot_meta meta;
  meta.agent = _agent;
  meta.created = utc_now();
  meta.embedder = _model;
  meta.dims = _dims;
  auto r = memstore::write_snapshot(path, meta, [&](memstore::snapshot_writer& w) -> status {
    std::size_t n = 0;
    for (auto& s : _slots) {
      if (!s.live) continue;
      if (auto st = w.add(s.e); !st) return st;
      if (++n % 4096 == 0) _tick();
    }
    for (auto& s : _slots) {
      if (!s.live || !s.vector_at) continue;
      if (++n % 4096 == 0) _tick();
      auto v = _store->read_vector(*s.vector_at);
      if (!v) return v.take_error();
      if (auto st = w.add_vector(s.e.id, *v, _model); !st) return st;
    }
    return {};
  });
  if (!r) return storage_error(r.err());
  return r;
}

result<memory_namespace::import_result> memory_namespace::import_from(const fs::path& path,
                                                                   const memstore::snapshot_meta& verified,
                                                                   bool replace) {
  const auto* meta = &verified;
  if (meta->dims && _dims && meta->dims != _dims && !replace)
    return mem::make(mem::error_code::bad_request,
                     "the snapshot's vectors have {} dimensions ({}), this namespace's have {} ({}); import with "
                     "--replace, or without vectors",
                     meta->dims, meta->embedder, _dims, _model);
  if (replace) {
    if (auto w = wipe(); !w) return w.take_error();
    if (auto s = commit(); !s) return s.take_error();
  }
  struct importer : memstore::visitor {
    memory_namespace& ns;
    import_result out;
    std::unordered_map<std::string, std::uint32_t> added;
    std::optional<error> failed;
    std::uint64_t seen = 0;
    explicit importer(memory_namespace& n) : ns(n) {}
    void on_entry(const memstore::entry& e, memstore::location) override {
      if (failed) return;
      if (++seen % 4096 == 0) ns._tick();
      // The same entry (or the same idempotency key) is already here: skip it. Another
      // entry under the same id (ids are per namespace): keep both, under a new id.
      auto same = ns._by_id.find(e.id);
      if ((same != ns._by_id.end() && ns._slots[same->second].e == e) ||
          (!e.key.empty() && ns._by_key.count(e.key))) {
        ++out.skipped;
        return;
      }
      auto copy = e;
      if (same != ns._by_id.end()) copy.id = ns.next_id();
      auto at = ns._store->append(copy);
      if (!at) {
        failed = at.err();
        return;
      }
      auto label = static_cast<std::uint32_t>(ns._slots.size());
      ns._by_id[copy.id] = label;
      if (!copy.key.empty()) ns._by_key[copy.key] = label;
      ns._next_seq = std::max(ns._next_seq, seq_of(copy.id) + 1);
      ++ns._live;
      ns._slots.push_back(slot{std::move(copy), *at, std::nullopt, true, false});
      ns._applied_ops.push_back(op{op_kind::add, label, {}});
      added[e.id] = label;  // the snapshot's id: its vector record names that one
      ++out.added;
    }
    void on_vector(std::string_view id, std::span<const float> v, std::string_view model,
                   memstore::location) override {
      if (failed) return;
      auto it = added.find(std::string(id));
      if (it == added.end()) return;
      if (auto s = ns.add_vector(it->second, std::vector<float>(v.begin(), v.end()), std::string(model)); !s)
        failed = s.err();
    }
  } imp(*this);
  auto r = memstore::read_snapshot(path, imp);
  if (!r) return mem::make(mem::error_code::corrupt, "{}", r.err().message);
  if (imp.failed) return storage_error(*imp.failed);
  if (auto s = commit(); !s) return s.take_error();
  return imp.out;
}

// -------------------------------------------------------------------------------------
// Search

mem::results memory_namespace::search(const search_request& s, utc_time now) {
  const auto& q = s.req;
  auto keep = [&](std::uint32_t label) {
    if (label >= _slots.size()) return false;
    auto& sl = _slots[label];
    if (!sl.live || !sl.indexed) return false;
    auto& e = sl.e;
    if (!q.session.empty() && e.session != q.session) return false;
    if (q.since && e.created < *q.since) return false;
    if (q.until && e.created >= *q.until) return false;
    if (!q.kinds.empty() &&
        std::find(q.kinds.begin(), q.kinds.end(), static_cast<mem::kind>(e.kind)) == q.kinds.end())
      return false;
    for (auto& t : q.tags)
      if (std::find(e.tags.begin(), e.tags.end(), t) == e.tags.end()) return false;
    return true;
  };
  // Candidates: more than k from each side, so the merge and MMR have room to choose.
  std::size_t want = std::max<std::size_t>(q.k * 4, 40);
  std::vector<textsearch::scored> keyword;
  std::vector<vecindex::hit> vector;
  bool use_vectors = s.query_vector && _vectors && q.mode != mem::mode::keyword;
  if (q.mode != mem::mode::vector || !use_vectors) keyword = _bm25.search(q.query, want, keep);
  if (use_vectors) {
    auto fetch = [this](std::uint32_t l) { return full_vector(l); };
    vector = _vectors->search(*s.query_vector, want, keep, fetch);
  }
  textsearch::weights w;
  w.keyword = q.mode == mem::mode::vector ? 0 : _settings.keyword_weight;
  w.vector = q.mode == mem::mode::keyword ? 0 : _settings.vector_weight;
  w.recency = _settings.recency_weight;
  w.half_life_days = _settings.recency_half_life_days;
  w.mmr_lambda = _settings.mmr_lambda;
  std::vector<textsearch::candidate_vector> vhits;
  vhits.reserve(vector.size());
  for (auto& h : vector) vhits.push_back({h.label, h.similarity});
  auto created = [this](std::uint32_t l) { return _slots[l].e.created; };
  std::function<double(std::uint32_t, std::uint32_t)> similar;
  if (q.mmr && _vectors)
    similar = [this](std::uint32_t a, std::uint32_t b) -> double {
      auto va = full_vector(a), vb = full_vector(b);
      if (!va || !vb || va->size() != vb->size()) return 0;
      double dot = 0, na = 0, nb = 0;
      for (std::size_t i = 0; i < va->size(); ++i)
        dot += (*va)[i] * (*vb)[i], na += (*va)[i] * (*va)[i], nb += (*vb)[i] * (*vb)[i];
      return na > 0 && nb > 0 ? dot / std::sqrt(na * nb) : 0;
    };
  auto text_of = [this](std::uint32_t l) -> std::string_view { return _slots[l].e.text; };
  auto merged = textsearch::merge(keyword, vhits, w, now, created, q.k, q.mmr, similar, text_of);
  mem::results out;
  out.mode = use_vectors ? q.mode : mem::mode::keyword;
  out.note = s.note;
  for (auto& h : merged) {
    if (_vectors) _vectors->touch(h.label, now);
    out.hits.push_back(mem::hit{to_proto(_slots[h.label].e), h.score, h.keyword, h.vector});
  }
  return out;
}

// -------------------------------------------------------------------------------------
// Statistics

mem::statistics memory_namespace::statistics(const std::string& search_mode) const {
  mem::statistics s;
  s.agent = _agent;
  s.entries = _live;
  s.pending_embeddings = _unembedded.size() + _embedding;
  s.dims = _dims;
  s.embedder = _model;
  s.search = search_mode;
  if (_vectors) {
    auto t = _vectors->stats();
    s.vectors = _vectors->size();
    s.hot = t.hot;
    s.warm = t.warm;
    s.cold = t.cold;
    s.ram_bytes = t.total_bytes();
  }
  s.ram_bytes += _bm25.memory_bytes();
  auto st = _store->statistics();
  s.disk_bytes = st.bytes;
  s.segments = st.segments;
  return s;
}

}  // namespace weft::memory
