;; Imports a host function its manifest does not grant: weft.http_fetch, with the ABI's type,
;; while ungranted_import.toml lists only log and result. Valid WebAssembly; the host must
;; refuse to load it (abi::check_interface).
(module
  (import "weft" "http_fetch" (func $fetch (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "weft_abi_version") (result i32) (i32.const 1))
  (func (export "weft_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "weft_free") (param i32 i32))
  (func (export "run") (param i32 i32) (result i32)
    (call $fetch (i32.const 0) (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)
      (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0))))
