#include "wasm_interface.hh"

#include <fstream>
#include <iterator>
#include <vector>

namespace weft::plugin::test {

namespace {

struct reader {
  std::span<const std::uint8_t> b;
  std::size_t at = 0;
  bool bad = false;

  bool done() const { return at >= b.size(); }
  std::uint8_t byte() {
    if (at >= b.size()) {
      bad = true;
      return 0;
    }
    return b[at++];
  }
  std::uint32_t u32() {  // unsigned LEB128, at most 5 bytes
    std::uint32_t v = 0;
    for (int shift = 0; shift < 35; shift += 7) {
      std::uint8_t c = byte();
      if (bad) return 0;
      if (shift == 28 && (c & 0x70)) break;
      v |= std::uint32_t(c & 0x7f) << shift;
      if (!(c & 0x80)) return v;
    }
    bad = true;
    return 0;
  }
  std::string name() {
    std::uint32_t n = u32();
    if (bad || n > b.size() - at) {
      bad = true;
      return {};
    }
    std::string s(reinterpret_cast<const char*>(b.data() + at), n);
    at += n;
    return s;
  }
  void limits() {
    std::uint8_t flags = byte();
    u32();
    if (flags & 1) u32();
  }
};

abi::valtype valtype_of(reader& r) {
  std::uint8_t t = r.byte();
  switch (t) {
    case 0x7f: case 0x7e: case 0x7d: case 0x7c: case 0x7b: case 0x70: case 0x6f: return abi::valtype(t);
    default: r.bad = true; return abi::valtype::i32;
  }
}

}  // namespace

result<abi::module_interface> read_wasm_interface(std::span<const std::uint8_t> bytes) {
  static constexpr std::uint8_t header[] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};
  if (bytes.size() < sizeof header || !std::equal(std::begin(header), std::end(header), bytes.begin()))
    return fail(errc::malformed, "not a WebAssembly 1.0 binary (bad magic or version)");

  std::vector<abi::signature> types;
  std::vector<std::uint32_t> func_types;  // function index space: imports, then definitions
  abi::module_interface mi;
  struct raw_export { std::string name; std::uint8_t kind; std::uint32_t index; };
  std::vector<raw_export> exports;

  reader r{bytes, sizeof header};
  while (!r.done()) {
    std::uint8_t id = r.byte();
    std::uint32_t size = r.u32();
    if (r.bad || size > bytes.size() - r.at) return fail(errc::malformed, "section {} runs past the end", id);
    reader s{bytes.subspan(r.at, size)};
    r.at += size;
    if (id == 1) {  // type
      for (std::uint32_t n = s.u32(); n && !s.bad; --n) {
        if (s.byte() != 0x60) s.bad = true;
        abi::signature sig;
        for (std::uint32_t k = s.u32(); k && !s.bad; --k) sig.params.push_back(valtype_of(s));
        for (std::uint32_t k = s.u32(); k && !s.bad; --k) sig.results.push_back(valtype_of(s));
        types.push_back(std::move(sig));
      }
    } else if (id == 2) {  // import
      for (std::uint32_t n = s.u32(); n && !s.bad; --n) {
        abi::module_interface::import imp;
        imp.module = s.name();
        imp.name = s.name();
        std::uint8_t kind = s.byte();
        switch (kind) {
          case 0: {
            std::uint32_t t = s.u32();
            if (t >= types.size()) return fail(errc::malformed, "import '{}' names type {} of {}", imp.name, t, types.size());
            imp.type = types[t];
            func_types.push_back(t);
            break;
          }
          case 1: valtype_of(s); s.limits(); break;
          case 2: s.limits(); break;
          case 3: valtype_of(s); s.byte(); break;
          case 4: s.byte(); s.u32(); break;
          default: s.bad = true;
        }
        imp.kind = abi::external_kind(kind);
        mi.imports.push_back(std::move(imp));
      }
    } else if (id == 3) {  // function
      for (std::uint32_t n = s.u32(); n && !s.bad; --n) func_types.push_back(s.u32());
    } else if (id == 7) {  // export
      for (std::uint32_t n = s.u32(); n && !s.bad; --n) {
        raw_export e;
        e.name = s.name();
        e.kind = s.byte();
        e.index = s.u32();
        if (e.kind > 4) s.bad = true;
        exports.push_back(std::move(e));
      }
    }
    if (s.bad) return fail(errc::malformed, "section {} is malformed", id);
  }
  if (r.bad) return fail(errc::malformed, "the module is truncated");

  for (auto& e : exports) {
    abi::module_interface::export_ out{e.name, abi::external_kind(e.kind), {}};
    if (out.kind == abi::external_kind::function) {
      if (e.index >= func_types.size() || func_types[e.index] >= types.size())
        return fail(errc::malformed, "export '{}' names function {} of {}", e.name, e.index, func_types.size());
      out.type = types[func_types[e.index]];
    }
    mi.exports.push_back(std::move(out));
  }
  return mi;
}

result<abi::module_interface> read_wasm_interface_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(errc::io, "Failed to open '{}'", path);
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return read_wasm_interface(bytes);
}

}  // namespace weft::plugin::test
