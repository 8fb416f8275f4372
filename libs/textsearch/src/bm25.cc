#include <weft/textsearch/bm25.hh>

#include <algorithm>
#include <cmath>

#include <weft/textsearch/tokenizer.hh>

namespace weft::textsearch {

bm25_index::bm25_index(bm25_params params) : _params(params) {}

std::uint32_t bm25_index::term_id(const std::string& t) {
  if (auto it = _term_ids.find(t); it != _term_ids.end()) return it->second;
  std::uint32_t id;
  if (!_free_terms.empty()) {
    id = _free_terms.back();
    _free_terms.pop_back();
    _term_names[id] = t;
  } else {
    id = static_cast<std::uint32_t>(_postings.size());
    _postings.emplace_back();
    _term_names.push_back(t);
  }
  _term_ids.emplace(t, id);
  return id;
}

void bm25_index::add(std::uint32_t label, std::string_view text) {
  remove(label);
  auto tokens = tokenize(text, _params.max_tokens_per_doc);

  // Term frequencies, by term id.
  std::vector<std::pair<std::uint32_t, std::uint32_t>> tf;
  tf.reserve(tokens.size());
  for (auto& t : tokens) tf.emplace_back(term_id(t), 1);
  std::sort(tf.begin(), tf.end());
  std::size_t w = 0;
  for (std::size_t r = 0; r < tf.size(); ++r) {
    if (w > 0 && tf[w - 1].first == tf[r].first) ++tf[w - 1].second;
    else tf[w++] = tf[r];
  }
  tf.resize(w);

  std::uint32_t slot;
  if (!_free_slots.empty()) {
    slot = _free_slots.back();
    _free_slots.pop_back();
  } else {
    slot = static_cast<std::uint32_t>(_docs.size());
    _docs.emplace_back();
    _lengths.push_back(0);
  }
  auto& d = _docs[slot];
  d.label = label;
  d.length = static_cast<std::uint32_t>(tokens.size());
  _lengths[slot] = d.length;
  d.live = true;
  d.terms.clear();
  d.terms.reserve(tf.size());
  for (auto [term, count] : tf) {
    auto& list = _postings[term];
    if (list.empty()) ++_live_terms;
    d.terms.push_back({term, static_cast<std::uint32_t>(list.size())});
    list.push_back({slot, count});
  }
  _total_length += d.length;
  _label_to_slot.emplace(label, slot);
}

bool bm25_index::remove(std::uint32_t label) {
  auto it = _label_to_slot.find(label);
  if (it == _label_to_slot.end()) return false;
  auto slot = it->second;
  _label_to_slot.erase(it);
  remove_slot(slot);
  return true;
}

void bm25_index::remove_slot(std::uint32_t slot) {
  auto& d = _docs[slot];
  for (auto [term, pos] : d.terms) {
    auto& list = _postings[term];
    auto last = list.back();
    if (pos + 1 != list.size()) {
      // Move the last posting into the hole and tell its document where it now is.
      list[pos] = last;
      auto& other = _docs[last.slot].terms;
      auto ot = std::lower_bound(other.begin(), other.end(), term,
                                 [](const doc_term& a, std::uint32_t t) { return a.term < t; });
      ot->pos = pos;
    }
    list.pop_back();
    if (list.empty()) {
      // Free the term so a stream of one-off words (ids, typos) does not grow the index.
      list.shrink_to_fit();
      --_live_terms;
      _term_ids.erase(_term_names[term]);
      _term_names[term].clear();
      _term_names[term].shrink_to_fit();
      _free_terms.push_back(term);
    }
  }
  _total_length -= d.length;
  d.terms.clear();
  d.terms.shrink_to_fit();
  d.length = 0;
  _lengths[slot] = 0;
  d.live = false;
  _free_slots.push_back(slot);
}

bool bm25_index::contains(std::uint32_t label) const { return _label_to_slot.contains(label); }

std::vector<scored> bm25_index::search(std::string_view query, std::size_t k,
                                       const std::function<bool(std::uint32_t)>& filter) const {
  std::vector<scored> out;
  if (k == 0 || _label_to_slot.empty()) return out;

  // Distinct known query terms.
  std::vector<std::uint32_t> terms;
  for (auto& t : token_set(query)) {
    if (terms.size() >= _params.max_query_terms) break;
    if (auto it = _term_ids.find(t); it != _term_ids.end()) terms.push_back(it->second);
  }
  if (terms.empty()) return out;

  const double n_docs = static_cast<double>(_label_to_slot.size());
  const double avgdl = std::max(1.0, static_cast<double>(_total_length) / n_docs);
  const double k1 = _params.k1, b = _params.b;

  // Accumulate per slot. A dense array when the postings touch a good share of the
  // documents, a hash map otherwise, so a rare-term query on a large index stays cheap.
  std::size_t touched_total = 0;
  for (auto t : terms) touched_total += _postings[t].size();
  std::vector<std::pair<std::uint32_t, double>> candidates;
  // Per term: idf·(k1+1); per posting only the tf and length part remains.
  std::vector<double> weight(terms.size());
  for (std::size_t i = 0; i < terms.size(); ++i) {
    double n_t = static_cast<double>(_postings[terms[i]].size());
    weight[i] = std::log(1.0 + (n_docs - n_t + 0.5) / (n_t + 0.5)) * (k1 + 1);
  }
  const double norm_a = k1 * (1 - b), norm_b = k1 * b / avgdl;
  auto term_score = [&](std::size_t i, const posting& p) {
    double tf = p.tf;
    return weight[i] * tf / (tf + norm_a + norm_b * _lengths[p.slot]);
  };
  if (touched_total * 8 >= _docs.size()) {
    std::vector<double> acc(_docs.size(), 0.0);
    std::vector<std::uint32_t> touched;
    for (std::size_t i = 0; i < terms.size(); ++i)
      for (auto& p : _postings[terms[i]]) {
        if (acc[p.slot] == 0.0) touched.push_back(p.slot);
        acc[p.slot] += term_score(i, p);
      }
    candidates.reserve(touched.size());
    for (auto s : touched) candidates.emplace_back(s, acc[s]);
  } else {
    std::unordered_map<std::uint32_t, double> acc;
    acc.reserve(touched_total);
    for (std::size_t i = 0; i < terms.size(); ++i)
      for (auto& p : _postings[terms[i]]) acc[p.slot] += term_score(i, p);
    candidates.assign(acc.begin(), acc.end());
  }

  // Pop candidates best first until k pass the filter.
  auto worse = [this](const std::pair<std::uint32_t, double>& a, const std::pair<std::uint32_t, double>& b) {
    if (a.second != b.second) return a.second < b.second;
    return _docs[a.first].label > _docs[b.first].label;
  };
  std::make_heap(candidates.begin(), candidates.end(), worse);
  auto end = candidates.end();
  while (end != candidates.begin() && out.size() < k) {
    std::pop_heap(candidates.begin(), end, worse);
    --end;
    auto label = _docs[end->first].label;
    if (filter && !filter(label)) continue;
    out.push_back({label, end->second});
  }
  return out;
}

std::size_t bm25_index::memory_bytes() const {
  // Hash nodes cost roughly their payload plus a next pointer and a bucket slot.
  constexpr std::size_t node = 2 * sizeof(void*);
  std::size_t bytes = sizeof(*this);
  for (auto& [name, id] : _term_ids)
    bytes += node + sizeof(std::string) + sizeof(id) + (name.size() > 15 ? name.capacity() : 0);
  bytes += _term_ids.bucket_count() * sizeof(void*);
  bytes += _term_names.capacity() * sizeof(std::string);
  for (auto& n : _term_names) bytes += n.size() > 15 ? n.capacity() : 0;
  bytes += _postings.capacity() * sizeof(std::vector<posting>);
  for (auto& p : _postings) bytes += p.capacity() * sizeof(posting);
  bytes += _free_terms.capacity() * sizeof(std::uint32_t);
  bytes += _docs.capacity() * sizeof(doc);
  for (auto& d : _docs) bytes += d.terms.capacity() * sizeof(doc_term);
  bytes += (_free_slots.capacity() + _lengths.capacity()) * sizeof(std::uint32_t);
  bytes += _label_to_slot.size() * (node + 2 * sizeof(std::uint32_t)) +
           _label_to_slot.bucket_count() * sizeof(void*);
  return bytes;
}

void bm25_index::clear() { *this = bm25_index(_params); }

}  // namespace weft::textsearch
