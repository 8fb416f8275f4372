;; memory_import.wat — asks for the host's memory, which weft never grants.
(module
  (import "env" "memory" (memory 1))
  (func (export "f") (result i32) i32.const 0 i32.load))
