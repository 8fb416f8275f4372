;; A well-formed module; its manifest (lying_entry.toml) names 'bin/missing.wasm' as its
;; entry, which the plugin folder does not hold. load_manifest must refuse the folder.
(module
  (memory (export "memory") 1)
  (func (export "weft_abi_version") (result i32) (i32.const 1))
  (func (export "weft_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "weft_free") (param i32 i32))
  (func (export "run") (param i32 i32) (result i32) (i32.const 0)))
