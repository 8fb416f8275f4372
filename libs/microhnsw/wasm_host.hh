// wasm_host.hh — runs micro_hnsw.wasm (or any module without imports) in the wabt interpreter.
//
// The test and the benchmark need to load a module, write into its linear memory and call
// its i32 exports; this wraps exactly that. The header carries no wabt types so C++20 code
// can include it; wasm_host.cc is compiled as C++17 because wabt's headers need it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace weft::microhnsw {

/// Result of calling an export: `value` when `error` is empty.
struct wasm_call {
    uint32_t value = 0;
    std::string error;
};

/// One instantiated module with its own store; calls reuse one interpreter thread.
class wasm_instance {
  public:
    /// Reads, validates and instantiates the module at `path`. A module that imports
    /// anything is refused (this host provides no imports). On failure returns nullptr and
    /// sets `error` to "Failed to load wasm module '<path>': <reason>".
    static std::unique_ptr<wasm_instance> load(const std::string& path, std::string& error);
    ~wasm_instance();

    /// Imports the module declares, as "module.field" (empty for micro_hnsw.wasm).
    const std::vector<std::string>& imports() const;
    /// Names of the exported functions.
    const std::vector<std::string>& function_exports() const;

    /// Calls export `name` with i32 arguments; it must return one i32. Traps (out-of-bounds
    /// access, unreachable) come back as errors.
    wasm_call call(const std::string& name, std::initializer_list<uint32_t> args);

    /// The exported linear memory. Re-fetch after any call: growing memory moves it.
    uint8_t* memory();
    size_t memory_size();

  private:
    struct impl;
    explicit wasm_instance(std::unique_ptr<impl> p);
    std::unique_ptr<impl> _impl;
};

}  // namespace weft::microhnsw
