/* weft_plugin.h — the weft plugin ABI, version 1, for plugins written in C.
 *
 * A weft plugin is a wasm32 module. The host (weft's plugin host) calls the plugin's
 * exports; the plugin calls back only through the host functions of import module "weft"
 * that its plugin.toml lists in permissions.host_functions. The whole contract is in
 * docs/guides/plugins.md, "Host API"; this header is its C form.
 *
 * Integer widths: every pointer and length crossing the boundary is a wasm i32 (a byte
 * offset into the plugin's own linear memory, read as unsigned); every status is an i32
 * (0 or more: success, negative: a weft_error); only clock returns an i64. Text is UTF-8 and
 * never NUL-terminated: it always travels as (pointer, length).
 *
 * Memory ownership: the host never keeps a pointer after a host function returns, writes
 * only into the buffer it is given (never past its capacity) and reads only the ranges it is
 * given. A range that does not lie inside the linear memory is refused with WEFT_E_INVALID,
 * never dereferenced. The arguments of a tool call live in a buffer the host obtained from
 * weft_alloc and releases with weft_free after the call: the tool must not free it.
 *
 * Use: in exactly one .c file of a plugin, define WEFT_PLUGIN_IMPLEMENTATION before
 * including this header; it then defines the required exports weft_abi_version, weft_alloc
 * and weft_free (on wasi-libc's malloc). Declare each tool with WEFT_TOOL(name), `name`
 * being the tool's `export` in plugin.toml.
 * Build (as meson does for examples/plugins/c-wordcount):
 *
 *   clang --target=wasm32-wasi -mexec-model=reactor -O2 -I<weft>/sdk/c plugin.c -o plugin.wasm
 *
 * wasi-libc supplies malloc and the string functions without importing anything; a libc
 * function that needs the operating system (printf, fopen, time) would import module
 * wasi_snapshot_preview1, and the host refuses such a module.
 */
#ifndef WEFT_PLUGIN_H
#define WEFT_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if !defined(__wasm32__) && !defined(WEFT_PLUGIN_NO_TARGET_CHECK)
#error "weft_plugin.h is for wasm32 plugins: compile with clang --target=wasm32-wasi"
#endif

/* The ABI version this header describes; weft_abi_version() returns it. */
#define WEFT_ABI_VERSION 1

/* Errors, returned as negative statuses by host functions and by tools. */
enum weft_error {
  WEFT_OK = 0,
  WEFT_E_INVALID = -1,   /* a bad argument: a range outside memory, bad UTF-8, an unknown flag or level */
  WEFT_E_DENIED = -2,    /* not permitted: a path or host not granted, a name refused by policy */
  WEFT_E_NOT_FOUND = -3, /* no such file or key */
  WEFT_E_TOO_LARGE = -4, /* over a size limit: a result, a key, a value, a request, a file */
  WEFT_E_IO = -5,        /* the host failed to do it: a disk error, DNS, a refused connection, a timeout */
  WEFT_E_STATE = -6,     /* not now: a second result, a host function outside a tool call */
  WEFT_E_LIMIT = -7      /* a quota is used up: the key-value store is full, too many log lines or fetches */
};

/* log levels */
enum weft_log_level { WEFT_LOG_ERROR = 0, WEFT_LOG_WARNING = 1, WEFT_LOG_INFO = 2, WEFT_LOG_DEBUG = 3 };

/* file_write flags */
enum weft_write_flags { WEFT_WRITE_REPLACE = 0, WEFT_WRITE_APPEND = 1 };

/* The attributes naming a wasm import or export. Off wasm (a native unit test of a plugin's
 * logic, with WEFT_PLUGIN_NO_TARGET_CHECK) they are empty and the test defines the host
 * functions. */
#ifdef __wasm__
#define WEFT_IMPORT(name) __attribute__((import_module("weft"), import_name(#name)))
#define WEFT_EXPORT(name) __attribute__((export_name(#name)))
#else
#define WEFT_IMPORT(name)
#define WEFT_EXPORT(name)
#endif

/* ---- Host functions (import module "weft"). A module may import only those its manifest
 * lists in permissions.host_functions; the host refuses to load one that imports more.
 * Unused declarations below import nothing: only functions the plugin calls are imported. */

