/* Out-of-bounds memory access from C, built with the SDK as the examples are: the tool stores
 * through a pointer far past the module's memory. Valid WebAssembly; running it must trap. */
#define WEFT_PLUGIN_IMPLEMENTATION
#include <weft_plugin.h>

WEFT_TOOL(run) {
  (void)args;
  volatile int32_t *far = (volatile int32_t *)(uintptr_t)0xfffffff0u;
  *far = (int32_t)args_len;
  return 0;
}
