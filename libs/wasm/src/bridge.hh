#pragma once
// The interface between the C++17 translation units that include wabt (meter.cc,
// interp.cc) and the C++20 public API (engine.cc). No wabt types and no weft/base here:
// wabt 1.0.32's interp headers do not compile as C++20, and weft/base does not compile as
// C++17, so failures cross this line as a plain code and message.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <weft/wasm/types.hh>

namespace weft::wasm::detail {

/// Every way loading, instantiating or calling can fail; engine.cc maps each to its
/// error code (weft/wasm/error.hh).
enum class code : int {
  ok = 0,
  invalid_module,
  too_large,
  missing_import,
  import_mismatch,
  no_such_export,
  bad_signature,
  limit_exceeded,
  out_of_bounds,
  poisoned,
  reentered,
  trap_out_of_bounds,
  trap_unreachable,
  trap_stack_exhausted,
  trap_budget_exhausted,
  trap_memory_limit,
  trap_divide_by_zero,
  trap_integer_overflow,
  trap_invalid_conversion,
  trap_indirect_call,
  trap_host,
  trap_other,
};

struct failure {
  code c = code::ok;
  std::string message;
};

/// Names of what metering adds to a module. A module that exports any name starting with
/// "weft:" is refused, so these cannot clash.
inline constexpr const char* reserved_prefix = "weft:";
inline constexpr const char* fuel_export = "weft:fuel";          // i64, counts down per call
inline constexpr const char* depth_export = "weft:depth";        // i32, calls left before StackExhausted
inline constexpr const char* memory_cap_export = "weft:memory_cap";  // i32, pages memory.grow may reach
inline constexpr const char* grow_refused_export = "weft:grow_refused";  // i32, pages asked beyond the cap
inline constexpr const char* start_export = "weft:start";        // the module's start function, run by the host

/// A module read, validated, described and (unless `metered` is false) rewritten with the
/// metering code; `binary` is what an engine runs.
struct prepared_module {
  std::vector<std::uint8_t> binary;
  std::vector<std::uint8_t> original;  ///< the input, kept (metered only) until the engine took `binary`
  std::vector<import_desc> imports;  ///< of the module as given
  std::vector<export_desc> exports;  ///< of the module as given
  bool metered = true;
  bool has_start = false;
  bool has_memory = false;
  std::uint64_t initial_pages = 0;
  std::uint64_t table_elements = 0;  ///< the largest initial table size
};

/// Reads and validates `data`, lists its imports and exports, and inserts the metering
/// code: fuel charged at each function entry and loop header (the instruction count of the
/// region entered), a call-depth counter, memory.grow checked against a cap, table.grow
/// refused, and the start
/// function moved to an export the host calls under the budget. False with `err` set
/// (invalid_module, too_large) on failure.
bool prepare(const std::uint8_t* data, std::size_t size, const std::string& name, bool meter,
             prepared_module& out, failure& err);

/// Whether wabt can read `data`, write it back unchanged (no metering) and read that: when
/// an engine refuses a metered module, this tells wabt's own round-trip gaps (a refusal of
/// the module) from a fault of the rewrite (a weft bug). Empty when it can, else wabt's reason.
std::string roundtrip_failure(const std::vector<std::uint8_t>& data, const std::string& name);

/// Linear memory as a host function sees it during a call.
struct raw_memory {
  std::uint8_t* data = nullptr;
  std::uint64_t size = 0;
};

/// A host function: fills `results`, or returns a non-empty message to trap the caller.
using raw_host_fn = std::function<std::string(const value* args, std::size_t nargs, value* results,
                                              std::size_t nresults, raw_memory memory)>;

struct raw_import {
  std::string module;
  std::string field;
  func_type type;
  raw_host_fn fn;
};

// ---- wabt's interpreter (interp.cc)

struct interp_module;

/// Compiles a prepared module for the interpreter.
std::shared_ptr<const interp_module> interp_load(prepared_module module, const std::string& name,
                                                 failure& err);
const prepared_module& interp_description(const interp_module& m);

/// One instance: its own wabt Store, thread and memory.
class interp_instance {
 public:
  static std::unique_ptr<interp_instance> create(std::shared_ptr<const interp_module> module,
                                                 const std::vector<raw_import>& imports,
                                                 const limits& lim, failure& err);
  ~interp_instance();

  /// Calls export `name`. False with `err` set on a trap or a wrong call; after a trap the
  /// instance refuses further calls (code::poisoned).
  bool call(const std::string& name, const std::vector<value>& args, std::vector<value>& results,
            failure& err);
  raw_memory memory();
  /// Fuel the last call (or the start function) consumed.
  std::uint64_t fuel_used() const;

  struct impl;

 private:
  explicit interp_instance(std::unique_ptr<impl> p);
  std::unique_ptr<impl> _impl;
};

}  // namespace weft::wasm::detail
