// weftctl memory …: an agent's memory, through the memory service (io.weft.Memory.v1).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <weft/base/io.hh>
#include <weft/base/time.hh>

#include "commands.hh"
#include "proto/memory_v1.hh"

namespace weft::ctl {

namespace mem = weft::proto::memory_v1;
using json = nlohmann::json;

namespace {

/// Chunk size of exports and imports: well under the bus's default message limit (1 MiB).
constexpr std::uint32_t chunk_bytes = 512u << 10;

ipc::call_options once(const options& o) {
  // Export, import and search are not resent on a slow answer: one attempt, whole deadline.
  ipc::call_options co;
  co.timeout = std::chrono::milliseconds(o.timeout_ms);
  co.attempt_timeout = co.timeout;
  return co;
}

template <class Reply, class Req>
result<Reply> ask(ipc::bus_client& b, const options& o, const Req& req) {
  auto r = b.call("memory", req, once(o));
  if (!r) return r.take_error();
  return r->template as<Reply>();
}

json entry_json(const mem::entry& e) {
  return json{{"id", e.id},           {"kind", mem::to_string(e.kind)}, {"text", e.text},
              {"session", e.session}, {"role", e.role},           {"tags", e.tags},
              {"created", to_rfc3339(e.created)}};
}

std::string one_line(std::string_view text, std::size_t max) {
  std::string out;
  for (char c : text) {
    if (out.size() >= max) {
      out += "…";
      break;
    }
    out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  }
  return out;
}

int do_search(ipc::bus_client& b, const options& o, const memory_args& p) {
  mem::search s;
  s.agent = p.agent;
  for (auto& w : p.words) s.query += (s.query.empty() ? "" : " ") + w;
  s.k = p.k;
  s.mode = p.mode;
  s.session = p.session;
  s.tags = p.tags;
  s.kinds = p.kinds;
  s.since = p.since;
  s.until = p.until;
  s.mmr = p.mmr;
  auto r = ask<mem::results>(b, o, s);
  if (!r) return failure(fmt::format("Failed to search the memory of agent '{}': {}", p.agent, r.err().message));
  if (o.json) {
    json hits = json::array();
    for (auto& h : r->hits)
      hits.push_back({{"entry", entry_json(h.entry)}, {"score", h.score}, {"keyword", h.keyword}, {"vector", h.vector}});
    fmt::print("{}\n", json{{"mode", mem::to_string(r->mode)}, {"note", r->note}, {"hits", hits}}.dump(2));
    return 0;
  }
  if (!r->note.empty()) fmt::print(stderr, "note: {}\n", r->note);
  if (r->hits.empty()) fmt::print("no matches\n");
  for (auto& h : r->hits) {
    auto& e = h.entry;
    fmt::print("{:.3f}  {}  {}  {}{}{}\n      {}\n", h.score, to_rfc3339(e.created), e.id, mem::to_string(e.kind),
               e.session.empty() ? "" : "  " + e.session, e.role.empty() ? "" : " (" + e.role + ")",
               one_line(e.text, 200));
  }
  return 0;
}

int do_put(ipc::bus_client& b, const options& o, const memory_args& p) {
  mem::put put;
  put.agent = p.agent;
  put.kind = p.kinds.empty() ? mem::kind::note : p.kinds.front();
  for (auto& w : p.words) put.text += (put.text.empty() ? "" : " ") + w;
  put.session = p.session;
  put.tags = p.tags;
  auto r = ask<mem::stored>(b, o, put);
  if (!r) return failure(fmt::format("Failed to store in the memory of agent '{}': {}", p.agent, r.err().message));
  if (o.json) fmt::print("{}\n", json{{"id", r->id}, {"duplicate", r->duplicate}}.dump());
  else fmt::print("stored {}\n", r->id);
  return 0;
}

int do_stats(ipc::bus_client& b, const options& o, const memory_args& p) {
  auto r = ask<mem::statistics>(b, o, mem::stats{p.agent});
  if (!r) return failure(fmt::format("Failed to read the memory statistics of agent '{}': {}", p.agent,
                                     r.err().message));
  if (o.json) {
    fmt::print("{}\n", json{{"agent", r->agent}, {"entries", r->entries}, {"vectors", r->vectors},
                            {"pending_embeddings", r->pending_embeddings}, {"dims", r->dims},
                            {"embedder", r->embedder}, {"search", r->search}, {"hot", r->hot}, {"warm", r->warm},
                            {"cold", r->cold}, {"ram_bytes", r->ram_bytes}, {"disk_bytes", r->disk_bytes},
                            {"segments", r->segments}}
                           .dump(2));
    return 0;
  }
  fmt::print("agent:      {}\nentries:    {}\nvectors:    {}{}\nembedder:   {}\nsearch:     {}\n", r->agent,
             r->entries, r->vectors,
             r->pending_embeddings ? fmt::format(" ({} waiting for an embedding)", r->pending_embeddings) : "",
             r->embedder.empty() ? "none" : fmt::format("{} ({} dims)", r->embedder, r->dims), r->search);
  fmt::print("tiers:      {} hot, {} warm (8-bit), {} cold (binary)\nindex RAM:  {:.1f} MiB\n", r->hot, r->warm,
             r->cold, r->ram_bytes / 1048576.0);
  fmt::print("disk:       {:.1f} MiB in {} segment file(s)\n", r->disk_bytes / 1048576.0, r->segments);
  return 0;
}

int do_export(ipc::bus_client& b, const options& o, const memory_args& p) {
  auto ready = ask<mem::export_ready>(b, o, mem::export_begin{p.agent});
  if (!ready) return failure(fmt::format("Failed to export the memory of agent '{}': {}", p.agent,
                                         ready.err().message));
  // Appears under its name only complete and durable: a failed export leaves no half file.
  // 0600: a snapshot holds the agent's private memory.
  auto f = atomic_file::create(p.file, 0600);
  if (!f) return failure(f.err().message);
  std::uint64_t offset = 0;
  int last_pct = -1;
  for (;;) {
    auto c = ask<mem::chunk>(b, o, mem::read_chunk{ready->snapshot, offset, chunk_bytes});
    if (!c) return failure(fmt::format("Failed to export the memory of agent '{}': {}", p.agent, c.err().message));
    if (c->offset != offset) return failure(fmt::format("Failed to write '{}': chunk out of order", p.file));
    if (auto w = f->write({reinterpret_cast<const char*>(c->data.data()), c->data.size()}); !w)
      return failure(w.err().message);
    offset += c->data.size();
    if (ready->bytes > (8u << 20)) {
      int pct = static_cast<int>(offset * 100 / ready->bytes);
      if (pct / 10 != last_pct / 10) fmt::print(stderr, "exporting: {}%\n", pct), last_pct = pct;
    }
    if (c->eof) break;
    if (c->data.empty()) return failure("Failed to export: the memory service sent an empty chunk before the end");
  }
  if (offset != ready->bytes)
    return failure(fmt::format("Failed to write '{}': got {} of {} bytes", p.file, offset, ready->bytes));
  if (auto done = f->commit(); !done) return failure(done.err().message);
  if (o.json)
    fmt::print("{}\n", json{{"file", p.file}, {"bytes", offset}, {"entries", ready->entries},
                            {"sha256", ready->sha256}}.dump());
  else
    fmt::print("exported {} entries of agent '{}' to {} ({} bytes, sha256 {})\n", ready->entries, p.agent,
               p.file, offset, ready->sha256);
  return 0;
}

int do_import(ipc::bus_client& b, const options& o, const memory_args& p) {
  const auto& file = p.file;
  std::ifstream in(file, std::ios::binary);
  struct stat st {};
  if (!in || ::stat(file.c_str(), &st) != 0)
    return failure(fmt::format("Failed to import '{}': {}", file, std::strerror(errno)));
  auto begin = ask<mem::import_started>(b, o, mem::import_begin{p.agent, static_cast<std::uint64_t>(st.st_size)});
  if (!begin) return failure(fmt::format("Failed to import '{}': {}", file, begin.err().message));
  std::uint64_t offset = 0;
  std::string buf(chunk_bytes, '\0');
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    auto n = static_cast<std::size_t>(in.gcount());
    if (n == 0) break;
    mem::write_chunk wc{begin->id, offset, wire::bytes(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n))};
    auto r = ask<mem::chunk>(b, o, wc);
    if (!r) return failure(fmt::format("Failed to import '{}': {}", file, r.err().message));
    offset += n;
  }
  if (in.bad()) return failure(fmt::format("Failed to read '{}': {}", file, std::strerror(errno)));
  auto done = ask<mem::imported>(b, o, mem::import_commit{begin->id, p.replace});
  if (!done) return failure(fmt::format("Failed to import '{}': {}", file, done.err().message));
  if (o.json)
    fmt::print("{}\n", json{{"agent", done->agent}, {"entries", done->entries}, {"skipped", done->skipped}}.dump());
  else
    fmt::print("imported {} entries into agent '{}'{}\n", done->entries, done->agent,
               done->skipped ? fmt::format(" ({} already present, skipped)", done->skipped) : "");
  return 0;
}

