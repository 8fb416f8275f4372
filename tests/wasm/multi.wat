;; multi.wat — multi-value results, returns from inside nested blocks, and branches to the
;; function's own label: the control flow the metering rewrite must keep intact.
(module
  (func (export "swap") (param i64 i64) (result i64 i64)
    local.get 1
    local.get 0)
  (func (export "pick") (param i32) (result i32)
    (block $a
      (block $b
        (block $c
          local.get 0
          br_table $a $b $c)
        i32.const 30
        return)
      i32.const 20
      return)
    i32.const 10)
  (func (export "early") (param i32) (result i32)
    (if (local.get 0) (then (block (i32.const 7) (return))))
    i32.const 9)
  (func (export "to_top") (param i32) (result i32)
    ;; br_if 1 from inside the block leaves the function with 5
    (block
      i32.const 5
      local.get 0
      br_if 1
      drop)
    i32.const 6)
  (func (export "pair_to_top") (param i32) (result i32 i32)
    ;; a two-value branch to the function's label
    i32.const 1
    i32.const 2
    local.get 0
    br_if 0
    drop
    drop
    i32.const 3
    i32.const 4))
