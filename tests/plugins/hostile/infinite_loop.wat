;; An infinite loop: the tool never returns. Valid; the instruction budget or the call's
;; deadline must stop it.
(module
  (memory (export "memory") 1)
  (func (export "weft_abi_version") (result i32) (i32.const 1))
  (func (export "weft_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "weft_free") (param i32 i32))
  (func (export "run") (param i32 i32) (result i32)
    (loop $forever (br $forever))
    (i32.const 0)))
