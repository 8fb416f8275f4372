;; start_ok.wat — a start function that sets a global the export then reads.
(module
  (global $g (mut i32) (i32.const 0))
  (func $init i32.const 42 global.set $g)
  (start $init)
  (func (export "get") (result i32) global.get $g))
