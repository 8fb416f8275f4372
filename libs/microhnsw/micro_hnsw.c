/* micro_hnsw.c — see include/weft/microhnsw/micro_hnsw.h.
 *
 * Freestanding on purpose: no libc, no allocation, no imports in the wasm build. Kept small
 * (the wasm must stay under 8 KB) and deterministic: integer level generator, fixed
 * tie-breaking, and float arithmetic in source order (built with -ffp-contract=off), so the
 * native and wasm builds produce bit-identical graphs and scores. */
#include "weft/microhnsw/micro_hnsw.h"

#if defined(__wasm__)
#define MH_EXPORT(name) __attribute__((export_name(#name)))
#else
#define MH_EXPORT(name)
#endif

typedef unsigned u32;
typedef unsigned long long u64;

#define MAGIC 0x574d4831u   /* "WMH1" */
#define TOP_LEVEL 7u        /* levels 0..7: with m >= 4 that covers far beyond 2^24 nodes */
#define EXPANDED 0x80000000u

/* (distance, id) — distance is the negated inner product, so smaller is closer. */
typedef struct {
    float d;
    u32 id;
} pair;

struct mh_index {
    u32 magic, dims, cap, m, m0, ef_cap, ef, count, entry, top, rng, epoch, flags;
    u32 stride;                                  /* u32 words of links per node */
    u32 vec, link, level, visit, list, query, tmp; /* byte offsets from the index */
};

#define AT(h, off, type) ((type*)((char*)(h) + (off)))

/* Fills the offsets of `h` and returns the bytes needed, 0 when out of range. */
static u64 layout(struct mh_index* h, u32 dims, u32 cap, u32 m, u32 ef) {
    if (dims == 0 || dims > MH_MAX_DIMS || cap == 0 || cap > MH_MAX_CAPACITY || m < 2 ||
        m > MH_MAX_M || ef == 0 || ef > MH_MAX_EF)
        return 0;
    u64 at = sizeof(struct mh_index);
    h->stride = (1 + 2 * m) + TOP_LEVEL * (1 + m);
    h->vec = (u32)at;
    at += (u64)cap * dims * 4;
    h->link = (u32)at;
    at += (u64)cap * h->stride * 4;
    h->level = (u32)at;
    at += ((u64)cap + 3) & ~3ull;
    h->visit = (u32)at;
    at += (u64)cap * 4;
    h->list = (u32)at;
    at += (u64)(ef + 1) * sizeof(pair);
    h->query = (u32)at;
    at += (u64)dims * 4;
    h->tmp = (u32)at;
    at += (u64)(2 * m + 1) * sizeof(pair);
    return at > 0xffffffffull ? 0 : at;
}

static float* vec(struct mh_index* h, u32 i) { return AT(h, h->vec, float) + (u64)i * h->dims; }

static u32* links(struct mh_index* h, u32 i, u32 l) {
    return AT(h, h->link, u32) + (u64)i * h->stride + (l ? 1 + h->m0 + (l - 1) * (1 + h->m) : 0);
}

static float dist(const struct mh_index* h, const float* a, const float* b) {
    float s = 0.0f;
    for (u32 i = 0; i < h->dims; i++) s += a[i] * b[i];
    return -s;
}

static void load(struct mh_index* h, float* dst, const float* src) {
    float n = 0.0f;
    for (u32 i = 0; i < h->dims; i++) {
        dst[i] = src[i];
        n += src[i] * src[i];
    }
    if ((h->flags & MH_COSINE) && n > 0.0f) {
        float inv = 1.0f / __builtin_sqrtf(n);
        for (u32 i = 0; i < h->dims; i++) dst[i] *= inv;
    }
}

/* Puts (d, id) into the sorted list L of n entries holding at most cap; returns the new n.
 * Equal distances keep the earlier entry first; when full the last entry falls off. */
static u32 put(pair* L, u32 n, u32 cap, float d, u32 id) {
    if (n == cap && !(d < L[n - 1].d)) return n;
    u32 p = n < cap ? n++ : n - 1;
    for (; p > 0 && L[p - 1].d > d; p--) L[p] = L[p - 1];
    L[p].d = d;
    L[p].id = id;
    return n;
}

