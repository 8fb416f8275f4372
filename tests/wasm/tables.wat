;; tables.wat — table.grow, which weft never lets succeed (the metering answers -1).
(module
  (table $t 1 funcref)
  (func (export "grow") (result i32)
    ref.null func
    i32.const 1000000
    table.grow $t)
  (func (export "size") (result i32) table.size $t))
