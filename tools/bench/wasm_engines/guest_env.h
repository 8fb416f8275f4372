/* guest_env.h — the host side of guest.wasm's imports that both wasm2c builds share (the
 * in-process one, w2c_glue.c, and the per-plugin executable, runner.c): wasm2c links an
 * import by its symbol name, Z_<module>Z_<field>. Each program defines Z_envZ_nop itself:
 * in process it counts, in the executable it crosses the pipe. Included once per program. */
#pragma once
#include <stdint.h>

struct Z_env_instance_t {
  uint64_t nops;
};

uint32_t Z_envZ_add(struct Z_env_instance_t* e, uint32_t a, uint32_t b) {
  (void)e;
  return a + b;
}

void Z_envZ_log(struct Z_env_instance_t* e, uint32_t text, uint32_t length) {
  (void)e;
  (void)text;
  (void)length;
}
