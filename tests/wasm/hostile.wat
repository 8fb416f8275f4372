;; hostile.wat — each export misbehaves one way; libs/wasm's tests expect a typed error
;; from every one and an engine that still works afterwards.
(module
  (memory (export "memory") 1)
  (func $recurse (export "recurse_forever") (param i32) (result i32)
    local.get 0
    i32.const 1
    i32.add
    call $recurse)
  (func (export "load_oob") (result i32)
    i32.const -16
    i32.load)
  (func (export "store_oob")
    i32.const 65536
    i32.const 7
    i32.store)
  (func (export "spin")
    (loop $l br $l))
  (func (export "spin_nested") (result i32)
    (local i32)
    (loop $outer
      (block $b
        (loop $inner
          local.get 0
          i32.const 1
          i32.add
          local.set 0
          local.get 0
          i32.const 1000
          i32.rem_u
          br_if $inner))
      br $outer)
    local.get 0)
  (func (export "grow_4g") (result i32)
    ;; 65535 more pages: the whole 32-bit address space
    i32.const 65535
    memory.grow)
  (func (export "trap") unreachable)
  (func (export "div0") (param i32) (result i32)
    local.get 0
    i32.const 0
    i32.div_u)
  (func (export "count") (param i32) (result i32)
    ;; a loop of n iterations with an early return, to check the budget is an upper bound
    (local i32)
    (block $done
      (loop $l
        local.get 1
        local.get 0
        i32.ge_u
        br_if $done
        local.get 1
        i32.const 1
        i32.add
        local.set 1
        local.get 1
        i32.const 1000000
        i32.eq
        if
          local.get 1
          return
        end
        br $l))
    local.get 1))
