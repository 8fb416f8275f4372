;; Not valid WebAssembly: the tool returns an i64 where its type says i32. Assembled with
;; wat2wasm --no-check; wasm-validate and every engine must refuse it.
(module
  (memory (export "memory") 1)
  (func (export "weft_abi_version") (result i32) (i32.const 1))
  (func (export "weft_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "weft_free") (param i32 i32))
  (func (export "run") (param i32 i32) (result i32)
    (i64.const 1)))
