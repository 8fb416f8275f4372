#include <weft/witness/verify.hh>

#include <sodium.h>

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "format.hh"

namespace weft::witness {

using namespace detail;
namespace fs = std::filesystem;

std::string_view to_string(problem_kind k) {
  switch (k) {
    case problem_kind::altered: return "altered";
    case problem_kind::removed: return "removed";
    case problem_kind::reordered: return "reordered";
    case problem_kind::duplicated: return "duplicated";
    case problem_kind::bad_signature: return "bad signature";
    case problem_kind::missing_segment: return "missing";
    case problem_kind::chain_broken: return "chain broken";
    case problem_kind::malformed: return "malformed";
  }
  return "unknown";
}

std::string problem::to_string() const {
  if (kind == problem_kind::missing_segment)
    return detail.empty() ? fmt::format("segment {} missing", segment)
                          : fmt::format("segment {} missing ({})", segment, detail);
  std::string where = "segment " + segment;
  if (record > 0) where += seq ? fmt::format(", record {} (seq {})", record, seq) : fmt::format(", record {}", record);
  auto what = witness::to_string(kind);
  return detail.empty() ? fmt::format("{}: {}", where, what) : fmt::format("{}: {} ({})", where, what, detail);
}

std::string report::to_string() const {
  std::string out;
  auto range = records ? fmt::format(" (seq {}–{})", first_seq, last_seq) : std::string();
  if (first_problem) {
    out = fmt::format("FAILED: {}\nchecked before it: {} segments, {} records{}, {} signatures; key {}\n",
                      first_problem->to_string(), segments, records, range, signatures, key_id);
  } else {
    out = fmt::format("OK: {} segments, {} records{}, {} signatures verified, key {}\n", segments, records, range,
                      signatures, key_id);
    if (!head.empty()) out += fmt::format("head: {}\n", head);
    if (unsigned_tail)
      out += fmt::format("unsigned tail: {} records (written after the last checkpoint; not yet covered by a "
                         "signature)\n", unsigned_tail);
  }
  for (auto& n : notes) out += "note: " + n + "\n";
  return out;
}

namespace {

struct chain_state {
  digest head{};
  std::uint64_t expected = 1;
};

class verifier {
 public:
  verifier(const public_key& pk, report& rep) : _pk(pk), _rep(rep) {}

  /// Verifies one segment; false once a problem is recorded.
  bool segment(std::uint64_t number, const fs::path& file, bool last);
  bool sealed_last() const { return _sealed; }
  const digest& head() const { return _chain.head; }

 private:
  bool problem_at(problem_kind k, std::uint64_t record, std::uint64_t seq, std::string detail) {
    _rep.first_problem = problem{k, _name, record, seq, std::move(detail)};
    return false;
  }

