// wasm_host.cc — see wasm_host.hh. C++17: wabt's headers do not compile as C++20.
#include "wasm_host.hh"

#include <fstream>
#include <iterator>
#include <map>

#include <wabt/binary-reader.h>
#include <wabt/error-formatter.h>
#include <wabt/feature.h>
#include <wabt/interp/binary-reader-interp.h>
#include <wabt/interp/interp.h>

namespace weft::microhnsw {

namespace wi = wabt::interp;

struct wasm_instance::impl {
    wi::Store store;
    wi::Instance::Ptr instance;
    wi::Memory::Ptr memory;
    std::map<std::string, wi::Func::Ptr> funcs;
    std::vector<std::string> imports;
    std::vector<std::string> function_exports;
    std::unique_ptr<wi::Thread> thread;
};

wasm_instance::wasm_instance(std::unique_ptr<impl> p) : _impl(std::move(p)) {}
wasm_instance::~wasm_instance() = default;

std::unique_ptr<wasm_instance> wasm_instance::load(const std::string& path, std::string& error) {
    auto failed = [&](const std::string& why) {
        error = "Failed to load wasm module '" + path + "': " + why;
        return nullptr;
    };
    std::ifstream in(path, std::ios::binary);
    if (!in) return failed("cannot open it");
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) return failed("read error");

    auto p = std::make_unique<impl>();
    wabt::Errors errors;
    wi::ModuleDesc desc;
    wabt::Features features;
    wabt::ReadBinaryOptions options(features, /*log_stream=*/nullptr, /*read_debug_names=*/false,
                                    /*stop_on_first_error=*/true, /*fail_on_custom_section_error=*/true);
    if (wabt::Failed(wi::ReadBinaryInterp(path, bytes.data(), bytes.size(), options, &errors, &desc)))
        return failed(errors.empty() ? "invalid module" : errors.front().message);
    for (const auto& imp : desc.imports) p->imports.push_back(imp.type.module + "." + imp.type.name);
    if (!p->imports.empty()) return failed("it imports '" + p->imports.front() + "' and this host provides no imports");

    auto module = wi::Module::New(p->store, desc);
    wi::Trap::Ptr trap;
    p->instance = wi::Instance::Instantiate(p->store, module.ref(), {}, &trap);
    if (!p->instance) return failed(trap ? trap->message() : "instantiation failed");

    for (size_t i = 0; i < desc.exports.size(); ++i) {
        const auto& ex = desc.exports[i];
        wi::Ref ref = p->instance->exports()[i];
        if (ex.type.type->kind == wabt::ExternalKind::Func) {
            p->funcs[ex.type.name] = p->store.UnsafeGet<wi::Func>(ref);
            p->function_exports.push_back(ex.type.name);
        } else if (ex.type.type->kind == wabt::ExternalKind::Memory && !p->memory) {
            p->memory = p->store.UnsafeGet<wi::Memory>(ref);
        }
    }
    if (!p->memory) return failed("it exports no memory");
    p->thread = std::make_unique<wi::Thread>(p->store);
    return std::unique_ptr<wasm_instance>(new wasm_instance(std::move(p)));
}

const std::vector<std::string>& wasm_instance::imports() const { return _impl->imports; }
const std::vector<std::string>& wasm_instance::function_exports() const { return _impl->function_exports; }

wasm_call wasm_instance::call(const std::string& name, std::initializer_list<uint32_t> args) {
    wasm_call out;
    auto it = _impl->funcs.find(name);
    if (it == _impl->funcs.end()) {
        out.error = "Failed to call wasm export '" + name + "': no such function";
        return out;
    }
    wi::Func& f = *it->second;
    const wi::FuncType& type = f.type();
    if (type.params.size() != args.size() || type.results.size() != 1 || type.results[0] != wabt::Type::I32) {
        out.error = "Failed to call wasm export '" + name + "': signature does not match";
        return out;
    }
    wi::Values params;
    for (uint32_t a : args) params.push_back(wi::Value::Make(a));
    wi::Values results;
    wi::Trap::Ptr trap;
    if (wabt::Failed(f.Call(*_impl->thread, params, results, &trap))) {
        out.error = "Failed to call wasm export '" + name + "': " + (trap ? trap->message() : "trap");
        return out;
    }
    out.value = results.at(0).Get<uint32_t>();
    return out;
}

uint8_t* wasm_instance::memory() { return _impl->memory->UnsafeData(); }
size_t wasm_instance::memory_size() { return _impl->memory->ByteSize(); }

}  // namespace weft::microhnsw
