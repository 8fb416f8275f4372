#pragma once
/// Running untrusted WebAssembly inside a weft process: load a module from bytes, see what
/// it imports and exports, instantiate it with exactly the host functions the caller grants
/// (no ambient WASI, nothing else), call its exports with integer arguments, and read or
/// write its linear memory with bounds checks, all under limits (memory pages, an
/// instruction budget, call depth). Every failure, a trap included, is a typed weft::error
/// (domain "weft.wasm", codes in weft::wasm::errc), never a crash of the host.
///
/// Engines, modules and instances are not thread-safe: an instance is used from one thread at
/// a time, and host functions must not call back into the instance that called them.
///
/// The API is engine-neutral; `engine::create(engine_kind::interpreter)` gives wabt's
/// interpreter, the engine weft ships (docs/architecture.md "WASM engine" says why).
///
///   auto eng = wasm::engine::create(wasm::engine_kind::interpreter);
///   auto mod = eng->load(bytes, {.name = "echo.wasm"});
///   std::vector<wasm::host_function> host{{"env", "log", {{i32, i32}, {}},
///       [&](wasm::host_call& c) -> result<std::vector<wasm::value>> {
///         auto text = c.memory.read_string(c.args[0].as_u32(), c.args[1].as_u32());
///         if (!text) return text.take_error();
///         …; return std::vector<wasm::value>{}; }}};
///   auto inst = eng->instantiate(**mod, host, {.max_memory_pages = 64, .fuel = 10'000'000});
///   auto r = (*inst)->call("run", {{wasm::value::i32(7)}});  // r.err().code == "TrapOutOfBounds", …

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <weft/base/result.hh>
#include <weft/wasm/types.hh>

namespace weft::wasm {

/// Error codes (weft::error::code) of the domain "weft.wasm".
namespace errc {
inline constexpr std::string_view domain = "weft.wasm";
/// Not WebAssembly, truncated, malformed, failing validation, or using a feature weft does
/// not enable (threads, tail calls, exceptions, memory64, multi-memory).
inline constexpr std::string_view invalid_module = "InvalidModule";
/// The binary is larger than load_limits::max_module_bytes.
inline constexpr std::string_view too_large = "TooLarge";
/// An import the host does not provide (the message names module.field).
inline constexpr std::string_view missing_import = "MissingImport";
/// An import provided with another signature.
inline constexpr std::string_view import_mismatch = "ImportMismatch";
inline constexpr std::string_view no_such_export = "NoSuchExport";
/// Arguments that do not match the export's parameters, or a signature with types that
/// cannot cross the host boundary (v128, references).
inline constexpr std::string_view bad_signature = "BadSignature";
/// The module asks for more than the limits allow before running (initial memory).
inline constexpr std::string_view limit_exceeded = "LimitExceeded";
/// The host read or wrote outside the instance's linear memory.
inline constexpr std::string_view out_of_bounds = "OutOfBounds";
/// The instance trapped before; its state is not trusted any more: instantiate again.
inline constexpr std::string_view poisoned = "Poisoned";
/// A call into an instance while a call into it is running (from a host function).
inline constexpr std::string_view reentered = "Reentered";
// Traps: the running code was stopped.
inline constexpr std::string_view trap_out_of_bounds = "TrapOutOfBounds";
inline constexpr std::string_view trap_unreachable = "TrapUnreachable";
inline constexpr std::string_view trap_stack_exhausted = "TrapStackExhausted";
inline constexpr std::string_view trap_budget_exhausted = "TrapBudgetExhausted";
inline constexpr std::string_view trap_memory_limit = "TrapMemoryLimit";
inline constexpr std::string_view trap_divide_by_zero = "TrapDivideByZero";
inline constexpr std::string_view trap_integer_overflow = "TrapIntegerOverflow";
inline constexpr std::string_view trap_invalid_conversion = "TrapInvalidConversion";
inline constexpr std::string_view trap_indirect_call = "TrapIndirectCall";
/// A host function returned an error; the message carries it.
inline constexpr std::string_view trap_host = "TrapHost";
inline constexpr std::string_view trap_other = "Trap";
}  // namespace errc

/// True for the errors that mean "the code was stopped" (the Trap* codes).
bool is_trap(const error& e);

/// Bounds-checked access to an instance's linear memory. Valid until the next call into the
/// instance (memory.grow may move it). Offsets are the module's i32 pointers.
class memory_ref {
 public:
  memory_ref() = default;
  memory_ref(std::uint8_t* data, std::uint64_t size) : _data(data), _size(size) {}