/// Runs `verb` with a bus connection; the connection failing is a failure (1).
int with_bus(const options& o, const memory_args& p,
             int (*verb)(ipc::bus_client&, const options&, const memory_args&)) {
  zmq::context_t ctx(1);
  auto b = join_bus(ctx, o);
  if (!b) return failure(fmt::format("Failed to join the bus: {}", b.err().message));
  return verb(**b, o, p);
}

int do_forget(ipc::bus_client& b, const options& o, const memory_args& p) {
  auto r = ask<mem::forgotten>(b, o, mem::forget{p.agent, p.words});
  if (!r) return failure(fmt::format("Failed to forget in the memory of agent '{}': {}", p.agent, r.err().message));
  fmt::print("forgot {} of {} entries\n", r->count, p.words.size());
  return 0;
}

int do_wipe(ipc::bus_client& b, const options& o, const memory_args& p) {
  auto r = ask<mem::forgotten>(b, o, mem::wipe{p.agent});
  if (!r) return failure(fmt::format("Failed to wipe the memory of agent '{}': {}", p.agent, r.err().message));
  fmt::print("wiped {} entries of agent '{}'\n", r->count, p.agent);
  return 0;
}

}  // namespace

int cmd_memory_search(const options& o, const memory_args& a) { return with_bus(o, a, do_search); }
int cmd_memory_put(const options& o, const memory_args& a) { return with_bus(o, a, do_put); }
int cmd_memory_stats(const options& o, const memory_args& a) { return with_bus(o, a, do_stats); }
int cmd_memory_export(const options& o, const memory_args& a) { return with_bus(o, a, do_export); }
int cmd_memory_import(const options& o, const memory_args& a) { return with_bus(o, a, do_import); }
int cmd_memory_forget(const options& o, const memory_args& a) { return with_bus(o, a, do_forget); }
int cmd_memory_wipe(const options& o, const memory_args& a) { return with_bus(o, a, do_wipe); }

}  // namespace weft::ctl
