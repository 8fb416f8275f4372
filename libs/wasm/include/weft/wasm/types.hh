#pragma once
/// The plain descriptions libs/wasm hands out and takes in: value types, a module's imports
/// and exports, values passed to and from calls, and the limits an instance runs under.
///
/// This header is deliberately C++17 and free of weft/base: the translation units that
/// include wabt's headers must be compiled as C++17 (wabt 1.0.32's interp headers do not
/// compile as C++20), and they share these types with the C++20 side.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace weft::wasm {

/// A WebAssembly value type as the API reports it; types weft never passes across the
/// host boundary (v128, references) are listed so a module's signatures can still be shown.
enum class value_type : std::uint8_t {
  i32 = 1,
  i64 = 2,
  f32 = 3,
  f64 = 4,
  v128 = 5,
  funcref = 6,
  externref = 7,
};

/// "i32", "i64", … as in the text format.
const char* type_name(value_type t);

/// A function signature.
struct func_type {
  std::vector<value_type> params;
  std::vector<value_type> results;
  bool operator==(const func_type& o) const { return params == o.params && results == o.results; }
  bool operator!=(const func_type& o) const { return !(*this == o); }
};

/// "(i32, i64) -> (i32)"
std::string to_string(const func_type& t);

enum class extern_kind : std::uint8_t { func = 1, table = 2, memory = 3, global = 4, tag = 5 };

/// "func", "memory", …
const char* kind_name(extern_kind k);

/// One import a module declares: `module.field`, its kind, and for functions the signature.
struct import_desc {
  std::string module;
  std::string field;
  extern_kind kind = extern_kind::func;
  func_type type;  ///< functions only
  /// "env.log"
  std::string qualified() const { return module + "." + field; }
};

/// One export of a module: its name, kind, and for functions the signature.
struct export_desc {
  std::string name;
  extern_kind kind = extern_kind::func;
  func_type type;  ///< functions only
};

/// A value crossing the host boundary. Integers are stored as their two's-complement bits;
/// floats by their bit pattern.
struct value {
  value_type type = value_type::i32;
  std::uint64_t bits = 0;

  static value i32(std::uint32_t v) { return {value_type::i32, v}; }
  static value i64(std::uint64_t v) { return {value_type::i64, v}; }
  std::uint32_t as_u32() const { return static_cast<std::uint32_t>(bits); }
  std::int32_t as_i32() const { return static_cast<std::int32_t>(static_cast<std::uint32_t>(bits)); }
  std::uint64_t as_u64() const { return bits; }
  std::int64_t as_i64() const { return static_cast<std::int64_t>(bits); }
  bool operator==(const value& o) const { return type == o.type && bits == o.bits; }
};

/// What an instance may consume. Every one is enforced by the engine, and running into one
/// ends the call with a typed error (never a crash of the host).
struct limits {
  /// Linear memory cap in 64 KiB pages: a module whose initial memory is larger is refused
  /// at instantiation; memory.grow past it traps ("MemoryLimit"). Default 16 MiB.
  std::uint32_t max_memory_pages = 256;
  /// Instruction budget per call (and for the start function): counted by metering code
  /// inserted at load time (an upper bound of the instructions executed; see
  /// docs/architecture.md "WASM engine"). Spending it traps ("BudgetExhausted").
  std::uint64_t fuel = 100'000'000;
  /// Nested wasm calls allowed below the exported function; deeper recursion traps
  /// ("StackExhausted"). The interpreter's own stack (about 1600 frames) is the hard ceiling.
  std::uint32_t max_call_depth = 1000;
  /// Elements of a table: a module whose initial table is larger is refused at
  /// instantiation (LimitExceeded). Tables never grow (table.grow answers -1).
  std::uint32_t max_table_elements = 100'000;
};

/// What loading accepts.
struct load_limits {
  /// Larger binaries are refused before they are parsed.
  std::size_t max_module_bytes = 16u << 20;
};

}  // namespace weft::wasm