  std::uint64_t size() const { return _size; }
  /// [offset, offset + length) when it lies inside the memory, else OutOfBounds.
  result<std::span<std::uint8_t>> span(std::uint64_t offset, std::uint64_t length) const;
  status read(std::uint64_t offset, std::span<std::uint8_t> out) const;
  status write(std::uint64_t offset, std::span<const std::uint8_t> in) const;
  /// `length` bytes at `offset` as a string; refused above `max_length` (a limit the
  /// caller names, so a module cannot make the host copy its whole memory).
  result<std::string> read_string(std::uint64_t offset, std::uint64_t length,
                                  std::uint64_t max_length = 1u << 20) const;

 private:
  std::uint8_t* _data = nullptr;
  std::uint64_t _size = 0;
};

/// What a host function receives: its arguments (types as declared) and the calling
/// instance's memory.
struct host_call {
  std::span<const value> args;
  memory_ref memory;
};

/// A host function returns its results (as many and of the types declared) or an error,
/// which traps the calling wasm code (TrapHost) with the error's message.
using host_fn = std::function<result<std::vector<value>>(host_call&)>;

/// One function granted to an instance as the import `module.field`.
struct host_function {
  std::string module;
  std::string field;
  func_type type;
  host_fn fn;
};

struct load_options {
  /// Names the module in messages ("Failed to load WASM module 'echo.wasm': …").
  std::string name = "module";
  load_limits limits;
  /// Insert the metering code (instruction budget, call depth, memory cap). Off only to
  /// measure its cost: an unmetered instance is not bounded by `limits`.
  bool meter = true;
};

/// A loaded, validated module; immutable, shareable between instances of its engine.
class module {
 public:
  virtual ~module() = default;
  virtual const std::string& name() const = 0;
  virtual std::span<const import_desc> imports() const = 0;
  virtual std::span<const export_desc> exports() const = 0;
  virtual bool metered() const = 0;
};

/// A running module: its own memory, globals and tables.
class instance {
 public:
  virtual ~instance() = default;
  /// Calls the exported function `name`. A trap returns its Trap* error and leaves the
  /// instance Poisoned; other errors (NoSuchExport, BadSignature) leave it usable.
  virtual result<std::vector<value>> call(std::string_view name, std::span<const value> args) = 0;
  /// The instance's linear memory (size 0 when it has none).
  virtual memory_ref memory() = 0;
  /// Fuel the last call consumed (an upper bound of the instructions it executed).
  virtual std::uint64_t fuel_used() const = 0;
  virtual const class module& module() const = 0;
};

enum class engine_kind : std::uint8_t {
  /// wabt's interpreter (Debian's libwabt.a), in process.
  interpreter = 1,
};

class engine {
 public:
  static std::unique_ptr<engine> create(engine_kind kind);
  virtual ~engine() = default;
  virtual engine_kind kind() const = 0;
  virtual std::string_view name() const = 0;

  /// Reads and validates a module (InvalidModule, TooLarge).
  virtual result<std::shared_ptr<const module>> load(std::span<const std::uint8_t> bytes,
                                                     const load_options& options = {}) = 0;
  /// Instantiates `m` with the host functions in `host` and nothing else, then runs its
  /// start function under `lim`. Fails with MissingImport, ImportMismatch, LimitExceeded or
  /// the start function's trap; messages begin "Failed to instantiate '<name>': ".
  virtual result<std::unique_ptr<instance>> instantiate(const module& m, std::span<const host_function> host,
                                                        const limits& lim = {}) = 0;
};

/// The metered binary of a module (what the engines run), for an ahead-of-time compiler
/// such as wasm2c that turns it into native code elsewhere (tools/bench/wasm_engines).
result<std::vector<std::uint8_t>> meter(std::span<const std::uint8_t> bytes, const load_options& options = {});

}  // namespace weft::wasm
