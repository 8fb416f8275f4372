// weft-bench-vectors — measures vector search for the memory service (issue 4):
// hnswlib (through libs/vecindex) and, with --faiss, FAISS IndexHNSWFlat on the same
// clustered synthetic data; recall@10 against exact search, single-threaded query
// latency p50/p99 at several ef values, build time, insert throughput and RAM; with
// --tiers, RAM per temperature tier and recall when part of the data is warm or cold.
// Figures go to stdout; progress to stderr. Not installed; not a test.

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <time.h>

#include <faiss/IndexHNSW.h>
#include <omp.h>

#include <weft/vecindex/hnsw_index.hh>
#include <weft/vecindex/kernels.hh>
#include <weft/vecindex/synthetic.hh>
#include <weft/vecindex/tiered_index.hh>

using namespace weft;
using namespace weft::vecindex;
using clk = std::chrono::steady_clock;

namespace {

constexpr std::string_view help = R"(Usage: weft-bench-vectors [options]

Benchmarks vector search for the weft memory service on clustered synthetic data that
behaves like text embeddings (a Gaussian mixture of --centres clusters in a 32-d latent
space, projected to --dims by a fixed random matrix, plus isotropic noise, normalised).
Ground truth is exact search (brute force). Prints build time, insert throughput, RAM,
and single-threaded search latency p50/p99 with recall@10 for each ef value.

Options:
  --n N                vectors in the index (default 100000)
  --dims D             dimensions (default 384)
  --queries Q          query vectors, not in the index (default 1000)
  --k K                neighbours per query (default 10)
  --ef LIST            comma-separated ef_search values (default 16,32,64,128,256)
  --M M                HNSW links per node (default 16)
  --ef-construction E  HNSW build candidate list (default 200)
  --centres C          mixture components (default 300)
  --threads T          build / ground-truth threads (default 2); searches are single-threaded
  --seed S             data seed (default 42)
  --faiss              also build and measure FAISS IndexHNSWFlat (inner product)
  --no-hnswlib         skip the hnswlib measurement (e.g. a FAISS-only run)
  --tiers              measure temperature tiers: RAM per tier and recall@10 with 0%,
                       50% and 90% of the vectors warm (SQ8) or cold (binary codes)
  --help               this text

Environment:
  WEFT_VECINDEX_KERNELS  scalar|sse2|avx2: force a kernel set (default: best the CPU has)
)";

struct options {
  std::size_t n = 100000, dims = 384, queries = 1000, k = 10, M = 16, efc = 200, centres = 300;
  unsigned threads = 2;
  std::uint64_t seed = 42;
  std::vector<std::size_t> efs{16, 32, 64, 128, 256};
  bool faiss = false, hnswlib = true, tiers = false;
};

[[noreturn]] void usage(const std::string& msg) {
  std::fprintf(stderr, "error: %s\nTry --help.\n", msg.c_str());
  std::exit(2);
}

std::size_t number(std::string_view name, const char* text) {
  std::size_t v = 0;
  std::string_view s = text ? text : "";
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size())
    usage(std::string("option '") + std::string(name) + "' needs a number, got '" + std::string(s) + "'");
  return v;
}

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto val = [&]() -> const char* {
      if (i + 1 >= argc) usage(std::string("option '") + std::string(a) + "' needs a value");
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      std::fputs(help.data(), stdout);
      std::exit(0);
    } else if (a == "--n") o.n = number(a, val());
    else if (a == "--dims") o.dims = number(a, val());
    else if (a == "--queries") o.queries = number(a, val());
    else if (a == "--k") o.k = number(a, val());
    else if (a == "--M") o.M = number(a, val());
    else if (a == "--ef-construction") o.efc = number(a, val());
    else if (a == "--centres") o.centres = number(a, val());
    else if (a == "--threads") o.threads = static_cast<unsigned>(number(a, val()));
    else if (a == "--seed") o.seed = number(a, val());
    else if (a == "--faiss") o.faiss = true;
    else if (a == "--no-hnswlib") o.hnswlib = false;
    else if (a == "--tiers") o.tiers = true;
    else if (a == "--ef") {
      o.efs.clear();
      std::string list = val();
      std::size_t start = 0;
      while (start <= list.size()) {
        std::size_t end = list.find(',', start);
        if (end == std::string::npos) end = list.size();
        std::string item = list.substr(start, end - start);
        o.efs.push_back(number(a, item.c_str()));
        start = end + 1;
      }
    } else usage(std::string("unknown option '") + std::string(a) + "'");
  }
  if (o.n == 0 || o.dims == 0 || o.queries == 0 || o.k == 0 || o.k > o.n) usage("--n, --dims, --queries, --k must be > 0 and k ≤ n");
  if (o.threads == 0) o.threads = 1;
  return o;
}

