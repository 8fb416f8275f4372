#pragma once
// Lists a .wasm module's imports and exports with their function types, straight from the
// binary (the type, import, function and export sections; everything else skipped), for the
// plugin tests to hand to plugin::abi::check_interface without an engine. A truncated or
// malformed module is an error, never a crash. The plugin host will list them through its
// engine (libs/wasm); this reader exists so the SDK's tests need none.

#include <cstdint>
#include <span>
#include <string>

#include <weft/base/result.hh>
#include <weft/plugin/abi.hh>

namespace weft::plugin::test {

result<abi::module_interface> read_wasm_interface(std::span<const std::uint8_t> bytes);
result<abi::module_interface> read_wasm_interface_file(const std::string& path);

}  // namespace weft::plugin::test
