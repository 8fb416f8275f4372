/* fetcher: a test plugin for http_fetch through the egress path and for file_write (integration test
 * plugin-host). Tool `fetch` {url, method?} answers "status <n>, <len> bytes: <first 200
 * bytes>", or fails with the host's status ("status -2" for WEFT_E_DENIED). Its manifest is
 * written by the test (the hosts name the test's loopback ports). */
#define WEFT_PLUGIN_IMPLEMENTATION
#include <weft_plugin.h>

#include <string.h>

static uint32_t put_int(int64_t v, char *out) {
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

WEFT_TOOL(tool_fetch) {
  static char url[2048], method[8], body[256], out[512];
  int32_t url_len = weft_arg_string(args, args_len, "url", url, sizeof url);
  if (url_len <= 0 || (uint32_t)url_len >= sizeof url) return weft_fail(WEFT_E_INVALID, "argument 'url' is required");
  int32_t method_len = weft_arg_string(args, args_len, "method", method, sizeof method);
  if (method_len <= 0) {
    memcpy(method, "GET", 3);
    method_len = 3;
  }
  int32_t status = 0;
  int32_t n = weft_http_fetch(method, (uint32_t)method_len, url, (uint32_t)url_len, "Accept: text/plain", 18, "", 0, body,
                              sizeof body, &status);
  uint32_t len = 0;
  if (n < 0) {
    memcpy(out, "status ", 7);
    len = 7 + put_int(n, out + 7);
    out[len] = 0;
    return weft_fail(n, out);
  }
  memcpy(out, "status ", 7);
  len = 7 + put_int(status, out + 7);
  memcpy(out + len, ", ", 2);
  len += 2;
  len += put_int(n, out + len);
  memcpy(out + len, " bytes: ", 8);
  len += 8;
  uint32_t shown = (uint32_t)n < 200 ? (uint32_t)n : 200;
  memcpy(out + len, body, shown);
  len += shown;
  return weft_ok(out, len);
}

/* write {path, text}: weft_file_write(path, text, WEFT_WRITE_REPLACE); "written", or fails
 * with the host's status ("status -2" for WEFT_E_DENIED). */
WEFT_TOOL(tool_write) {
  static char path[1024], text[256], out[32];
  int32_t path_len = weft_arg_string(args, args_len, "path", path, sizeof path);
  if (path_len <= 0 || (uint32_t)path_len >= sizeof path) return weft_fail(WEFT_E_INVALID, "argument 'path' is required");
  int32_t text_len = weft_arg_string(args, args_len, "text", text, sizeof text);
  if (text_len < 0) text_len = 0;
  int32_t rc = weft_file_write(path, (uint32_t)path_len, text, (uint32_t)text_len, WEFT_WRITE_REPLACE);
  if (rc < 0) {
    memcpy(out, "status ", 7);
    uint32_t len = 7 + put_int(rc, out + 7);
    out[len] = 0;
    return weft_fail(rc, out);
  }
  return weft_ok_text("written");
}
