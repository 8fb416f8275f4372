/* runner.c — the per-plugin executable of the wasm2c path, as weft would have to build one
 * for each plugin installed at run time: the plugin's metered module translated by wasm2c
 * (plugin.c/plugin.h, module name "plugin"), this file and wasm2c's runtime compiled by cc
 * into one program that the host starts as a process and talks to over a pipe.
 * weft-bench-wasm-engines builds it at run time and measures the steps.
 *
 * Protocol (lines on stdin/stdout): at start it instantiates and says "ready";
 *   "add A B"  -> "SUM"                       a host -> plugin call
 *   "ping N"   -> N x "h" (each answered with a line by the host), then "done"
 *                                             wasm -> host calls crossing the pipe
 *   "fnv N"    -> "HASH NS"                   fnv1a over N bytes of the buffer, timed inside
 *   "inst N"   -> "P50_NS P99_NS"             N more instantiations, timed inside
 *   "quit"
 * A trap answers "trap CODE". */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plugin.h"
#include "wasm-rt-impl.h"

#include "guest_env.h"

static struct Z_env_instance_t env;

/* The host function lives in the host process: every call crosses the pipe. */
void Z_envZ_nop(struct Z_env_instance_t* e) {
  (void)e;
  char line[32];
  fputs("h\n", stdout);
  fflush(stdout);
  if (!fgets(line, sizeof line, stdin)) exit(3);
}

static Z_plugin_instance_t inst;

static void arm(void) {
  *Z_pluginZ_weftZ3Afuel(&inst) = 100000000000ull;
  *Z_pluginZ_weftZ3Adepth(&inst) = 1000;
  *Z_pluginZ_weftZ3Amemory_cap(&inst) = 256;
  *Z_pluginZ_weftZ3Agrow_refused(&inst) = 0;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void* a, const void* b) {
  uint64_t x = *(const uint64_t*)a, y = *(const uint64_t*)b;
  return x < y ? -1 : x > y;
}

int main(void) {
  char line[128];
  wasm_rt_init();
  Z_plugin_init_module();
  wasm_rt_trap_t trap = wasm_rt_impl_try();
  if (trap != 0) {
    printf("trap %d\n", (int)trap);
    fflush(stdout);
    return 1;
  }
  Z_plugin_instantiate(&inst, &env);
  puts("ready");
  fflush(stdout);
  while (fgets(line, sizeof line, stdin)) {
    unsigned a = 0, b = 0;
    arm();
    trap = wasm_rt_impl_try();
    if (trap != 0) {
      printf("trap %d\n", (int)trap);
    } else if (sscanf(line, "add %u %u", &a, &b) == 2) {
      printf("%u\n", Z_pluginZ_add(&inst, a, b));
    } else if (sscanf(line, "ping %u", &a) == 1) {
      Z_pluginZ_ping(&inst, a);
      puts("done");
    } else if (sscanf(line, "fnv %u", &a) == 1) {
      u32 buf = Z_pluginZ_buffer(&inst);
      uint8_t* mem = Z_pluginZ_memory(&inst)->data;
      for (unsigned i = 0; i < a; ++i) mem[buf + i] = (uint8_t)(i * 31u + (i >> 9));
      uint64_t t0 = now_ns();
      u32 h = Z_pluginZ_fnv1a(&inst, buf, a);
      printf("%u %llu\n", h, (unsigned long long)(now_ns() - t0));
    } else if (sscanf(line, "inst %u", &a) == 1 && a > 0 && a <= 100000) {
      uint64_t* ns = malloc(sizeof(uint64_t) * a);
      for (unsigned i = 0; i < a; ++i) {
        uint64_t t0 = now_ns();
        Z_plugin_free(&inst);
        Z_plugin_instantiate(&inst, &env);
        ns[i] = now_ns() - t0;
      }
      qsort(ns, a, sizeof ns[0], cmp_u64);
      printf("%llu %llu\n", (unsigned long long)ns[a / 2], (unsigned long long)ns[a * 99 / 100]);
      free(ns);
    } else if (strncmp(line, "quit", 4) == 0) {
      break;
    } else {
      puts("error");
    }
    fflush(stdout);
  }
  Z_plugin_free(&inst);
  return 0;
}
