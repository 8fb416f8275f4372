/* c-wordcount: an example weft plugin in C (docs/guides/plugins.md, "Writing a plugin in C").
 * word_count counts the words of its 'text' argument; kv_counter adds to a counter kept in
 * the plugin's key-value store. */
#define WEFT_PLUGIN_IMPLEMENTATION
#include <weft_plugin.h>

#include <stdlib.h>
#include <string.h>

/* Formats v in decimal into out (at least 21 bytes); returns the length. */
static uint32_t format_int(int64_t v, char *out) {
  char digits[20];
  uint32_t n = 0, len = 0;
  uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
  do {
    digits[n++] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0) out[len++] = '-';
  while (n) out[len++] = digits[--n];
  return len;
}

WEFT_TOOL(tool_word_count) {
  /* The text is read into a buffer of the arguments' size: unescaping never lengthens it. */
  char *text = malloc(args_len + 1);
  if (!text) return weft_fail(WEFT_E_LIMIT, "out of memory");
  int32_t n = weft_arg_string(args, args_len, "text", text, args_len);
  if (n < 0) {
    free(text);
    return weft_fail(WEFT_E_INVALID, "argument 'text' must be a string");
  }
  int64_t words = 0;
  int in_word = 0;
  for (int32_t i = 0; i < n; ++i) {
    char c = text[i];
    int space = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
    if (!space && !in_word) ++words;
    in_word = !space;
  }
  free(text);
  char out[24];
  return weft_ok(out, format_int(words, out));
}

WEFT_TOOL(tool_kv_counter) {
  char name[65];
  int32_t name_len = weft_arg_string(args, args_len, "name", name, sizeof name);
  if (name_len == WEFT_E_NOT_FOUND || name_len == 0) return weft_fail(WEFT_E_INVALID, "argument 'name' is required");
  if (name_len < 0) return weft_fail(WEFT_E_INVALID, "argument 'name' must be a string");
  if ((uint32_t)name_len > sizeof name - 1) return weft_fail(WEFT_E_TOO_LARGE, "argument 'name' is over 64 bytes");
  int64_t by = 1;
  int32_t rc = weft_arg_int(args, args_len, "by", &by);
  if (rc < 0 && rc != WEFT_E_NOT_FOUND) return weft_fail(WEFT_E_INVALID, "argument 'by' must be an integer");

  /* The key is "counter/<name>", the value the count in decimal. */
  char key[8 + sizeof name] = "counter/";
  memcpy(key + 8, name, (size_t)name_len);
  uint32_t key_len = 8 + (uint32_t)name_len;

  char stored[24];
  int64_t count = 0;
  int32_t got = weft_kv_get(key, key_len, stored, sizeof stored - 1);
  if (got >= 0) {
    if ((uint32_t)got > sizeof stored - 1) return weft_fail(WEFT_E_INVALID, "the stored counter is corrupt");
    stored[got] = 0;
    char *end = NULL;
    count = strtoll(stored, &end, 10);
    if (got == 0 || *end) return weft_fail(WEFT_E_INVALID, "the stored counter is corrupt");
  } else if (got != WEFT_E_NOT_FOUND) {
    return weft_fail(got, "failed to read the counter");
  }
  if (__builtin_add_overflow(count, by, &count)) return weft_fail(WEFT_E_INVALID, "the counter would overflow");

  char out[24];
  uint32_t out_len = format_int(count, out);
  rc = weft_kv_put(key, key_len, out, out_len);
  if (rc < 0) return weft_fail(rc, "failed to store the counter");
  weft_log(WEFT_LOG_DEBUG, key, key_len);
  return weft_ok(out, out_len);
}