double seconds_since(clk::time_point t) { return std::chrono::duration<double>(clk::now() - t).count(); }

/// This thread's CPU time in microseconds: excludes time the thread waited for a CPU,
/// which dominates wall-clock p99 on a shared 2-core machine.
double thread_cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

/// Resident set size of this process in bytes.
std::size_t rss_bytes() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;
  return 0;
}

double mb(std::size_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

struct latency {
  double p50 = 0, p99 = 0, mean = 0, max = 0;
};

latency summarise(std::vector<double> us) {
  std::sort(us.begin(), us.end());
  latency l;
  if (us.empty()) return l;
  auto at = [&](double q) { return us[std::min(us.size() - 1, static_cast<std::size_t>(q * static_cast<double>(us.size())))]; };
  l.p50 = at(0.50);
  l.p99 = at(0.99);
  l.max = us.back();
  double sum = 0;
  for (double x : us) sum += x;
  l.mean = sum / static_cast<double>(us.size());
  return l;
}

/// Prints "progress: <what> 10% … 100%" to stderr as `done` crosses each tenth.
struct progress_printer {
  std::string what;
  std::size_t total;
  std::size_t next_tenth = 1;
  clk::time_point start = clk::now();
  void operator()(std::size_t done) {
    while (next_tenth <= 10 && done * 10 >= total * next_tenth) {
      std::fprintf(stderr, "  %s: %zu%% (%zu/%zu, %.1f s)\n", what.c_str(), next_tenth * 10, done, total,
                   seconds_since(start));
      ++next_tenth;
    }
  }
};

struct dataset {
  std::vector<float> rows, queries;
  std::vector<std::uint32_t> exact;
};

std::vector<float> row_of(const std::vector<float>& rows, std::size_t dims, std::size_t i) {
  return std::vector<float>(rows.begin() + static_cast<std::ptrdiff_t>(i * dims),
                            rows.begin() + static_cast<std::ptrdiff_t>((i + 1) * dims));
}

template <class Search>
void measure_search(const options& o, const dataset& d, const char* name, Search&& search) {
  std::printf("  %-8s %6s %10s %10s %10s %12s %12s %10s\n", "", "ef", "p50 us", "p99 us", "mean us", "cpu p50 us",
              "cpu p99 us", "recall@k");
  for (std::size_t ef : o.efs) {
    std::vector<double> us, cpu;
    std::vector<std::vector<std::uint32_t>> found;
    us.reserve(o.queries);
    for (std::size_t q = 0; q < o.queries; ++q) {
      const float* qp = d.queries.data() + q * o.dims;
      auto t = clk::now();
      const double c0 = thread_cpu_us();
      auto labels = search(qp, ef);
      cpu.push_back(thread_cpu_us() - c0);
      us.push_back(seconds_since(t) * 1e6);
      found.push_back(std::move(labels));
    }
    auto l = summarise(us);
    auto c = summarise(cpu);
    const double recall = recall_at_k(d.exact, o.k, found);
    std::printf("  %-8s %6zu %10.1f %10.1f %10.1f %12.1f %12.1f %10.4f\n", name, ef, l.p50, l.p99, l.mean, c.p50, c.p99,
                recall);
    std::fflush(stdout);
  }
}

void run_hnswlib(const options& o, const dataset& d) {
  std::printf("\n== hnswlib 0.6.2 via weft::vecindex::hnsw_index (M=%zu, ef_construction=%zu, kernels %s) ==\n", o.M,
              o.efc, std::string(kernels().name).c_str());
  const std::size_t rss0 = rss_bytes();
  hnsw_index index(static_cast<std::uint32_t>(o.dims),
                   {.M = static_cast<std::uint32_t>(o.M), .ef_construction = static_cast<std::uint32_t>(o.efc),
                    .capacity = o.n});
  std::vector<std::uint32_t> labels(o.n);
  for (std::size_t i = 0; i < o.n; ++i) labels[i] = static_cast<std::uint32_t>(i);
  progress_printer progress{"hnswlib build", o.n};
  auto t = clk::now();
  if (auto s = index.add_batch(labels, d.rows, o.threads, std::ref(progress)); !s) {
    std::fprintf(stderr, "error: %s\n", s.err().to_string().c_str());
    std::exit(1);
  }
  const double build = seconds_since(t);
  std::printf("build: %.1f s with %u threads = %.0f vectors/s\n", build, o.threads, static_cast<double>(o.n) / build);
  std::printf("RAM: index %.1f MB (memory_bytes), process RSS grew %.1f MB; raw vectors alone %.1f MB\n",
              mb(index.memory_bytes()), mb(rss_bytes() - rss0), mb(o.n * o.dims * sizeof(float)));
  measure_search(o, d, "hnswlib", [&](const float* q, std::size_t ef) {
    index.set_ef(ef);
    auto hits = index.search(std::span<const float>(q, o.dims), o.k);
    std::vector<std::uint32_t> out;
    out.reserve(hits.size());
    for (auto& h : hits) out.push_back(h.label);
    return out;
  });
  // Single-threaded inserts into the full index (what the service does per Put).
  clustered_generator extra_gen({.dims = static_cast<std::uint32_t>(o.dims), .centres = static_cast<std::uint32_t>(o.centres),
                                 .seed = o.seed});
  const std::size_t extra = std::min<std::size_t>(2000, std::max<std::size_t>(o.n / 50, 100));
  auto more = extra_gen.draw(extra);
  std::vector<double> us;
  for (std::size_t i = 0; i < extra; ++i) {
    auto t1 = clk::now();
    (void)index.add(static_cast<std::uint32_t>(o.n + i), row_of(more, o.dims, i));
    us.push_back(seconds_since(t1) * 1e6);
  }
  auto l = summarise(us);
  std::printf("single-threaded insert into the %zu-vector index (%zu inserts): p50 %.0f us, p99 %.0f us, %.0f inserts/s\n",
              o.n, extra, l.p50, l.p99, 1e6 / l.mean);
}

void run_faiss(const options& o, const dataset& d) {
  std::printf("\n== FAISS 1.7.3 IndexHNSWFlat, inner product (M=%zu, efConstruction=%zu) ==\n", o.M, o.efc);
  const std::size_t rss0 = rss_bytes();
  faiss::IndexHNSWFlat index(static_cast<int>(o.dims), static_cast<int>(o.M), faiss::METRIC_INNER_PRODUCT);
  index.hnsw.efConstruction = static_cast<int>(o.efc);
  omp_set_num_threads(static_cast<int>(o.threads));
  progress_printer progress{"faiss build", o.n};
  auto t = clk::now();
  const std::size_t chunk = std::max<std::size_t>(o.n / 20, 1);
  for (std::size_t i = 0; i < o.n; i += chunk) {
    const std::size_t m = std::min(chunk, o.n - i);
    index.add(static_cast<faiss::Index::idx_t>(m), d.rows.data() + i * o.dims);
    progress(i + m);
  }
  const double build = seconds_since(t);
  std::printf("build: %.1f s with %u threads = %.0f vectors/s\n", build, o.threads, static_cast<double>(o.n) / build);
  std::printf("RAM: process RSS grew %.1f MB\n", mb(rss_bytes() - rss0));
  omp_set_num_threads(1);
  std::vector<float> D(o.k);
  std::vector<faiss::Index::idx_t> I(o.k);
  measure_search(o, d, "faiss", [&](const float* q, std::size_t ef) {
    index.hnsw.efSearch = static_cast<int>(ef);
    index.search(1, q, static_cast<faiss::Index::idx_t>(o.k), D.data(), I.data());
    std::vector<std::uint32_t> out;
    for (auto id : I)
      if (id >= 0) out.push_back(static_cast<std::uint32_t>(id));
    return out;
  });
}

void run_tiers(const options& o, const dataset& d) {
  std::printf("\n== temperature tiers (M=%zu, ef_search=64, warm_rerank=4, cold_rerank=20) ==\n", o.M);
  std::printf("re-rank fetches full vectors from RAM here; the service reads them from its segment files\n");
  std::printf("  %-5s %5s %8s %8s %8s %9s %9s %9s %9s %9s %9s %9s %9s\n", "tier", "share", "hot", "warm", "cold",
              "hot MB", "warm MB", "cold MB", "meta MB", "total MB", "p50 us", "p99 us", "recall");
  const utc_time now = utc_now();
  const auto days_ago = [&](double days) {
    return now - std::chrono::nanoseconds(static_cast<std::int64_t>(days * 86400e9));
  };
  struct scenario {
    tier compressed;
    double share;
  };
  for (scenario sc : {scenario{tier::hot, 0.0}, scenario{tier::warm, 0.5}, scenario{tier::warm, 0.9},
                      scenario{tier::cold, 0.5}, scenario{tier::cold, 0.9}}) {
    tiered_params p;
    p.hnsw = {.M = static_cast<std::uint32_t>(o.M), .ef_construction = static_cast<std::uint32_t>(o.efc),
              .ef_search = 64, .capacity = 1024};
    tiered_index index(static_cast<std::uint32_t>(o.dims), p);
    std::vector<std::uint32_t> labels(o.n);
    std::vector<entry_times> times(o.n);
    const std::size_t compressed = static_cast<std::size_t>(sc.share * static_cast<double>(o.n));
    for (std::size_t i = 0; i < o.n; ++i) {
      labels[i] = static_cast<std::uint32_t>(i);
      // Spread the compressed entries over the whole data (every k-th), not one block.
      const bool old = compressed > 0 && (i * compressed / o.n) != ((i + 1) * compressed / o.n);
      times[i].created = !old ? days_ago(1) : sc.compressed == tier::warm ? days_ago(10) : days_ago(60);
    }
    progress_printer progress{std::string("tiers build ") + std::string(to_string(sc.compressed)), o.n - compressed};
    if (auto s = index.add_batch(labels, d.rows, times, now, o.threads, std::ref(progress)); !s) {
      std::fprintf(stderr, "error: %s\n", s.err().to_string().c_str());
      std::exit(1);
    }
    fetch_fn fetch = [&](std::uint32_t label) -> std::optional<std::vector<float>> {
      if (label >= o.n) return std::nullopt;
      return row_of(d.rows, o.dims, label);
    };
    std::vector<double> us;
    std::vector<std::vector<std::uint32_t>> found;
    for (std::size_t q = 0; q < o.queries; ++q) {
      auto t = clk::now();
      auto hits = index.search(std::span<const float>(d.queries.data() + q * o.dims, o.dims), o.k, {}, fetch);
      us.push_back(seconds_since(t) * 1e6);
      std::vector<std::uint32_t> ls;
      for (auto& h : hits) ls.push_back(h.label);
      found.push_back(std::move(ls));
    }
    auto l = summarise(us);
    auto st = index.stats();
    std::printf("  %-5s %4.0f%% %8zu %8zu %8zu %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f %9.4f\n",
                std::string(to_string(sc.compressed)).c_str(), sc.share * 100, st.hot, st.warm, st.cold,
                mb(st.hot_bytes), mb(st.warm_bytes), mb(st.cold_bytes), mb(st.meta_bytes), mb(st.total_bytes()), l.p50,
                l.p99, recall_at_k(d.exact, o.k, found));
    std::fflush(stdout);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const options o = parse(argc, argv);
  std::printf("weft-bench-vectors: n=%zu dims=%zu queries=%zu k=%zu centres=%zu threads=%u seed=%llu kernels=%s\n", o.n,
              o.dims, o.queries, o.k, o.centres, o.threads, static_cast<unsigned long long>(o.seed),
              std::string(kernels().name).c_str());
  dataset d;
  auto t = clk::now();
  clustered_generator gen({.dims = static_cast<std::uint32_t>(o.dims), .centres = static_cast<std::uint32_t>(o.centres),
                           .seed = o.seed});
  d.rows = gen.draw(o.n);
  d.queries = gen.draw(o.queries);
  std::printf("data: %.1f s to generate\n", seconds_since(t));
  std::fflush(stdout);
  t = clk::now();
  d.exact = exact_knn(d.rows, d.queries, static_cast<std::uint32_t>(o.dims), o.k, o.threads);
  std::printf("ground truth: exact top-%zu for %zu queries in %.1f s (%u threads, brute force)\n", o.k, o.queries,
              seconds_since(t), o.threads);
  {
    // How embedding-like is the data? Similarity of each query to its nearest, its 10th
    // and a random vector.
    const auto dot = kernels().dot;
    double nn1 = 0, nn10 = 0, rnd = 0;
    for (std::size_t q = 0; q < o.queries; ++q) {
      const float* qv = d.queries.data() + q * o.dims;
      nn1 += dot(qv, d.rows.data() + d.exact[q * o.k] * o.dims, o.dims);
      nn10 += dot(qv, d.rows.data() + d.exact[q * o.k + o.k - 1] * o.dims, o.dims);
      rnd += dot(qv, d.rows.data() + ((q * 7919) % o.n) * o.dims, o.dims);
    }
    const double nq = static_cast<double>(o.queries);
    std::printf("data shape: mean cosine to nearest %.3f, to %zu-th nearest %.3f, to a random vector %.3f\n", nn1 / nq,
                o.k, nn10 / nq, rnd / nq);
  }
  std::fflush(stdout);
  if (o.hnswlib) run_hnswlib(o, d);
  if (o.faiss) run_faiss(o, d);
  if (o.tiers) run_tiers(o, d);
  return 0;
}
