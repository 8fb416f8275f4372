;; imports.wat — a module that asks for host functions; the tests grant some, all or none.
(module
  (import "env" "add" (func $add (param i32 i32) (result i32)))
  (import "weft" "secret" (func $secret (result i64)))
  (func (export "sum3") (param i32 i32 i32) (result i32)
    local.get 0
    local.get 1
    call $add
    local.get 2
    call $add)
  (func (export "secret") (result i64) call $secret))