/* Greedy descent from *cur through layers top..stop+1. */
static void descend(struct mh_index* h, const float* q, u32* cur, float* curd, u32 top, u32 stop) {
    for (u32 l = top; l > stop; l--) {
        for (u32 changed = 1; changed;) {
            changed = 0;
            u32* ln = links(h, *cur, l);
            for (u32 j = 1; j <= ln[0]; j++) {
                float d = dist(h, q, vec(h, ln[j]));
                if (d < *curd) {
                    *curd = d;
                    *cur = ln[j];
                    changed = 1;
                }
            }
        }
    }
}

/* Best-first search on one layer with a sorted candidate list of at most ef entries
 * (the HNSW ef search: stop when every entry in the list has been expanded). */
static u32 search_layer(struct mh_index* h, const float* q, u32 entry, float entry_d, u32 ef, u32 l) {
    pair* L = AT(h, h->list, pair);
    u32* visit = AT(h, h->visit, u32);
    if (++h->epoch == 0) {
        for (u32 i = 0; i < h->cap; i++) visit[i] = 0;
        h->epoch = 1;
    }
    visit[entry] = h->epoch;
    L[0].d = entry_d;
    L[0].id = entry;
    u32 n = 1;
    for (;;) {
        u32 i = 0;
        while (i < n && (L[i].id & EXPANDED)) i++;
        if (i == n) break;
        u32 c = L[i].id;
        L[i].id |= EXPANDED;
        u32* ln = links(h, c, l);
        for (u32 j = 1; j <= ln[0]; j++) {
            u32 nb = ln[j];
            if (visit[nb] == h->epoch) continue;
            visit[nb] = h->epoch;
            n = put(L, n, ef, dist(h, q, vec(h, nb)), nb);
        }
    }
    for (u32 i = 0; i < n; i++) L[i].id &= ~EXPANDED;
    return n;
}

/* HNSW's neighbour heuristic over candidates sorted by distance to the base point: keep a
 * candidate only if it is closer to the base than to every neighbour already kept. */
static u32 select_neighbours(struct mh_index* h, pair* c, u32 n, u32 max) {
    u32 out = 0;
    for (u32 i = 0; i < n && out < max; i++) {
        u32 keep = 1;
        for (u32 j = 0; j < out && keep; j++)
            keep = !(dist(h, vec(h, c[i].id), vec(h, c[j].id)) < c[i].d);
        if (keep) c[out++] = c[i];
    }
    return out;
}

/* Adds the link nb -> id on layer l, re-selecting nb's links when its list is full. */
static void connect(struct mh_index* h, u32 nb, u32 id, u32 l) {
    u32* ln = links(h, nb, l);
    u32 max = l ? h->m : h->m0;
    if (ln[0] < max) {
        ln[++ln[0]] = id;
        return;
    }
    pair* t = AT(h, h->tmp, pair);
    const float* b = vec(h, nb);
    u32 n = put(t, 0, max + 1, dist(h, b, vec(h, id)), id);
    for (u32 j = 1; j <= ln[0]; j++) n = put(t, n, max + 1, dist(h, b, vec(h, ln[j])), ln[j]);
    n = select_neighbours(h, t, n, max);
    for (u32 j = 0; j < n; j++) ln[j + 1] = t[j].id;
    ln[0] = n;
}

static struct mh_index* valid(void* p) {
    struct mh_index* h = (struct mh_index*)p;
    return h && h->magic == MAGIC ? h : 0;
}

MH_EXPORT(mh_arena_size)
unsigned mh_arena_size(unsigned dims, unsigned capacity, unsigned m, unsigned ef) {
    struct mh_index h;
    return (u32)layout(&h, dims, capacity, m, ef);
}

