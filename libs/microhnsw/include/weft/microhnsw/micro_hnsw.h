/* micro_hnsw.h — a minimal HNSW index in freestanding C that also compiles to wasm32.
 *
 * The same source builds natively (a static library) and as a WebAssembly module with no
 * imports (micro_hnsw.wasm, under 8 KB), so an embedding host — a browser page, a plugin
 * sandbox, weft's own tests — can search vectors without a runtime library.
 *
 * Everything lives in one arena the caller provides (4-byte aligned, mh_arena_size bytes):
 * no allocation, no libc, no globals, so several indexes can coexist natively. Labels are
 * insertion order (0, 1, 2, ...). Scores are inner products (cosine similarity with
 * MH_COSINE, which normalises stored vectors and queries); higher is closer.
 *
 * In the wasm build, mh_reserve grows linear memory and returns the new region, so a host
 * can place the arena and its own buffers without an allocator. */
#ifndef WEFT_MICROHNSW_MICRO_HNSW_H
#define WEFT_MICROHNSW_MICRO_HNSW_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mh_index mh_index;

/** Flag for mh_init: normalise vectors so that the inner product is cosine similarity. */
#define MH_COSINE 1u

/** Limits checked by mh_init (it returns 0 outside them). */
#define MH_MAX_DIMS 4096u
#define MH_MAX_M 32u
#define MH_MAX_EF 512u
#define MH_MAX_CAPACITY (1u << 24)

/** Bytes an arena needs for these parameters; 0 if a parameter is out of range. */
unsigned mh_arena_size(unsigned dims, unsigned capacity, unsigned m, unsigned ef);

/** Lays an empty index into `arena` (`bytes` long, 4-byte aligned). `m` is the number of
 * links per node on upper layers (2*m on layer 0), `ef` the candidate-list size used when
 * building and the largest usable at search time, `seed` drives the level generator
 * (same seed + same inserts = same graph), `flags` is 0 or MH_COSINE.
 * Returns the index (== arena) or 0 when a parameter is out of range or the arena too small. */
mh_index* mh_init(void* arena, unsigned bytes, unsigned dims, unsigned capacity, unsigned m,
                  unsigned ef, unsigned seed, unsigned flags);

/** Copies `dims` floats from `vector` into the index and links it in.
 * Returns its label, or -1 when the index is full or `index` is not an index. */
int mh_insert(mh_index* index, const float* vector);

/** Candidate-list size for searches, clamped to [1, ef given to mh_init]; returns the value set. */
unsigned mh_set_ef(mh_index* index, unsigned ef);

/** Number of vectors stored (0 if `index` is not an index). */
unsigned mh_count(const mh_index* index);

/** Writes up to k nearest labels (closest first) and their scores; k is clamped to the
 * candidate-list size. Returns how many were written. */
int mh_search(mh_index* index, const float* query, unsigned k, unsigned* out_labels,
              float* out_scores);

#if defined(__wasm__)
/** wasm only: grows linear memory by `bytes` (rounded up to pages) and returns the start
 * of the new region, or 0 when memory cannot grow. */
void* mh_reserve(unsigned bytes);
#endif

#ifdef __cplusplus
}
#endif

#endif
