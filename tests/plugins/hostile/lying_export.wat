;; A well-formed module whose manifest (lying_export.toml) names a tool export it does not
;; have ('tool_absent'). The host must refuse to load it; it exports 'run' instead.
(module
  (memory (export "memory") 1)
  (func (export "weft_abi_version") (result i32) (i32.const 1))
  (func (export "weft_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "weft_free") (param i32 i32))
  (func (export "run") (param i32 i32) (result i32) (i32.const 0)))
