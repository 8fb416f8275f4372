/* w2c_glue.c — tests/wasm/guest.wasm translated by wasm2c at build time (once as it is,
 * once metered by libs/wasm) and compiled into weft-bench-wasm-engines: the in-process
 * ahead-of-time figures. The host functions guest.wasm imports are defined here (wasm2c
 * links imports by symbol name), and each variant gets plain C entry points the C++
 * benchmark calls. Every call runs under wasm_rt_impl_try: a trap longjmps back here. */

#include <stdint.h>

#include "wasm-rt-impl.h"
#include "w2c_glue.h"
#include "w2c_metered.h"
#include "w2c_plain.h"

#include "guest_env.h"

static struct Z_env_instance_t env;

void Z_envZ_nop(struct Z_env_instance_t* e) { ++e->nops; }

void w2c_init(void) {
  wasm_rt_init();
  Z_guest_plain_init_module();
  Z_guest_metered_init_module();
}

static Z_guest_plain_instance_t plain;
static Z_guest_metered_instance_t metered;

/* The limits libs/wasm's interpreter engine sets before each call. */
static void arm(void) {
  *Z_guest_meteredZ_weftZ3Afuel(&metered) = 100000000000ull;
  *Z_guest_meteredZ_weftZ3Adepth(&metered) = 1000;
  *Z_guest_meteredZ_weftZ3Amemory_cap(&metered) = 256;
  *Z_guest_meteredZ_weftZ3Agrow_refused(&metered) = 0;
}

#define TRY_OR(fail) \
  if (wasm_rt_impl_try() != 0) return fail

int w2c_plain_new(void) {
  TRY_OR(-1);
  Z_guest_plain_instantiate(&plain, &env);
  return 0;
}
void w2c_plain_free(void) { Z_guest_plain_free(&plain); }
uint8_t* w2c_plain_memory(void) { return Z_guest_plainZ_memory(&plain)->data; }
uint32_t w2c_plain_buffer(void) {
  TRY_OR(0);
  return Z_guest_plainZ_buffer(&plain);
}
uint32_t w2c_plain_fnv(uint32_t ptr, uint32_t n) {
  TRY_OR(0);
  return Z_guest_plainZ_fnv1a(&plain, ptr, n);
}
int w2c_plain_ping(uint32_t n) {
  TRY_OR(-1);
  Z_guest_plainZ_ping(&plain, n);
  return 0;
}

int w2c_metered_new(void) {
  TRY_OR(-1);
  Z_guest_metered_instantiate(&metered, &env);
  return 0;
}
void w2c_metered_free(void) { Z_guest_metered_free(&metered); }
uint8_t* w2c_metered_memory(void) { return Z_guest_meteredZ_memory(&metered)->data; }
uint32_t w2c_metered_buffer(void) {
  arm();
  TRY_OR(0);
  return Z_guest_meteredZ_buffer(&metered);
}
uint32_t w2c_metered_fnv(uint32_t ptr, uint32_t n) {
  arm();
  TRY_OR(0);
  return Z_guest_meteredZ_fnv1a(&metered, ptr, n);
}
int w2c_metered_ping(uint32_t n) {
  arm();
  TRY_OR(-1);
  Z_guest_meteredZ_ping(&metered, n);
  return 0;
}
uint64_t w2c_nops(void) { return env.nops; }
