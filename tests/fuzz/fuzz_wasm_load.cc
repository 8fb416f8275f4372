// libFuzzer target: loading untrusted WebAssembly (libs/wasm) — wabt's reader and validator,
// the metering rewrite and the interpreter's compile of its output. A plugin's .wasm comes
// from whoever wrote the plugin: loading must never crash, hang or leak, only refuse it
// with a reason. A module that loads is instantiated with nothing granted under tight
// limits and each export taking integers is called with zeros; when the metered calls
// succeed, the same calls on the unmetered module must give the same results (the rewrite
// must not change what a module computes).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include <weft/wasm/engine.hh>

namespace wasm = weft::wasm;

namespace {

bool integers_only(const wasm::func_type& t) {
  for (auto p : t.params)
    if (p != wasm::value_type::i32 && p != wasm::value_type::i64) return false;
  for (auto r : t.results)
    if (r != wasm::value_type::i32 && r != wasm::value_type::i64) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static auto eng = wasm::engine::create(wasm::engine_kind::interpreter);
  std::span<const std::uint8_t> bytes(data, size);
  auto m = eng->load(bytes, {.name = "fuzz.wasm"});
  if (!m) {
    const auto& e = m.err();
    if (e.message.empty() || e.domain != wasm::errc::domain) std::abort();  // a refusal says why
    if (e.message.find("weft bug") != std::string::npos) std::abort();   // the rewrite broke a valid module
    return 0;
  }
  const wasm::limits lim{.max_memory_pages = 16, .fuel = 20'000, .max_call_depth = 64, .max_table_elements = 1000};
  auto metered = eng->instantiate(**m, {}, lim);
  if (!metered) {
    if (metered.err().message.empty()) std::abort();
    return 0;
  }
  // Tables never grow when metered; a module using table.grow (0xfc 0x0f) may differ.
  bool differential = true;
  for (std::size_t i = 0; i + 1 < size; ++i)
    if (data[i] == 0xfc && data[i + 1] == 0x0f) differential = false;

  std::vector<std::pair<std::string, std::vector<wasm::value>>> done;
  for (const auto& ex : (*m)->exports()) {
    if (ex.kind != wasm::extern_kind::func || !integers_only(ex.type)) continue;
    std::vector<wasm::value> args;
    for (auto p : ex.type.params) args.push_back({p, 0});
    auto r = (*metered)->call(ex.name, args);
    if (!r) {
      if (r.err().message.empty()) std::abort();
      break;  // a trap poisons the instance
    }
    if (r->size() != ex.type.results.size()) std::abort();
    done.emplace_back(ex.name, std::move(*r));
  }
  if (!differential || done.empty()) return 0;

  auto plain_mod = eng->load(bytes, {.name = "fuzz.wasm", .meter = false});
  if (!plain_mod) std::abort();  // it loaded metered
  auto plain = eng->instantiate(**plain_mod, {}, lim);
  if (!plain) std::abort();  // its start function ran within the budget when metered
  for (const auto& [name, want] : done) {
    std::vector<wasm::value> args;
    for (const auto& ex : (*plain_mod)->exports())
      if (ex.name == name)
        for (auto p : ex.type.params) args.push_back({p, 0});
    auto r = (*plain)->call(name, args);
    if (!r || *r != want) std::abort();
  }
  return 0;
}