/* log: (i32 level, i32 text, i32 text_len) -> i32. A line in the plugin's log. Lines are cut
 * at 4096 bytes, control characters replaced. 0, or WEFT_E_INVALID, WEFT_E_LIMIT. */
WEFT_IMPORT(log) int32_t weft_log(int32_t level, const char *text, uint32_t text_len);

/* result: (i32 data, i32 len, i32 is_error) -> i32. Sets the outcome of the running tool
 * call: is_error 0 a result, 1 an error text for the model. The host copies the bytes. At
 * most once a call: a second call returns WEFT_E_STATE and changes nothing. Over the
 * manifest's limits.result_bytes: WEFT_E_TOO_LARGE, nothing set (a shorter one may follow).
 * Not UTF-8, or is_error other than 0 or 1: WEFT_E_INVALID. */
WEFT_IMPORT(result) int32_t weft_result(const void *data, uint32_t len, int32_t is_error);

/* file_read: (i32 path, i32 path_len, i32 buf, i32 cap) -> i32. Reads the file at `path`,
 * relative to the agent's workspace and under permissions.files.read or .write. Returns the
 * file's whole size n and writes its first min(n, cap) bytes to buf: n > cap means the
 * buffer was too small (call again with n bytes; buf 0 with cap 0 asks the size alone).
 * Errors: WEFT_E_DENIED (not granted, absolute, '..', a symlink leading out), WEFT_E_NOT_FOUND,
 * WEFT_E_TOO_LARGE (over 2^31-1 bytes or the memory limit), WEFT_E_IO, WEFT_E_INVALID. */
WEFT_IMPORT(file_read) int32_t weft_file_read(const char *path, uint32_t path_len, void *buf, uint32_t cap);

/* file_write: (i32 path, i32 path_len, i32 data, i32 len, i32 flags) -> i32. Writes the file
 * at `path` under permissions.files.write: WEFT_WRITE_REPLACE creates or replaces it whole
 * (readers see the old or the new content), WEFT_WRITE_APPEND creates or appends. Missing
 * parent folders are not created. 0, or WEFT_E_DENIED, WEFT_E_NOT_FOUND (no parent),
 * WEFT_E_TOO_LARGE, WEFT_E_IO, WEFT_E_INVALID (any other flag). */
WEFT_IMPORT(file_write) int32_t weft_file_write(const char *path, uint32_t path_len, const void *data, uint32_t len,
                                                int32_t flags);

/* http_fetch: (i32 method, i32 method_len, i32 url, i32 url_len, i32 headers, i32 headers_len,
 *              i32 body, i32 body_len, i32 buf, i32 cap, i32 status) -> i32.
 * An HTTP request through weft's egress path, to a host on permissions.network only.
 * method: "GET", "POST", "PUT", "PATCH", "DELETE" or "HEAD". url: http or https. headers:
 * "Name: value" lines joined by "\n" (may be empty; Host, Content-Length, Connection and
 * Transfer-Encoding are the host's). Redirects are not followed: a 3xx comes back as it is.
 * On an answer, writes the HTTP status as a little-endian i32 at `status` and returns the
 * response body's whole length n, its first min(n, cap) bytes written to buf. The request is
 * made once: a body longer than cap is cut, not fetched again. Errors: WEFT_E_DENIED (the
 * host or the address it resolves to is not allowed), WEFT_E_IO (DNS, connection, timeout),
 * WEFT_E_TOO_LARGE (request body), WEFT_E_LIMIT (too many fetches this call), WEFT_E_INVALID. */
WEFT_IMPORT(http_fetch) int32_t weft_http_fetch(const char *method, uint32_t method_len, const char *url,
                                                uint32_t url_len, const char *headers, uint32_t headers_len,
                                                const void *body, uint32_t body_len, void *buf, uint32_t cap,
                                                int32_t *status);

/* kv_get: (i32 key, i32 key_len, i32 buf, i32 cap) -> i32. Reads a value of the plugin's own
 * key-value store (per plugin and agent, kept across calls and restarts). Returns the value's
 * length n, its first min(n, cap) bytes written to buf. WEFT_E_NOT_FOUND when absent;
 * WEFT_E_INVALID for a key of 0 or over 256 bytes. */