  public_key _pk;
  report& _rep;
  chain_state _chain;
  std::string _name;
  bool _sealed = false;
};

bool verifier::segment(std::uint64_t number, const fs::path& file, bool last) {
  _name = segment_name(number);
  _sealed = false;
  auto bytes = read_file(file, std::uint64_t{1} << 34);
  if (!bytes) return problem_at(problem_kind::malformed, 0, 0, "unreadable: " + bytes.err().message);
  ++_rep.segments;
  auto header = decode_header(*bytes);
  if (!header) return problem_at(problem_kind::malformed, 0, 0, header.err().message);
  if (header->segment != number)
    return problem_at(problem_kind::malformed, 0, 0,
                      fmt::format("its header names segment {} (renamed or copied?)", header->segment));
  if (header->key != id_of(_pk))
    return problem_at(problem_kind::bad_signature, 0, 0,
                      fmt::format("signed with key {}, but the public key is {}: the public key was replaced, or "
                                  "the segment comes from another chain", to_hex(header->key), to_hex(id_of(_pk))));
  if (header->first_seq > _chain.expected)
    return problem_at(problem_kind::removed, 0, 0,
                      header->first_seq == _chain.expected + 1
                          ? fmt::format("seq {} missing before the segment starts; chain broken", _chain.expected)
                          : fmt::format("seq {}–{} missing before the segment starts; chain broken", _chain.expected,
                                        header->first_seq - 1));
  if (header->first_seq < _chain.expected || header->continues_from != _chain.head)
    return problem_at(problem_kind::chain_broken, 0, 0,
                      fmt::format("the header continues from seq {} hash {}, but the chain before it ends at seq "
                                  "{} hash {}", header->first_seq - 1, to_hex(header->continues_from).substr(0, 16),
                                  _chain.expected - 1, to_hex(_chain.head).substr(0, 16)));
  auto header_hash = sha256(std::string_view(*bytes).substr(0, header_bytes));
  auto scan = scan_frames(*bytes);

  // Seqs of all records in the file, for telling a reorder from a removal.
  std::vector<std::uint64_t> seqs;
  for (auto& f : scan.frames) {
    if (f.type != frame_record) continue;
    auto v = parse_record_frame(f.body);
    auto r = v ? decode_record(v->encoded) : result<record>(v.take_error());
    seqs.push_back(r ? r->seq : 0);
  }
  std::map<std::uint64_t, digest> seen;  // seq → hash, this segment
  std::uint64_t k = 0;                   // records so far in this segment
  std::uint64_t since_mark = 0;
  std::uint64_t last_seq = header->first_seq - 1;
  for (auto& f : scan.frames) {
    if (_sealed)
      return problem_at(problem_kind::malformed, k + 1, 0, "data after the seal");
    if (f.type == frame_record) {
      ++k;
      auto v = parse_record_frame(f.body);
      if (!v) return problem_at(problem_kind::malformed, k, 0, v.err().message);
      auto r = decode_record(v->encoded);
      if (!r) return problem_at(problem_kind::altered, k, 0, "content undecodable: " + r.err().message);
      if (chain_hash(v->prev, v->encoded) != v->hash)
        return problem_at(problem_kind::altered, k, r->seq, "hash mismatch");
      auto seq = r->seq;
      if (seq > _chain.expected) {
        auto later = std::find(seqs.begin() + static_cast<std::ptrdiff_t>(k), seqs.end(), _chain.expected);
        if (later != seqs.end())
          return problem_at(problem_kind::reordered, k, seq, fmt::format("seq {} before {}", seq, _chain.expected));
        return problem_at(problem_kind::removed, k, seq,
                          seq == _chain.expected + 1
                              ? fmt::format("seq {} missing; chain broken", _chain.expected)
                              : fmt::format("seq {}–{} missing; chain broken", _chain.expected, seq - 1));
      }
      if (seq < _chain.expected) {
        if (auto it = seen.find(seq); it != seen.end() && it->second == v->hash)
          return problem_at(problem_kind::duplicated, k, seq, fmt::format("seq {} appears twice", seq));
        return problem_at(problem_kind::reordered, k, seq, fmt::format("seq {} after {}", seq, _chain.expected - 1));
      }
      if (v->prev != _chain.head) {
        // The content hashes, so the record before was edited and its hash recomputed.
        if (k > 1)
          return problem_at(problem_kind::altered, k - 1, seq - 1,
                            fmt::format("its hash was recomputed after an edit: seq {} does not link to it", seq));
        return problem_at(problem_kind::chain_broken, k, seq, "the record does not link to the end of the segment before");
      }
      seen.emplace(seq, v->hash);
      _chain.head = v->hash;
      _chain.expected = seq + 1;
      last_seq = seq;
      if (_rep.records == 0) _rep.first_seq = seq;
      _rep.last_seq = seq;
      ++_rep.records;
      ++since_mark;
      continue;
    }
    auto m = parse_mark_frame(f.type, f.body);
    auto what = f.type == frame_seal ? std::string("seal") : fmt::format("checkpoint after record {}", k);
    if (!m) return problem_at(problem_kind::malformed, 0, 0, what + ": " + m.err().message);
    auto msg = mark_message(*m, header_hash);
    if (crypto_sign_verify_detached(m->sig.data(), reinterpret_cast<const unsigned char*>(msg.data()), msg.size(),
                                    _pk.data()) != 0)
      return problem_at(problem_kind::bad_signature, 0, 0, what + (k ? fmt::format(", seq {}", last_seq) : ""));
    if (m->count > k)
      return problem_at(problem_kind::removed, k, last_seq,
                        m->last_seq == last_seq + 1
                            ? fmt::format("seq {} missing; the signed {} counts {} records", m->last_seq,
                                          f.type == frame_seal ? "seal" : "checkpoint", m->count)
                            : fmt::format("seq {}–{} missing; the signed {} counts {} records", last_seq + 1,
                                          m->last_seq, f.type == frame_seal ? "seal" : "checkpoint", m->count));
    if (m->count < k)
      return problem_at(problem_kind::chain_broken, k, last_seq,
                        fmt::format("the signed {} counts {} records, the segment has {} before it (records inserted?)",
                                    f.type == frame_seal ? "seal" : "checkpoint", m->count, k));
    if (m->last_hash != _chain.head || m->last_seq != (k ? last_seq : 0))
      return problem_at(problem_kind::altered, k, last_seq,
                        fmt::format("records {}–{} were rewritten: the chain does not end with the signed hash",
                                    k - since_mark + 1, k));
    if (header->checkpoint_records && since_mark > header->checkpoint_records)
      return problem_at(problem_kind::chain_broken, k, last_seq,
                        fmt::format("{} records between signatures, but the writer signs every {} (a checkpoint "
                                    "was removed?)", since_mark, header->checkpoint_records));
    ++_rep.signatures;
    since_mark = 0;
    _sealed = m->seal;
  }
  if (scan.bad_offset) {
    if (!(last && scan.tail_torn && !_sealed))
      return problem_at(problem_kind::malformed, k + 1, 0, fmt::format("{} at byte {}", scan.bad_reason, *scan.bad_offset));
    if (holds_signed_mark(std::string_view(*bytes).substr(*scan.bad_offset), header_hash, _pk))
      return problem_at(problem_kind::malformed, k + 1, 0,
                        fmt::format("{} at byte {}, and signed records follow: damage, not a torn write",
                                    scan.bad_reason, *scan.bad_offset));
    _rep.notes.push_back(fmt::format("{}: torn tail of {} bytes after record {} (an interrupted write; the writer "
                                     "cuts it off when it next opens)", _name, bytes->size() - *scan.bad_offset, k));
  }
  if (!last && !_sealed)
    return problem_at(problem_kind::chain_broken, 0, 0,
                      "not sealed although a later segment exists (the writer seals before it starts the next; "
                      "the seal was removed)");
  if (last) {
    if (header->checkpoint_records && since_mark > header->checkpoint_records)
      return problem_at(problem_kind::chain_broken, k, last_seq,
                        fmt::format("{} records after the last signature, but the writer signs every {} "
                                    "(checkpoints removed?)", since_mark, header->checkpoint_records));
    _rep.unsigned_tail = since_mark;
  }
  return true;
}

}  // namespace

result<report> verify(const fs::path& audit_dir, const fs::path& public_key_file) {
  if (sodium_init() < 0) return fail(errc::unavailable, "Failed to initialise libsodium");
  auto segs = list_segments(audit_dir);
  if (!segs) return segs.take_error();
  auto pk = read_public_key(public_key_file);
  if (!pk) return pk.take_error();
  report rep;
  rep.key_id = to_hex(id_of(*pk));
  verifier v(*pk, rep);
  std::uint64_t max = segs->empty() ? 0 : segs->back().first;
  std::size_t i = 0;
  for (std::uint64_t n = 1; n <= max; ++n) {
    if (i >= segs->size() || (*segs)[i].first != n) {
      rep.first_problem = problem{problem_kind::missing_segment, segment_name(n), 0, 0, {}};
      return rep;
    }
    if (!v.segment(n, (*segs)[i].second, n == max)) return rep;
    ++i;
  }
  if (rep.records) rep.head = to_hex(v.head());
  if (max == 0) rep.notes.push_back("no segments yet: the chain is empty");
  if (max > 0 && v.sealed_last())
    rep.notes.push_back(fmt::format("the last segment {} is sealed and {} does not exist: the writer had not started "
                                    "it yet, or it was removed whole", segment_name(max), segment_name(max + 1)));
  return rep;
}

result<std::vector<record>> read_records(const fs::path& audit_dir, std::size_t n) {
  auto segs = list_segments(audit_dir);
  if (!segs) return segs.take_error();
  std::vector<std::vector<record>> parts;
  std::size_t total = 0;
  for (auto it = segs->rbegin(); it != segs->rend() && (n == 0 || total < n); ++it) {
    auto bytes = read_file(it->second, std::uint64_t{1} << 34);
    if (!bytes) return fail(errc::io, "Failed to read witness segment '{}': {}", it->second.string(), bytes.err().message);
    if (!decode_header(*bytes)) continue;
    std::vector<record> part;
    for (auto& f : scan_frames(*bytes).frames) {
      if (f.type != frame_record) continue;
      auto v = parse_record_frame(f.body);
      if (!v) continue;
      if (auto r = decode_record(v->encoded)) part.push_back(std::move(*r));
    }
    total += part.size();
    parts.push_back(std::move(part));
  }
  std::vector<record> out;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it)
    for (auto& r : *it) out.push_back(std::move(r));
  if (n && out.size() > n) out.erase(out.begin(), out.end() - static_cast<std::ptrdiff_t>(n));
  return out;
}

}  // namespace weft::witness
