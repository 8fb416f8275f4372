;; A huge result: 32 MiB of memory handed to weft.result, over any limits.result_bytes (at
;; most 512 KiB). Valid; result must answer WEFT_E_TOO_LARGE (-4) and the call fail as too large.
(module
  (import "weft" "result" (func $result (param i32 i32 i32) (result i32)))
  (memory (export "memory") 512)
  (func (export "weft_abi_version") (result i32) (i32.const 1))
  (func (export "weft_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "weft_free") (param i32 i32))
  (func (export "run") (param i32 i32) (result i32)
    (call $result (i32.const 0) (i32.const 33554432) (i32.const 0))))