WEFT_IMPORT(kv_get) int32_t weft_kv_get(const char *key, uint32_t key_len, void *buf, uint32_t cap);

/* kv_put: (i32 key, i32 key_len, i32 value, i32 value_len) -> i32. Sets a value; an empty
 * value removes the key. Keys 1–256 bytes, values at most 65536 bytes (WEFT_E_TOO_LARGE);
 * at most 1024 keys and 1 MiB a store (WEFT_E_LIMIT). 0 on success. */
WEFT_IMPORT(kv_put) int32_t weft_kv_put(const char *key, uint32_t key_len, const void *value, uint32_t value_len);

/* clock: () -> i64. The current UTC time in milliseconds since 1970-01-01 (the host may
 * coarsen it). */
WEFT_IMPORT(clock) int64_t weft_clock(void);

/* ---- Exports the host calls. */

/* A tool: (i32 args, i32 args_len) -> i32. args is the call's arguments, a JSON object as
 * UTF-8 text. Return 0 when done (the outcome is what weft_result set; nothing set is an
 * empty result), or a negative weft_error (the outcome is the error text weft_result set
 * with is_error 1, or "status <n> (<name>)"). */
#define WEFT_TOOL(fn) WEFT_EXPORT(fn) int32_t fn(const char *args, uint32_t args_len)

int32_t weft_abi_version(void);           /* () -> i32: WEFT_ABI_VERSION */
void *weft_alloc(uint32_t size);          /* (i32) -> i32: size bytes, or 0 when out of memory */
void weft_free(void *ptr, uint32_t size); /* (i32, i32) -> (): releases what weft_alloc gave */

/* ---- Helpers (no host function beyond `result`). */

static inline uint32_t weft__strlen(const char *s) {
  uint32_t n = 0;
  while (s[n]) ++n;
  return n;
}

/* Sets a result and returns 0 (or the error `result` gave), for `return weft_ok_text(...)`. */
static inline int32_t weft_ok(const void *data, uint32_t len) {
  int32_t rc = weft_result(data, len, 0);
  return rc < 0 ? rc : WEFT_OK;
}
static inline int32_t weft_ok_text(const char *text) { return weft_ok(text, weft__strlen(text)); }

/* Sets an error text for the model and returns `code` (a negative weft_error). */
static inline int32_t weft_fail(int32_t code, const char *message) {
  weft_result(message, weft__strlen(message), 1);
  return code < 0 ? code : WEFT_E_INVALID;
}

/* The name of an error code ("WEFT_E_DENIED"), for messages. */
static inline const char *weft_error_name(int32_t code) {
  switch (code) {
    case WEFT_OK: return "WEFT_OK";
    case WEFT_E_INVALID: return "WEFT_E_INVALID";
    case WEFT_E_DENIED: return "WEFT_E_DENIED";
    case WEFT_E_NOT_FOUND: return "WEFT_E_NOT_FOUND";
    case WEFT_E_TOO_LARGE: return "WEFT_E_TOO_LARGE";
    case WEFT_E_IO: return "WEFT_E_IO";
    case WEFT_E_STATE: return "WEFT_E_STATE";
    case WEFT_E_LIMIT: return "WEFT_E_LIMIT";
    default: return "unknown";
  }
}

/* ---- Arguments: reading one top-level member of the JSON object a tool receives, without
 * a JSON library. Nested values are skipped, not read; a malformed object is an error. */

static inline uint32_t weft__ws(const char *s, uint32_t n, uint32_t i) {
  while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  return i;
}

/* Skips a JSON string starting at s[i] == '"'; returns the index after its closing quote,
 * or n + 1 when it is not closed. */
static inline uint32_t weft__skip_string(const char *s, uint32_t n, uint32_t i) {
  for (++i; i < n; ++i) {
    if (s[i] == '\\') {
      ++i;
    } else if (s[i] == '"') {
      return i + 1;
    }
  }
  return n + 1;
}