MH_EXPORT(mh_init)
mh_index* mh_init(void* arena, unsigned bytes, unsigned dims, unsigned capacity, unsigned m,
                  unsigned ef, unsigned seed, unsigned flags) {
    struct mh_index* h = (struct mh_index*)arena;
    u64 need = mh_arena_size(dims, capacity, m, ef);
    if (!h || ((__UINTPTR_TYPE__)arena & 3) || need == 0 || need > bytes) return 0;
    layout(h, dims, capacity, m, ef);
    h->magic = MAGIC;
    h->dims = dims;
    h->cap = capacity;
    h->m = m;
    h->m0 = 2 * m;
    h->ef_cap = h->ef = ef;
    h->count = h->entry = h->top = h->epoch = 0;
    h->rng = seed ? seed : 0x9e3779b9u; /* xorshift32 must not start at 0 */
    h->flags = flags;
    u32* visit = AT(h, h->visit, u32);
    for (u32 i = 0; i < capacity; i++) visit[i] = 0;
    return h;
}

MH_EXPORT(mh_insert)
int mh_insert(mh_index* index, const float* vector) {
    struct mh_index* h = valid(index);
    if (!h || h->count >= h->cap) return -1;
    u32 id = h->count++;
    float* v = vec(h, id);
    load(h, v, vector);

    /* Level: geometric with p = 1/m (the usual mL = 1/ln m), from an integer xorshift32. */
    u32 level = 0;
    for (;;) {
        u32 x = h->rng;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        h->rng = x;
        if (level == TOP_LEVEL || (x >> 8) % h->m) break;
        level++;
    }
    AT(h, h->level, unsigned char)[id] = (unsigned char)level;
    for (u32 l = 0; l <= level; l++) links(h, id, l)[0] = 0;
    if (id == 0) {
        h->top = level;
        return 0;
    }

    u32 cur = h->entry;
    float curd = dist(h, v, vec(h, cur));
    descend(h, v, &cur, &curd, h->top, level);
    pair* L = AT(h, h->list, pair);
    for (u32 l = level < h->top ? level : h->top;; l--) {
        u32 n = search_layer(h, v, cur, curd, h->ef_cap, l);
        cur = L[0].id;
        curd = L[0].d;
        n = select_neighbours(h, L, n, h->m);
        u32* mine = links(h, id, l);
        for (u32 j = 0; j < n; j++) mine[j + 1] = L[j].id;
        mine[0] = n;
        for (u32 j = 0; j < n; j++) connect(h, mine[j + 1], id, l);
        if (l == 0) break;
    }
    if (level > h->top) {
        h->top = level;
        h->entry = id;
    }
    return (int)id;
}

MH_EXPORT(mh_set_ef)
unsigned mh_set_ef(mh_index* index, unsigned ef) {
    struct mh_index* h = valid(index);
    if (!h) return 0;
    h->ef = ef < 1 ? 1 : ef > h->ef_cap ? h->ef_cap : ef;
    return h->ef;
}

MH_EXPORT(mh_count)
unsigned mh_count(const mh_index* index) {
    struct mh_index* h = valid((void*)index);
    return h ? h->count : 0;
}

MH_EXPORT(mh_search)
int mh_search(mh_index* index, const float* query, unsigned k, unsigned* out_labels,
              float* out_scores) {
    struct mh_index* h = valid(index);
    if (!h || h->count == 0 || k == 0) return 0;
    float* q = AT(h, h->query, float);
    load(h, q, query);
    u32 cur = h->entry;
    float curd = dist(h, q, vec(h, cur));
    descend(h, q, &cur, &curd, h->top, 0);
    u32 ef = k > h->ef ? (k > h->ef_cap ? h->ef_cap : k) : h->ef;
    u32 n = search_layer(h, q, cur, curd, ef, 0);
    if (n > k) n = k;
    pair* L = AT(h, h->list, pair);
    for (u32 i = 0; i < n; i++) {
        out_labels[i] = L[i].id;
        out_scores[i] = -L[i].d;
    }
    return (int)n;
}

#if defined(__wasm__)
MH_EXPORT(mh_reserve)
void* mh_reserve(unsigned bytes) {
    u32 pages = (u32)(((u64)bytes + 65535) >> 16);
    int old = __builtin_wasm_memory_grow(0, pages);
    return old < 0 ? 0 : (void*)((__UINTPTR_TYPE__)old << 16);
}
#endif
