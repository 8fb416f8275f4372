;; start.wat — a start function that never ends: instantiation must stop it.
(module
  (func $forever (loop $l br $l))
  (start $forever))