/* Skips one JSON value starting at s[i]; returns the index after it, or n + 1 if malformed.
 * Containers are skipped by counting brackets outside strings, up to 64 deep. */
static inline uint32_t weft__skip_value(const char *s, uint32_t n, uint32_t i) {
  if (i >= n) return n + 1;
  if (s[i] == '"') return weft__skip_string(s, n, i);
  if (s[i] == '{' || s[i] == '[') {
    char stack[64];
    uint32_t depth = 0;
    while (i < n) {
      char c = s[i];
      if (c == '"') {
        i = weft__skip_string(s, n, i);
        continue;
      }
      if (c == '{' || c == '[') {
        if (depth == sizeof stack) return n + 1;
        stack[depth++] = c == '{' ? '}' : ']';
      } else if (c == '}' || c == ']') {
        if (depth == 0 || stack[depth - 1] != c) return n + 1;
        if (--depth == 0) return i + 1;
      }
      ++i;
    }
    return n + 1;
  }
  /* a number, true, false or null */
  uint32_t start = i;
  while (i < n && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' &&
         s[i] != '\r')
    ++i;
  return i > start ? i : n + 1;
}

/* Finds member `key` of the top-level object; on success sets *value_at to the index of its
 * value's first character and returns 0. WEFT_E_NOT_FOUND if absent, WEFT_E_INVALID if the
 * text is not an object. */
static inline int32_t weft__find_member(const char *args, uint32_t n, const char *key, uint32_t *value_at) {
  uint32_t klen = weft__strlen(key);
  uint32_t i = weft__ws(args, n, 0);
  if (i >= n || args[i] != '{') return WEFT_E_INVALID;
  i = weft__ws(args, n, i + 1);
  if (i < n && args[i] == '}') return WEFT_E_NOT_FOUND;
  while (i < n) {
    if (args[i] != '"') return WEFT_E_INVALID;
    uint32_t kstart = i + 1;
    uint32_t kend = weft__skip_string(args, n, i);
    if (kend > n) return WEFT_E_INVALID;
    /* keys are compared as written: a key with escapes never matches */
    int match = kend - 1 - kstart == klen;
    for (uint32_t k = 0; match && k < klen; ++k) match = args[kstart + k] == key[k];
    i = weft__ws(args, n, kend);
    if (i >= n || args[i] != ':') return WEFT_E_INVALID;
    i = weft__ws(args, n, i + 1);
    if (match) {
      *value_at = i;
      return i < n ? WEFT_OK : WEFT_E_INVALID;
    }
    i = weft__skip_value(args, n, i);
    if (i > n) return WEFT_E_INVALID;
    i = weft__ws(args, n, i);
    if (i < n && args[i] == ',') {
      i = weft__ws(args, n, i + 1);
      continue;
    }
    if (i < n && args[i] == '}') return WEFT_E_NOT_FOUND;
    return WEFT_E_INVALID;
  }
  return WEFT_E_INVALID;
}

static inline int weft__hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Reads string member `key` of the arguments, unescaped, as UTF-8. Returns its length n in
 * bytes and writes its first min(n, cap) bytes to out (the host functions' protocol: n > cap
 * means call again with a larger buffer). WEFT_E_NOT_FOUND if absent, WEFT_E_INVALID if it is
 * not a string or the text is malformed. */
