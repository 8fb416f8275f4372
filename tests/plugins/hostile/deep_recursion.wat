;; Unbounded recursion: each call adds a frame until the engine's stack limit. Valid;
;; must end in a typed error (stack exhausted), not a crash of the host.
(module
  (memory (export "memory") 1)
  (func (export "weft_abi_version") (result i32) (i32.const 1))
  (func (export "weft_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "weft_free") (param i32 i32))
  (func $down (param i32) (result i32)
    (i32.add (call $down (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))
  (func (export "run") (param i32 i32) (result i32)
    (call $down (i32.const 0))))
