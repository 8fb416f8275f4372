;; big_table.wat — an initial table of 200,000 elements, above the default limit.
(module (table 200000 funcref))
