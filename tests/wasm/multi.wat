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
    i32.const 4)
  (func $leaf (param i32) (result i32)
    ;; leaves by return, by a branch to the function's label, and by falling through
    (if (i32.eq (local.get 0) (i32.const 1)) (then (i32.const 11) (return)))
    (block
      i32.const 12
      (i32.eq (local.get 0) (i32.const 2))
      br_if 1
      drop)
    i32.const 13)
  (func (export "many") (param i32) (result i32)
    ;; n calls in a row to $leaf: the depth counter must come back after each
    (local $sum i32)
    (loop $l
      (local.set $sum (i32.add (local.get $sum) (call $leaf (i32.rem_u (local.get 0) (i32.const 3)))))
      (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))
      br_if $l)
    local.get $sum))