static inline int32_t weft_arg_string(const char *args, uint32_t n, const char *key, char *out, uint32_t cap) {
  uint32_t i;
  int32_t rc = weft__find_member(args, n, key, &i);
  if (rc < 0) return rc;
  if (args[i] != '"') return WEFT_E_INVALID;
  uint32_t len = 0;
#define WEFT__PUT(byte)            \
  do {                             \
    if (len < cap) out[len] = (char)(byte); \
    ++len;                         \
  } while (0)
  for (++i; i < n; ++i) {
    unsigned char c = (unsigned char)args[i];
    if (c == '"') return len > 0x7fffffff ? WEFT_E_TOO_LARGE : (int32_t)len;
    if (c < 0x20) return WEFT_E_INVALID;
    if (c != '\\') {
      WEFT__PUT(c);
      continue;
    }
    if (++i >= n) return WEFT_E_INVALID;
    switch (args[i]) {
      case '"': WEFT__PUT('"'); break;
      case '\\': WEFT__PUT('\\'); break;
      case '/': WEFT__PUT('/'); break;
      case 'b': WEFT__PUT('\b'); break;
      case 'f': WEFT__PUT('\f'); break;
      case 'n': WEFT__PUT('\n'); break;
      case 'r': WEFT__PUT('\r'); break;
      case 't': WEFT__PUT('\t'); break;
      case 'u': {
        uint32_t cp = 0;
        for (int k = 0; k < 4; ++k) {
          int h = ++i < n ? weft__hex(args[i]) : -1;
          if (h < 0) return WEFT_E_INVALID;
          cp = cp << 4 | (uint32_t)h;
        }
        if (cp >= 0xd800 && cp < 0xdc00) { /* a high surrogate: its low half must follow */
          uint32_t lo = 0;
          if (i + 6 >= n || args[i + 1] != '\\' || args[i + 2] != 'u') return WEFT_E_INVALID;
          i += 2;
          for (int k = 0; k < 4; ++k) {
            int h = weft__hex(args[++i]);
            if (h < 0) return WEFT_E_INVALID;
            lo = lo << 4 | (uint32_t)h;
          }
          if (lo < 0xdc00 || lo >= 0xe000) return WEFT_E_INVALID;
          cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        } else if (cp >= 0xdc00 && cp < 0xe000) {
          return WEFT_E_INVALID;
        }
        if (cp < 0x80) {
          WEFT__PUT(cp);
        } else if (cp < 0x800) {
          WEFT__PUT(0xc0 | cp >> 6);
          WEFT__PUT(0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
          WEFT__PUT(0xe0 | cp >> 12);
          WEFT__PUT(0x80 | (cp >> 6 & 0x3f));
          WEFT__PUT(0x80 | (cp & 0x3f));
        } else {
          WEFT__PUT(0xf0 | cp >> 18);
          WEFT__PUT(0x80 | (cp >> 12 & 0x3f));
          WEFT__PUT(0x80 | (cp >> 6 & 0x3f));
          WEFT__PUT(0x80 | (cp & 0x3f));
        }
        break;
      }
      default: return WEFT_E_INVALID;
    }
  }
#undef WEFT__PUT
  return WEFT_E_INVALID;
}

/* Reads integer member `key` (an optional '-' and decimal digits, no fraction or exponent)
 * into *value. WEFT_E_NOT_FOUND if absent, WEFT_E_INVALID if it is not such a number or
 * does not fit in an int64_t. */
static inline int32_t weft_arg_int(const char *args, uint32_t n, const char *key, int64_t *value) {
  uint32_t i;
  int32_t rc = weft__find_member(args, n, key, &i);
  if (rc < 0) return rc;
  int negative = args[i] == '-';
  if (negative) ++i;
  if (i >= n || args[i] < '0' || args[i] > '9') return WEFT_E_INVALID;
  uint64_t v = 0;
  uint64_t max = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  for (; i < n && args[i] >= '0' && args[i] <= '9'; ++i) {
    uint64_t d = (uint64_t)(args[i] - '0');
    if (v > (max - d) / 10) return WEFT_E_INVALID;
    v = v * 10 + d;
  }
  if (i < n && (args[i] == '.' || args[i] == 'e' || args[i] == 'E')) return WEFT_E_INVALID;
  *value = negative ? (int64_t)(0 - v) : (int64_t)v;
  return WEFT_OK;
}

#ifdef WEFT_PLUGIN_IMPLEMENTATION
#include <stdlib.h>

WEFT_EXPORT(weft_abi_version) int32_t weft_abi_version(void) { return WEFT_ABI_VERSION; }

WEFT_EXPORT(weft_alloc) void *weft_alloc(uint32_t size) { return malloc(size ? size : 1); }

WEFT_EXPORT(weft_free) void weft_free(void *ptr, uint32_t size) {
  (void)size;
  free(ptr);
}
#endif

#ifdef __cplusplus
}
#endif

#endif /* WEFT_PLUGIN_H */
