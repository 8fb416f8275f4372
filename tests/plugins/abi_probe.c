/* The ABI probe: a module calling every host function through sdk/c/weft_plugin.h, so that
 * plugins_test checks each declaration's import name and type against libs/plugin's
 * abi::signature_of. Never run. */
#define WEFT_PLUGIN_IMPLEMENTATION
#include <weft_plugin.h>

WEFT_TOOL(run) {
  char buf[64];
  int32_t status = 0;
  int32_t sum = weft_log(WEFT_LOG_INFO, args, args_len);
  sum += weft_file_read("data/a", 6, buf, sizeof buf);
  sum += weft_file_write("out/a", 5, buf, 4, WEFT_WRITE_APPEND);
  sum += weft_http_fetch("GET", 3, "https://api.example.com/", 24, "", 0, "", 0, buf, sizeof buf, &status);
  sum += weft_kv_get("k", 1, buf, sizeof buf);
  sum += weft_kv_put("k", 1, buf, 1);
  sum += (int32_t)weft_clock();
  return weft_ok(&sum, sizeof sum);
}
