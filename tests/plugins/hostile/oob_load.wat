;; Out-of-bounds memory access: the tool loads 4 bytes at 0xfffffff0, far past its
;; one 64 KiB page. Valid WebAssembly; running it must trap (a typed error, the host unharmed).
(module
  (memory (export "memory") 1)
  (func (export "weft_abi_version") (result i32) (i32.const 1))
  (func (export "weft_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "weft_free") (param i32 i32))
  (func (export "run") (param i32 i32) (result i32)
    (i32.load (i32.const 0xfffffff0))))
