;; big_memory.wat — initial memory of 1024 pages (64 MiB), above the default cap.
(module (memory (export "memory") 1024))
