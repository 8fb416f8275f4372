// guest.c — a well-behaved plugin-shaped module for libs/wasm's tests and benchmark:
// pure compute, calls to host functions it imports, and a buffer the host fills.
// Freestanding C: clang --target=wasm32 -nostdlib (tests/wasm/meson.build).

#define EXPORT(name) __attribute__((export_name(name)))
#define IMPORT(mod, name) __attribute__((import_module(mod), import_name(name)))

IMPORT("env", "add") int host_add(int a, int b);
IMPORT("env", "log") void host_log(const char* text, unsigned length);
IMPORT("env", "nop") void host_nop(void);

enum { buffer_size = 1 << 20 };
static unsigned char buffer[buffer_size];

EXPORT("add") int add(int a, int b) { return a + b; }

EXPORT("add64") long long add64(long long a, long long b) { return a + b; }

/// Where the host writes input (and reads output): a 1 MiB static buffer.
EXPORT("buffer") unsigned char* buffer_ptr(void) { return buffer; }
EXPORT("buffer_size") unsigned buffer_len(void) { return buffer_size; }

/// FNV-1a (32-bit) over [p, p + n): the compute-heavy call of the benchmark.
EXPORT("fnv1a") unsigned fnv1a(const unsigned char* p, unsigned n) {
  unsigned h = 2166136261u;
  for (unsigned i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 16777619u;
  }
  return h;
}

/// x + 1 computed by the host: a host call whose result is used.
EXPORT("inc_via_host") int inc_via_host(int x) { return host_add(x, 1) * 2; }

/// Sends the first n bytes of the buffer to the host's log.
EXPORT("log_buffer") void log_buffer(unsigned n) { host_log((const char*)buffer, n); }

/// Logs a pointer/length pair the caller chooses (possibly outside memory).
EXPORT("log_raw") void log_raw(unsigned ptr, unsigned n) { host_log((const char*)ptr, n); }

/// n empty host calls: the round trip wasm -> host -> wasm.
EXPORT("ping") void ping(unsigned n) {
  for (unsigned i = 0; i < n; ++i) host_nop();
}

/// Recursion the optimiser cannot turn into a loop (volatile stores on both sides of the call).
static volatile int sink;
__attribute__((noinline)) static int descend(int n) {
  sink = n;
  if (n == 0) return 0;
  int r = descend(n - 1);
  sink = r;
  return r + 1;
}
EXPORT("recurse") int recurse(int n) { return descend(n); }

/// Grows memory one page at a time until memory.grow refuses: what a greedy allocator does.
EXPORT("grow_until_refused") int grow_until_refused(void) {
  int grown = 0;
  while (__builtin_wasm_memory_grow(0, 1) != (unsigned long)-1) ++grown;
  return grown;
}

EXPORT("memory_pages") unsigned memory_pages(void) { return __builtin_wasm_memory_size(0); }
