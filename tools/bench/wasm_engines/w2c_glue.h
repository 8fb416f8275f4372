/* w2c_glue.h — the in-process wasm2c build of guest.wasm, as plain C calls (w2c_glue.c). */
#pragma once
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

void w2c_init(void);
uint64_t w2c_nops(void);

/* As translated (no metering). */
int w2c_plain_new(void);
void w2c_plain_free(void);
uint8_t* w2c_plain_memory(void);
uint32_t w2c_plain_buffer(void);
uint32_t w2c_plain_fnv(uint32_t ptr, uint32_t n);
int w2c_plain_ping(uint32_t n);

/* Metered by libs/wasm first (fuel, depth and memory cap enforced). */
int w2c_metered_new(void);
void w2c_metered_free(void);
uint8_t* w2c_metered_memory(void);
uint32_t w2c_metered_buffer(void);
uint32_t w2c_metered_fnv(uint32_t ptr, uint32_t n);
int w2c_metered_ping(uint32_t n);

#ifdef __cplusplus
}
#endif
