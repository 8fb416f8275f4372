// weft-bench-microhnsw — micro_hnsw.wasm in the wabt interpreter vs the native build.
//
// Builds the same index (same C code, data and seed) natively and inside the interpreter,
// then times the same queries on both and reports module size, build time, µs per query
// and recall@10 against exact search. Results go into docs/benchmarks.md.
#include "weft/microhnsw/micro_hnsw.h"

#include "clustered_data.hh"
#include "wasm_index.hh"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#ifndef MICROHNSW_WASM_PATH
#define MICROHNSW_WASM_PATH "micro_hnsw.wasm"
#endif

using namespace weft::microhnsw;
using clock_type = std::chrono::steady_clock;

namespace {

const char* usage =
    "Usage: weft-bench-microhnsw [options]\n"
    "\n"
    "Times micro_hnsw (issue 4, MW-7) in the wabt interpreter against the native build of\n"
    "the same C file on clustered 'embedding-like' vectors, and measures recall@10 against\n"
    "exact search. Single-threaded.\n"
    "\n"
    "Options:\n"
    "  --wasm PATH             module to run (default: " MICROHNSW_WASM_PATH ")\n"
    "  --n N                   vectors to index (default 2000)\n"
    "  --dims D                dimensions (default 64)\n"
    "  --queries Q             queries (default 200)\n"
    "  --m M                   links per node, 2*M on layer 0 (default 8)\n"
    "  --ef-construction E     candidate list while building (default 32)\n"
    "  --ef E                  candidate list while searching (default 16)\n"
    "  --help                  this text\n"
    "\n"
    "Environment: none. Exit status 0 on success, 1 when the module fails or the two builds\n"
    "disagree, 2 on bad options.\n";

double us_since(clock_type::time_point t0) {
    return std::chrono::duration<double, std::micro>(clock_type::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
    std::string wasm = MICROHNSW_WASM_PATH;
    unsigned n = 2000, dims = 64, nq = 200, m = 8, efc = 32, ef = 16;
    const unsigned k = 10;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--help") {
            std::fputs(usage, stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            std::fprintf(stderr, "Failed to parse option '%s': it needs a value (see --help)\n", a.c_str());
            return 2;
        }
        std::string v = argv[++i];
        unsigned long x = std::strtoul(v.c_str(), nullptr, 10);
        if (a == "--wasm") wasm = v;
        else if ((a != "--n" && a != "--dims" && a != "--queries" && a != "--m" && a != "--ef-construction" &&
                  a != "--ef") || x == 0 || x > (1u << 24)) {
            std::fprintf(stderr, "Failed to parse option '%s' '%s': unknown option or not a count (see --help)\n",
                         a.c_str(), v.c_str());
            return 2;
        } else if (a == "--n") n = unsigned(x);
        else if (a == "--dims") dims = unsigned(x);
        else if (a == "--queries") nq = unsigned(x);
        else if (a == "--m") m = unsigned(x);
        else if (a == "--ef-construction") efc = unsigned(x);
        else ef = unsigned(x);
    }

    clustered_data data;
    data.dims = dims;
    auto base = data.generate(n, 0), queries = data.generate(nq, 1);

    std::string error;
    auto mod = wasm_instance::load(wasm, error);
    if (!mod) {
        std::fprintf(stderr, "%s\n", error.c_str());
        return 1;
    }
    std::error_code ec;
    const auto size = std::filesystem::file_size(wasm, ec);

    const unsigned bytes = mh_arena_size(dims, n, m, efc);
    if (bytes == 0) {
        std::fprintf(stderr, "Failed to size the index: parameters out of range (see micro_hnsw.h)\n");
        return 2;
    }
    std::vector<uint32_t> arena(bytes / 4 + 1);
    mh_index* h = mh_init(arena.data(), bytes, dims, n, m, efc, 42, MH_COSINE);
    wasm_index w(*mod, dims, n, m, efc, 42, MH_COSINE, k);
    if (!h || !w.error.empty()) {
        std::fprintf(stderr, "Failed to create the index: %s\n", w.error.c_str());
        return 1;
    }

    auto t0 = clock_type::now();
    for (unsigned i = 0; i < n; ++i) mh_insert(h, &base[size_t(i) * dims]);
    const double native_build = us_since(t0);
    t0 = clock_type::now();
    for (unsigned i = 0; i < n; ++i) w.insert(&base[size_t(i) * dims]);
    const double wasm_build = us_since(t0);
    mh_set_ef(h, ef);
    w.set_ef(ef);

    std::vector<unsigned> native_labels(size_t(nq) * k);
    std::vector<float> native_scores(size_t(nq) * k);
    t0 = clock_type::now();
    for (unsigned q = 0; q < nq; ++q)
        mh_search(h, &queries[size_t(q) * dims], k, &native_labels[size_t(q) * k], &native_scores[size_t(q) * k]);
    const double native_query = us_since(t0) / nq;

    std::vector<unsigned> wl;
    std::vector<float> ws;
    unsigned mismatched = 0;
    t0 = clock_type::now();
    for (unsigned q = 0; q < nq; ++q) {
        w.search(&queries[size_t(q) * dims], k, wl, ws);
        if (wl.size() != k || std::memcmp(wl.data(), &native_labels[size_t(q) * k], k * 4) ||
            std::memcmp(ws.data(), &native_scores[size_t(q) * k], k * 4))
            ++mismatched;
    }
    const double wasm_query = us_since(t0) / nq;  // includes copying the query and results
    if (!w.error.empty()) {
        std::fprintf(stderr, "%s\n", w.error.c_str());
        return 1;
    }

    double r = 0;
    for (unsigned q = 0; q < nq; ++q)
        r += recall(exact_top_k(base, &queries[size_t(q) * dims], dims, k), &native_labels[size_t(q) * k], k);
    r /= nq;

    std::printf("micro_hnsw: n=%u dims=%u queries=%u M=%u ef_construction=%u ef=%u k=%u (cosine)\n", n, dims, nq, m,
                efc, ef, k);
    std::printf("  module size            %llu bytes (%s)\n", (unsigned long long)size, wasm.c_str());
    std::printf("  arena                  %u bytes\n", bytes);
    std::printf("  build   native %10.1f ms   wasm (wabt interpreter) %10.1f ms   ratio %.0fx\n",
                native_build / 1000, wasm_build / 1000, wasm_build / native_build);
    std::printf("  query   native %10.2f us   wasm (wabt interpreter) %10.2f us   ratio %.0fx\n", native_query,
                wasm_query, wasm_query / native_query);
    std::printf("  recall@10 vs exact search: %.4f\n", r);
    std::printf("  queries whose wasm and native results differ: %u of %u\n", mismatched, nq);
    return mismatched ? 1 : 0;
}
