// weft-bench-wal — what durability costs in the memory store (libs/memstore).
//
//   weft-bench-wal [--entries N] [--sync-writes N] [--dir PATH]
//
// Measures, on the file system of --dir (default: a fresh directory under $TMPDIR or /tmp,
// removed afterwards):
//   1. insert throughput with one fdatasync per write (--sync-writes writes, default 2000)
//      and the cost of that fdatasync (p50/p99 µs);
//   2. insert throughput with group commit: one sync per 16, 64 and 256 writes
//      (--entries writes each, default 100000);
//   3. replay speed (records/s) of --entries entries, and of as many entries each with a
//      384-dimension vector.
// Entries are ~200 bytes of text, like a chat message. Not a test: prints figures.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <weft/memstore/store.hh>

using namespace weft;
using namespace weft::memstore;
using clk = std::chrono::steady_clock;

namespace {

struct options {
  std::uint64_t entries = 100000;
  std::uint64_t sync_writes = 2000;
  std::filesystem::path dir;
};

double seconds(clk::duration d) { return std::chrono::duration<double>(d).count(); }

entry make(std::uint64_t i) {
  entry e;
  e.id = "m-" + std::to_string(i);
  e.kind = 2;
  e.text = "message " + std::to_string(i) + ": " + std::string(180, static_cast<char>('a' + i % 26));
  e.session = "telegram:12345";
  e.role = i % 2 ? "user" : "assistant";
  e.created = utc_now();
  e.key = "turn-" + std::to_string(i) + "#0";
  return e;
}

std::unique_ptr<store> fresh(const std::filesystem::path& dir) {
  std::filesystem::remove_all(dir);
  auto s = store::open(dir, "bench");
  if (!s) {
    std::fprintf(stderr, "%s\n", s.err().message.c_str());
    std::exit(1);
  }
  return std::move(*s);
}

void must(const status& s) {
  if (!s) {
    std::fprintf(stderr, "%s\n", s.err().message.c_str());
    std::exit(1);
  }
}

void sync_per_write(const options& o) {
  auto s = fresh(o.dir / "sync1");
  std::vector<double> us;
  auto t0 = clk::now();
  for (std::uint64_t i = 0; i < o.sync_writes; ++i) {
    if (auto r = s->append(make(i)); !r) must(r.take_error());
    auto a = clk::now();
    must(s->sync());
    us.push_back(std::chrono::duration<double, std::micro>(clk::now() - a).count());
  }
  auto dt = seconds(clk::now() - t0);
  std::sort(us.begin(), us.end());
  std::printf("sync per write      %8llu writes  %10.0f writes/s   fdatasync p50 %.0f µs  p99 %.0f µs\n",
              static_cast<unsigned long long>(o.sync_writes), static_cast<double>(o.sync_writes) / dt,
              us[us.size() / 2], us[us.size() * 99 / 100]);
}

void group_commit(const options& o, std::uint64_t group) {
  auto s = fresh(o.dir / ("group" + std::to_string(group)));
  auto t0 = clk::now();
  for (std::uint64_t i = 0; i < o.entries; ++i) {
    if (auto r = s->append(make(i)); !r) must(r.take_error());
    if ((i + 1) % group == 0) must(s->sync());
  }
  must(s->sync());
  auto dt = seconds(clk::now() - t0);
  std::printf("group commit %4llu   %8llu writes  %10.0f writes/s   (%.1f MB/s)\n",
              static_cast<unsigned long long>(group), static_cast<unsigned long long>(o.entries),
              static_cast<double>(o.entries) / dt,
              static_cast<double>(s->statistics().bytes) / dt / 1e6);
}

struct counter : visitor {
  std::uint64_t n = 0;
  void on_entry(const entry&, location) override { ++n; }
  void on_vector(std::string_view, std::span<const float>, std::string_view, location) override { ++n; }
};

void replay(const options& o, bool vectors) {
  auto dir = o.dir / (vectors ? "replay-vectors" : "replay");
  {
    auto s = fresh(dir);
    std::vector<float> v(384);
    for (std::uint64_t i = 0; i < o.entries; ++i) {
      if (auto r = s->append(make(i)); !r) must(r.take_error());
      if (vectors) {
        for (std::size_t d = 0; d < v.size(); ++d) v[d] = static_cast<float>((i * 31 + d) % 97) / 97.0f;
        if (auto r = s->append_vector("m-" + std::to_string(i), v, "bench"); !r) must(r.take_error());
      }
    }
    must(s->sync());
  }
  auto t0 = clk::now();
  auto s = store::open(dir, "bench");
  if (!s) must(s.take_error());
  auto opened = clk::now();
  counter c;
  must((*s)->replay(c));
  auto dt = seconds(clk::now() - t0);
  auto st = (*s)->statistics();
  std::printf("replay %-13s %8llu records %10.0f records/s  (%.0f MB/s, %u segments, open %.1f ms)\n",
              vectors ? "+384-d vecs" : "entries", static_cast<unsigned long long>(c.n),
              static_cast<double>(c.n) / dt, static_cast<double>(st.bytes) / dt / 1e6, st.segments,
              seconds(opened - t0) * 1e3);
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "error: %s needs a value\nTry --help.\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      std::printf(
          "Usage: weft-bench-wal [--entries N] [--sync-writes N] [--dir PATH]\n\n"
          "Measures the memory store's write-ahead log: insert throughput with one fdatasync per\n"
          "write and its cost (p50/p99), with group commit of 16/64/256 writes, and replay speed.\n\n"
          "  --entries N      writes per group-commit run and entries replayed (default 100000)\n"
          "  --sync-writes N  writes in the sync-per-write run (default 2000)\n"
          "  --dir PATH       where to write (default: a new directory under $TMPDIR or /tmp,\n"
          "                   removed afterwards); the file system there is what is measured\n\n"
          "Environment: TMPDIR (default parent directory).\n");
      return 0;
    } else if (a == "--entries") {
      o.entries = std::strtoull(value().c_str(), nullptr, 10);
    } else if (a == "--sync-writes") {
      o.sync_writes = std::strtoull(value().c_str(), nullptr, 10);
    } else if (a == "--dir") {
      o.dir = value();
    } else {
      std::fprintf(stderr, "error: unknown option '%s'\nTry --help.\n", a.c_str());
      return 2;
    }
  }
  if (o.entries == 0 || o.sync_writes == 0) {
    std::fprintf(stderr, "error: counts must be positive\nTry --help.\n");
    return 2;
  }
  bool own = o.dir.empty();
  if (own) {
    auto tmpl = (std::filesystem::temp_directory_path() / "weft-bench-wal-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) {
      std::perror("mkdtemp");
      return 1;
    }
    o.dir = tmpl;
  }
  std::printf("weft-bench-wal: %s\n", o.dir.c_str());
  sync_per_write(o);
  for (auto g : {16, 64, 256}) group_commit(o, static_cast<std::uint64_t>(g));
  replay(o, /*vectors=*/false);
  replay(o, /*vectors=*/true);
  if (own) std::filesystem::remove_all(o.dir);
  return 0;
}
