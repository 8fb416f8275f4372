#include <weft/textsearch/hybrid.hh>

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include <weft/textsearch/tokenizer.hh>

namespace weft::textsearch {

double recency_bonus(utc_time created, utc_time now, double half_life_days) {
  if (!(half_life_days > 0)) return 0;
  double age_days = std::chrono::duration<double, std::ratio<86400>>(now - created).count();
  if (age_days <= 0) return 1;
  return std::exp2(-age_days / half_life_days);
}

namespace {

bool better(const hybrid_hit& a, const hybrid_hit& b) {
  if (a.score != b.score) return a.score > b.score;
  return a.label < b.label;
}

}  // namespace

merged_hits merge(const std::vector<scored>& keyword, const std::vector<candidate_vector>& vector,
                  const weights& w, utc_time now, const created_fn& created, std::size_t k,
                  bool mmr, const similarity_fn& similarity, const text_fn& text) {
  merged_hits out;
  out.keyword_only = vector.empty();
  if (k == 0 || (keyword.empty() && vector.empty())) return out;

  double max_kw = 0;
  for (auto& h : keyword) max_kw = std::max(max_kw, h.score);

  std::unordered_map<std::uint32_t, std::size_t> at;  // label → index in hits
  std::vector<hybrid_hit> hits;
  hits.reserve(keyword.size() + vector.size());
  auto entry = [&](std::uint32_t label) -> hybrid_hit& {
    auto [it, fresh] = at.try_emplace(label, hits.size());
    if (fresh) hits.push_back({label, 0, 0, 0, 0});
    return hits[it->second];
  };
  for (auto& h : keyword) {
    auto& e = entry(h.label);
    double kw = max_kw > 0 && h.score > 0 ? h.score / max_kw : 0;
    e.keyword = std::max(e.keyword, kw);
  }
  for (auto& h : vector) {
    auto& e = entry(h.label);
    double v = std::isfinite(h.similarity) ? std::clamp(h.similarity, 0.0, 1.0) : 0.0;
    e.vector = std::max(e.vector, v);
  }

  // Without vectors the vector weight goes to the keyword part (see hybrid.hh).
  double kw_weight = out.keyword_only ? w.keyword + w.vector : w.keyword;
  for (auto& h : hits) {
    h.recency = created ? recency_bonus(created(h.label), now, w.half_life_days) : 0;
    h.score = kw_weight * h.keyword + w.vector * h.vector + w.recency * h.recency;
  }
  std::sort(hits.begin(), hits.end(), better);

  bool can_diversify = similarity || text;
  if (!mmr || !can_diversify || hits.size() <= 1) {
    if (hits.size() > k) hits.resize(k);
    out.hits = std::move(hits);
    return out;
  }

  // MMR over a bounded pool of the best candidates: O(k · pool) similarity calls.
  std::size_t pool = std::min(hits.size(), std::max<std::size_t>(k * 5, 50));
  hits.resize(pool);
  double top = hits.front().score;
  double lambda = std::clamp(w.mmr_lambda, 0.0, 1.0);

  std::vector<std::vector<std::string>> sets;  // the Jaccard fallback, tokenized once
  if (!similarity) {
    sets.reserve(pool);
    for (auto& h : hits) sets.push_back(token_set(text(h.label)));
  }
  auto sim = [&](std::size_t a, std::size_t b) -> double {
    if (similarity) {
      double s = similarity(hits[a].label, hits[b].label);
      return std::isfinite(s) ? std::clamp(s, 0.0, 1.0) : 0.0;
    }
    return jaccard(sets[a], sets[b]);
  };

  std::vector<double> max_sim(pool, 0.0);  // to anything selected so far
  std::vector<bool> taken(pool, false);
  std::size_t want = std::min(k, pool);
  out.hits.reserve(want);
  for (std::size_t round = 0; round < want; ++round) {
    std::size_t best = pool;
    double best_mmr = 0;
    for (std::size_t i = 0; i < pool; ++i) {
      if (taken[i]) continue;
      double rel = top > 0 ? hits[i].score / top : 0;
      double m = lambda * rel - (1 - lambda) * max_sim[i];
      if (best == pool || m > best_mmr) best = i, best_mmr = m;  // ties: higher score first
    }
    taken[best] = true;
    out.hits.push_back(hits[best]);
    for (std::size_t i = 0; i < pool; ++i)
      if (!taken[i]) max_sim[i] = std::max(max_sim[i], sim(i, best));
  }
  return out;
}

bool matches(const filter& f, const doc_meta& d) {
  if (f.since && d.created < *f.since) return false;
  if (f.until && d.created >= *f.until) return false;
  if (!f.session.empty() && d.session != f.session) return false;
  if (!f.kinds.empty() && std::find(f.kinds.begin(), f.kinds.end(), d.kind) == f.kinds.end())
    return false;
  for (auto& t : f.tags)
    if (std::find(d.tags.begin(), d.tags.end(), t) == d.tags.end()) return false;
  return true;
}

}  // namespace weft::textsearch
