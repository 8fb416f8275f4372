;; A 4 GiB allocation: memory.grow by 65535 pages (the whole wasm32 space) and a store at
;; its far end. Valid; the memory cap must make the grow fail (-1, then the store traps) or
;; the host refuse it, never reserve 4 GiB.
(module
  (memory (export "memory") 1)
  (func (export "weft_abi_version") (result i32) (i32.const 1))
  (func (export "weft_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "weft_free") (param i32 i32))
  (func (export "run") (param i32 i32) (result i32)
    (drop (memory.grow (i32.const 65535)))
    (i32.store (i32.const 0xfffffff0) (i32.const 1))
    (i32.const 0)))
