// weftctl memory …: an agent's memory, through the memory service (io.weft.Memory.v1).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <weft/base/time.hh>
#include <weft/service/exit.hh>

#include "commands.hh"
#include "proto/memory_v1.hh"

namespace weft::ctl {

namespace mem = weft::proto::memory_v1;
using json = nlohmann::json;

namespace {

constexpr const char* memory_help =
    "usage: weftctl memory COMMAND [OPTIONS]\n"
    "\n"
    "An agent's memory, served by the memory service. Every command needs --agent ID (the\n"
    "namespace) except import, which can take it from the snapshot.\n"
    "\n"
    "Commands:\n"
    "  search --agent ID [OPTIONS] QUERY   find entries by meaning and keywords\n"
    "      -k N                  number of hits (default 10, at most 100)\n"
    "      --mode M              hybrid (default), keyword or vector\n"
    "      --session KEY         only this session\n"
    "      --tag T               only entries carrying T (repeatable: all must match)\n"
    "      --kind K              only note, message or summary (repeatable)\n"
    "      --since T, --until T  time range, RFC 3339 (e.g. 2026-11-01T00:00:00Z)\n"
    "      --mmr                 diversify the hits\n"
    "  put --agent ID [--tag T]… [--session KEY] [--kind K] TEXT\n"
    "                            store a note (kind note unless --kind)\n"
    "  stats --agent ID          entries, vectors, tiers, disk and RAM, and what search can do\n"
    "  export --agent ID -o FILE write a snapshot (entries, vectors, summaries, metadata)\n"
    "  import FILE [--agent ID] [--replace]\n"
    "                            load a snapshot; it is verified whole first, and a corrupt or\n"
    "                            truncated file is refused without changing anything. --replace\n"
    "                            wipes the namespace first; otherwise entries are merged.\n"
    "  forget --agent ID ENTRY-ID…   delete entries\n"
    "  wipe --agent ID --yes     delete every entry of the namespace\n"
    "\n"
    "Global options (before 'memory'): --json, --timeout MS, --runtime-dir DIR.\n";

/// Chunk size of exports and imports: well under the bus's default message limit (1 MiB).
constexpr std::uint32_t chunk_bytes = 512u << 10;

struct parsed {
  std::string agent;
  std::vector<std::string> positional;
  std::vector<std::string> tags;
  std::vector<mem::kind> kinds;
  std::optional<std::string> output;
  std::uint32_t k = 10;
  mem::mode mode = mem::mode::hybrid;
  std::string session;
  std::optional<utc_time> since, until;
  bool mmr = false, replace = false, yes = false;
};

std::optional<mem::kind> kind_of(std::string_view s) {
  if (s == "note") return mem::kind::note;
  if (s == "message") return mem::kind::message;
  if (s == "summary") return mem::kind::summary;
  return std::nullopt;
}



/// Parses the options after the verb; an error is the usage message.
result<parsed> parse(const std::vector<std::string>& args) {
  parsed p;
  auto usage = [](std::string msg) -> result<parsed> { return fail(errc::invalid_argument, "{}", msg); };
  for (std::size_t i = 1; i < args.size(); ++i) {
    const auto& a = args[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= args.size()) return std::nullopt;
      return args[++i];
    };
    if (a == "--agent" || a == "-a") {
      auto v = value();
      if (!v) return usage("--agent needs an agent id");
      p.agent = *v;
    } else if (a == "-k") {
      auto v = value();
      long n = v ? std::atol(v->c_str()) : 0;
      if (n < 1 || n > 100) return usage("-k needs a number from 1 to 100");
      p.k = static_cast<std::uint32_t>(n);
    } else if (a == "--mode") {
      auto v = value();
      if (v == "hybrid") p.mode = mem::mode::hybrid;
      else if (v == "keyword") p.mode = mem::mode::keyword;
      else if (v == "vector") p.mode = mem::mode::vector;
      else return usage("--mode needs hybrid, keyword or vector");
    } else if (a == "--session") {
      auto v = value();
      if (!v) return usage("--session needs a session key");
      p.session = *v;
    } else if (a == "--tag") {
      auto v = value();
      if (!v) return usage("--tag needs a tag");
      p.tags.push_back(*v);
    } else if (a == "--kind") {
      auto v = value();
      auto k = v ? kind_of(*v) : std::nullopt;
      if (!k) return usage("--kind needs note, message or summary");
      p.kinds.push_back(*k);
    } else if (a == "--since" || a == "--until") {
      auto v = value();
      if (!v) return usage(fmt::format("{} needs an RFC 3339 time", a));
      auto t = parse_rfc3339(*v);
      if (!t) return usage(fmt::format("{} '{}' is not an RFC 3339 time (e.g. 2026-11-01T00:00:00Z)", a, *v));
      (a == "--since" ? p.since : p.until) = *t;
    } else if (a == "-o" || a == "--output") {
      auto v = value();
      if (!v) return usage("-o needs a file name");
      p.output = *v;
    } else if (a == "--mmr") {
      p.mmr = true;
    } else if (a == "--replace") {
      p.replace = true;
    } else if (a == "--yes") {
      p.yes = true;
    } else if (a.size() > 1 && a[0] == '-') {
      return usage(fmt::format("memory {}: unknown option '{}'", args[0], a));
    } else {
      p.positional.push_back(a);
    }
  }
  return p;
}

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

int do_search(ipc::bus_client& b, const options& o, const parsed& p) {
  if (p.positional.empty()) return service::usage_error("weftctl", "memory search needs a QUERY");
  mem::search s;
  s.agent = p.agent;
  for (auto& w : p.positional) s.query += (s.query.empty() ? "" : " ") + w;
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

int do_put(ipc::bus_client& b, const options& o, const parsed& p) {
  if (p.positional.empty()) return service::usage_error("weftctl", "memory put needs TEXT");
  mem::put put;
  put.agent = p.agent;
  put.kind = p.kinds.empty() ? mem::kind::note : p.kinds.front();
  for (auto& w : p.positional) put.text += (put.text.empty() ? "" : " ") + w;
  put.session = p.session;
  put.tags = p.tags;
  auto r = ask<mem::stored>(b, o, put);
  if (!r) return failure(fmt::format("Failed to store in the memory of agent '{}': {}", p.agent, r.err().message));
  if (o.json) fmt::print("{}\n", json{{"id", r->id}, {"duplicate", r->duplicate}}.dump());
  else fmt::print("stored {}\n", r->id);
  return 0;
}

int do_stats(ipc::bus_client& b, const options& o, const parsed& p) {
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

int do_export(ipc::bus_client& b, const options& o, const parsed& p) {
  if (!p.output) return service::usage_error("weftctl", "memory export needs -o FILE");
  auto ready = ask<mem::export_ready>(b, o, mem::export_begin{p.agent});
  if (!ready) return failure(fmt::format("Failed to export the memory of agent '{}': {}", p.agent,
                                         ready.err().message));
  // Written beside the target and renamed at the end: a failed export leaves no half file.
  auto tmp = *p.output + ".part";
  // 0600: a snapshot holds the agent's private memory.
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  std::FILE* f = fd < 0 ? nullptr : ::fdopen(fd, "wb");
  if (!f) {
    if (fd >= 0) ::close(fd);
    return failure(fmt::format("Failed to create '{}': {}", tmp, std::strerror(errno)));
  }
  std::uint64_t offset = 0;
  int last_pct = -1;
  for (;;) {
    auto c = ask<mem::chunk>(b, o, mem::read_chunk{ready->snapshot, offset, chunk_bytes});
    if (!c) {
      std::fclose(f);
      std::remove(tmp.c_str());
      return failure(fmt::format("Failed to export the memory of agent '{}': {}", p.agent, c.err().message));
    }
    if (c->offset != offset || std::fwrite(c->data.data(), 1, c->data.size(), f) != c->data.size()) {
      std::fclose(f);
      std::remove(tmp.c_str());
      return failure(fmt::format("Failed to write '{}': {}", tmp,
                                 c->offset != offset ? "chunk out of order" : std::strerror(errno)));
    }
    offset += c->data.size();
    if (ready->bytes > (8u << 20)) {
      int pct = static_cast<int>(offset * 100 / ready->bytes);
      if (pct / 10 != last_pct / 10) fmt::print(stderr, "exporting: {}%\n", pct), last_pct = pct;
    }
    if (c->eof) break;
    if (c->data.empty()) {
      std::fclose(f);
      std::remove(tmp.c_str());
      return failure("Failed to export: the memory service sent an empty chunk before the end");
    }
  }
  bool ok = std::fflush(f) == 0 && ::fsync(fileno(f)) == 0;
  ok = std::fclose(f) == 0 && ok;
  if (!ok || offset != ready->bytes || std::rename(tmp.c_str(), p.output->c_str()) != 0) {
    std::remove(tmp.c_str());
    return failure(fmt::format("Failed to write '{}': {}", *p.output,
                               offset != ready->bytes ? fmt::format("got {} of {} bytes", offset, ready->bytes)
                                                      : std::string(std::strerror(errno))));
  }
  if (o.json)
    fmt::print("{}\n", json{{"file", *p.output}, {"bytes", offset}, {"entries", ready->entries},
                            {"sha256", ready->sha256}}.dump());
  else
    fmt::print("exported {} entries of agent '{}' to {} ({} bytes, sha256 {})\n", ready->entries, p.agent,
               *p.output, offset, ready->sha256);
  return 0;
}

int do_import(ipc::bus_client& b, const options& o, const parsed& p) {
  if (p.positional.size() != 1) return service::usage_error("weftctl", "memory import needs one FILE");
  const auto& file = p.positional[0];
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

}  // namespace

int cmd_memory(const options& o, const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    fmt::print("{}", memory_help);
    return args.empty() ? 2 : 0;
  }
  static const std::vector<std::string> verbs = {"search", "put", "stats", "export", "import", "forget", "wipe"};
  const auto& verb = args[0];
  if (std::find(verbs.begin(), verbs.end(), verb) == verbs.end())
    return service::usage_error("weftctl", fmt::format("unknown memory command '{}' (weftctl memory --help)", verb));
  for (auto& a : args)
    if (a == "--help" || a == "-h") {
      fmt::print("{}", memory_help);
      return 0;
    }
  auto p = parse(args);
  if (!p) return service::usage_error("weftctl", p.err().message);
  if (p->agent.empty() && verb != "import")
    return service::usage_error("weftctl", fmt::format("memory {} needs --agent ID", verb));
  if (verb == "wipe" && !p->yes)
    return service::usage_error("weftctl", fmt::format("memory wipe deletes every entry of agent '{}'; add --yes",
                                                       p->agent));
  if ((verb == "stats" || verb == "export" || verb == "wipe") && !p->positional.empty())
    return service::usage_error("weftctl", fmt::format("memory {}: unexpected '{}'", verb, p->positional[0]));
  zmq::context_t ctx(1);
  auto b = join_bus(ctx, o);
  if (!b) return failure(fmt::format("Failed to join the bus: {}", b.err().message));
  auto& bus = **b;
  if (verb == "search") return do_search(bus, o, *p);
  if (verb == "put") return do_put(bus, o, *p);
  if (verb == "stats") return do_stats(bus, o, *p);
  if (verb == "export") return do_export(bus, o, *p);
  if (verb == "import") return do_import(bus, o, *p);
  if (verb == "forget") {
    if (p->positional.empty()) return service::usage_error("weftctl", "memory forget needs entry ids");
    auto r = ask<mem::forgotten>(bus, o, mem::forget{p->agent, p->positional});
    if (!r) return failure(fmt::format("Failed to forget in the memory of agent '{}': {}", p->agent, r.err().message));
    fmt::print("forgot {} of {} entries\n", r->count, p->positional.size());
    return 0;
  }
  auto r = ask<mem::forgotten>(bus, o, mem::wipe{p->agent});
  if (!r) return failure(fmt::format("Failed to wipe the memory of agent '{}': {}", p->agent, r.err().message));
  fmt::print("wiped {} entries of agent '{}'\n", r->count, p->agent);
  return 0;
}

}  // namespace weft::ctl
