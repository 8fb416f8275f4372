;; Imports a granted host function with another type than the ABI's: weft.log as (i32) -> (),
;; so the host would read arguments that are not there. Valid; the host must refuse to load it.
(module
  (import "weft" "log" (func $log (param i32)))
  (memory (export "memory") 1)
  (func (export "weft_abi_version") (result i32) (i32.const 1))
  (func (export "weft_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "weft_free") (param i32 i32))
  (func (export "run") (param i32 i32) (result i32)
    (call $log (i32.const 0))
    (i32.const 0)))
