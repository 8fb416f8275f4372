// interp.cc — the interpreter engine: wabt's interp (libwabt.a, Debian's wabt 1.0.32) runs
// the metered module. C++17: wabt's interp headers do not compile as C++20.
//
// One wabt Store per instance, so instances share nothing and an instance's destruction
// frees all it allocated. Limits: the metering globals (meter.cc) are set before every
// call; after a failed call they say which limit ended it, before wabt's trap message is
// looked at.

#include "bridge.hh"

#include <cstring>
#include <limits>
#include <unordered_map>

#include <wabt/binary-reader.h>
#include <wabt/feature.h>
#include <wabt/interp/binary-reader-interp.h>
#include <wabt/interp/interp.h>

namespace weft::wasm::detail {

namespace wi = wabt::interp;

struct interp_module {
  prepared_module info;
  wi::ModuleDesc desc;
};

const prepared_module& interp_description(const interp_module& m) { return m.info; }

std::shared_ptr<const interp_module> interp_load(prepared_module module, const std::string& name,
                                                 failure& err) {
  auto out = std::make_shared<interp_module>();
  wabt::Features features;
  wabt::Errors errors;
  wabt::ReadBinaryOptions options(features, /*log_stream=*/nullptr, /*read_debug_names=*/false,
                                  /*stop_on_first_error=*/true, /*fail_on_custom_section_error=*/true);
  if (wabt::Failed(wi::ReadBinaryInterp(name.c_str(), module.binary.data(), module.binary.size(), options,
                                        &errors, &out->desc))) {
    std::string why = errors.empty() ? "the interpreter refused it" : errors.front().message;
    {
      // wabt reads some malformed modules it cannot write back (found by fuzzing: data
      // segment flags, typed references); only a module that survives wabt's own round
      // trip and not the rewrite is a fault of the rewrite.
      std::string gap = roundtrip_failure(module.original, name);
      why = gap.empty() ? why + (module.metered ? " (after metering: a weft bug)" : " (re-encoded: a weft bug)")
                        : "wabt cannot re-encode it: " + gap;
    }
    err = {code::invalid_module, "Failed to load WASM module '" + name + "': " + why};
    return nullptr;
  }
  module.original.clear();
  module.original.shrink_to_fit();
  module.binary.clear();
  module.binary.shrink_to_fit();
  out->info = std::move(module);
  return out;
}

namespace {

wabt::Type to_wabt(value_type t) {
  switch (t) {
    case value_type::i32: return wabt::Type::I32;
    case value_type::i64: return wabt::Type::I64;
    case value_type::f32: return wabt::Type::F32;
    case value_type::f64: return wabt::Type::F64;
    case value_type::v128: return wabt::Type::V128;
    case value_type::funcref: return wabt::Type::FuncRef;
    case value_type::externref: return wabt::Type::ExternRef;
  }
  return wabt::Type::I32;
}

bool passable(value_type t) {
  return t == value_type::i32 || t == value_type::i64 || t == value_type::f32 || t == value_type::f64;
}

bool passable(const func_type& t) {
  for (auto p : t.params)
    if (!passable(p)) return false;
  for (auto r : t.results)
    if (!passable(r)) return false;
  return true;
}

wi::Value to_interp(value_type t, std::uint64_t bits) {
  switch (t) {
    case value_type::i64: return wi::Value::Make(static_cast<wi::u64>(bits));
    case value_type::f32: {
      auto b = static_cast<std::uint32_t>(bits);
      float f;
      std::memcpy(&f, &b, sizeof f);
      return wi::Value::Make(f);
    }
    case value_type::f64: {
      double d;
      std::memcpy(&d, &bits, sizeof d);
      return wi::Value::Make(d);
    }
    default: return wi::Value::Make(static_cast<wi::u32>(bits));
  }
}

value from_interp(value_type t, const wi::Value& v) {
  switch (t) {
    case value_type::i64: return value{t, v.Get<wi::u64>()};
    case value_type::f32: {
      float f = v.Get<float>();
      std::uint32_t b;
      std::memcpy(&b, &f, sizeof b);
      return value{t, b};
    }
    case value_type::f64: {
      double d = v.Get<double>();
      std::uint64_t b;
      std::memcpy(&b, &d, sizeof b);
      return value{t, b};
    }
    default: return value{t, v.Get<wi::u32>()};
  }
}

wi::ValueTypes to_wabt(const std::vector<value_type>& ts) {
  wi::ValueTypes out;
  for (auto t : ts) out.push_back(to_wabt(t));
  return out;
}

/// wabt's trap messages mapped to weft's kinds; the message itself is kept as detail.
code classify(const std::string& m) {
  auto has = [&](const char* s) { return m.find(s) != std::string::npos; };
  if (has("out of bounds")) return code::trap_out_of_bounds;
  if (has("unreachable")) return code::trap_unreachable;
  if (has("exhausted")) return code::trap_stack_exhausted;
  if (has("divide by zero")) return code::trap_divide_by_zero;
  if (has("integer overflow")) return code::trap_integer_overflow;
  if (has("invalid conversion")) return code::trap_invalid_conversion;
  if (has("indirect call") || has("table") || has("uninitialized")) return code::trap_indirect_call;
  return code::trap_other;
}

const char* trap_words(code c) {
  switch (c) {
    case code::trap_out_of_bounds: return "out of bounds memory access";
    case code::trap_unreachable: return "unreachable executed";
    case code::trap_stack_exhausted: return "call stack exhausted";
    case code::trap_budget_exhausted: return "instruction budget exhausted";
    case code::trap_memory_limit: return "memory limit exceeded";
    case code::trap_divide_by_zero: return "integer divide by zero";
    case code::trap_integer_overflow: return "integer overflow";
    case code::trap_invalid_conversion: return "invalid conversion to integer";
    case code::trap_indirect_call: return "bad indirect call";
    case code::trap_host: return "host function failed";
    default: return "trap";
  }
}

}  // namespace

struct interp_instance::impl {
  // The store first: every RefPtr below must be released before it is destroyed.
  wi::Store store;
  std::shared_ptr<const interp_module> module;
  limits lim;
  wi::Instance::Ptr instance;
  wi::Memory::Ptr memory;
  wi::Global::Ptr fuel, depth, cap, grow;
  std::unordered_map<std::string, wi::Func::Ptr> funcs;
  std::vector<wi::HostFunc::Ptr> host_funcs;
  std::unique_ptr<wi::Thread> thread;
  std::string host_error;
  bool poisoned = false;
  bool running = false;  // a call is in progress (a host function must not call back in)
  std::uint64_t fuel_used = 0;

  impl() : store(wabt::Features{}) {}

  raw_memory memory_view() {
    if (!memory) return {};
    return {memory->UnsafeData(), memory->ByteSize()};
  }

  bool run(const std::string& export_name, const wi::Func::Ptr& f, const std::vector<value>& args,
           std::vector<value>& results, failure& err);
};

interp_instance::interp_instance(std::unique_ptr<impl> p) : _impl(std::move(p)) {}
interp_instance::~interp_instance() {
  // The thread and the objects it references go before the store.
  if (_impl) {
    _impl->thread.reset();
    _impl->funcs.clear();
    _impl->host_funcs.clear();
    _impl->fuel = _impl->depth = _impl->cap = _impl->grow = {};
    _impl->memory = {};
    _impl->instance = {};
  }
}

std::unique_ptr<interp_instance> interp_instance::create(std::shared_ptr<const interp_module> module,
                                                         const std::vector<raw_import>& imports,
                                                         const limits& lim, failure& err) {
  auto p = std::make_unique<impl>();
  p->module = module;
  p->lim = lim;
  const prepared_module& info = module->info;
  auto fail = [&](code c, const std::string& why) {
    err = {c, why};
    return nullptr;
  };

  if (info.has_memory && info.initial_pages > lim.max_memory_pages)
    return fail(code::limit_exceeded, "its initial memory of " + std::to_string(info.initial_pages) +
                                          " pages exceeds the limit of " +
                                          std::to_string(lim.max_memory_pages) + " pages");

  if (info.table_elements > lim.max_table_elements)
    return fail(code::limit_exceeded, "its table of " + std::to_string(info.table_elements) +
                                          " elements exceeds the limit of " +
                                          std::to_string(lim.max_table_elements) + " elements");

  // Every import must be a function the caller provides, with the same signature.
  wi::RefVec import_refs;
  for (const import_desc& want : info.imports) {
    if (want.kind != extern_kind::func)
      return fail(code::missing_import, "import '" + want.qualified() + "' (" + kind_name(want.kind) +
                                            ") is not provided: only functions can be imported");
    const raw_import* have = nullptr;
    for (const raw_import& r : imports)
      if (r.module == want.module && r.field == want.field) have = &r;
    if (!have) return fail(code::missing_import, "import '" + want.qualified() + "' is not provided");
    if (have->type != want.type)
      return fail(code::import_mismatch, "import '" + want.qualified() + "' is " + to_string(want.type) +
                                             " in the module but " + to_string(have->type) + " on the host");
    if (!passable(want.type))
      return fail(code::import_mismatch, "import '" + want.qualified() + "' has a signature " +
                                             to_string(want.type) + " that cannot cross the host boundary");
    impl* self = p.get();
    func_type type = want.type;
    raw_host_fn fn = have->fn;
    std::string qualified = want.qualified();
    auto callback = [self, type, fn, qualified](wi::Thread&, const wi::Values& params, wi::Values& results,
                                                wi::Trap::Ptr* trap) -> wabt::Result {
      value args[16];
      std::vector<value> more;
      value* a = args;
      if (params.size() > 16) {
        more.resize(params.size());
        a = more.data();
      }
      for (std::size_t i = 0; i < params.size(); ++i) a[i] = from_interp(type.params[i], params[i]);
      value res[4];
      std::vector<value> more_res;
      value* r = res;
      if (type.results.size() > 4) {
        more_res.resize(type.results.size());
        r = more_res.data();
      }
      for (std::size_t i = 0; i < type.results.size(); ++i) r[i] = value{type.results[i], 0};
      std::string e = fn(a, params.size(), r, type.results.size(), self->memory_view());
      if (!e.empty()) {
        self->host_error = "host function '" + qualified + "' failed: " + e;
        *trap = wi::Trap::New(self->store, self->host_error);
        return wabt::Result::Error;
      }
      for (std::size_t i = 0; i < type.results.size(); ++i) results[i] = to_interp(type.results[i], r[i].bits);
      return wabt::Result::Ok;
    };
    auto hf = wi::HostFunc::New(p->store, wi::FuncType(to_wabt(type.params), to_wabt(type.results)), callback);
    import_refs.push_back(hf.ref());
    p->host_funcs.push_back(hf);
  }

  auto mod = wi::Module::New(p->store, module->desc);
  wi::Trap::Ptr trap;
  p->instance = wi::Instance::Instantiate(p->store, mod.ref(), import_refs, &trap);
  if (!p->instance) {
    std::string why = trap ? trap->message() : "instantiation failed";
    code c = classify(why);
    return fail(c, std::string("trap: ") + trap_words(c) + " while initialising: " + why);
  }

  const auto& exports = module->desc.exports;
  for (std::size_t i = 0; i < exports.size(); ++i) {
    const auto& ex = exports[i];
    wi::Ref ref = p->instance->exports()[i];
    switch (ex.type.type->kind) {
      case wabt::ExternalKind::Func: p->funcs[ex.type.name] = p->store.UnsafeGet<wi::Func>(ref); break;
      case wabt::ExternalKind::Global: {
        auto g = p->store.UnsafeGet<wi::Global>(ref);
        if (ex.type.name == fuel_export) p->fuel = g;
        else if (ex.type.name == depth_export) p->depth = g;
        else if (ex.type.name == memory_cap_export) p->cap = g;
        else if (ex.type.name == grow_refused_export) p->grow = g;
        break;
      }
      default: break;
    }
  }
  if (!p->instance->memories().empty()) p->memory = p->store.UnsafeGet<wi::Memory>(p->instance->memories()[0]);
  if (p->cap) p->cap->UnsafeSet(wi::Value::Make(static_cast<wi::u32>(lim.max_memory_pages)));
  p->thread = std::make_unique<wi::Thread>(p->store);

  if (info.has_start) {
    std::vector<value> none;
    std::vector<value> results;
    auto it = p->funcs.find(start_export);
    if (info.metered && it != p->funcs.end() && !p->run("start function", it->second, none, results, err))
      return nullptr;
  }
  return std::unique_ptr<interp_instance>(new interp_instance(std::move(p)));
}

bool interp_instance::impl::run(const std::string& export_name, const wi::Func::Ptr& f,
                                const std::vector<value>& args, std::vector<value>& results, failure& err) {
  const wi::FuncType& type = f->type();
  wi::Values params;
  params.reserve(args.size());
  for (const value& a : args) params.push_back(to_interp(a.type, a.bits));
  const std::uint64_t budget =
      std::min<std::uint64_t>(lim.fuel, static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()));
  if (fuel) fuel->UnsafeSet(wi::Value::Make(static_cast<wi::u64>(budget)));
  if (depth) depth->UnsafeSet(wi::Value::Make(static_cast<wi::u32>(
                 std::min<std::uint32_t>(lim.max_call_depth, std::numeric_limits<std::int32_t>::max()))));
  if (grow) grow->UnsafeSet(wi::Value::Make(static_cast<wi::u32>(0)));
  host_error.clear();

  wi::Values out;
  wi::Trap::Ptr trap;
  const bool ok = wabt::Succeeded(f->Call(*thread, params, out, &trap));
  if (fuel) {
    auto left = static_cast<std::int64_t>(fuel->Get().Get<wi::u64>());
    fuel_used = left >= 0 ? budget - static_cast<std::uint64_t>(left) : budget;
  }
  if (ok) {
    results.clear();
    for (std::size_t i = 0; i < out.size(); ++i) {
      value_type t = value_type::i32;
      switch (type.results[i]) {
        case wabt::Type::I64: t = value_type::i64; break;
        case wabt::Type::F32: t = value_type::f32; break;
        case wabt::Type::F64: t = value_type::f64; break;
        default: break;
      }
      results.push_back(from_interp(t, out[i]));
    }
    return true;
  }

  // A trap: say which limit (if any) ended the call, then what wabt saw.
  poisoned = true;
  const std::string detail = trap ? trap->message() : "trap";
  code c;
  std::string what;
  if (!host_error.empty()) {
    c = code::trap_host;
    what = host_error;
  } else if (grow && grow->Get().Get<wi::u32>() != 0) {
    c = code::trap_memory_limit;
    what = "memory.grow by " + std::to_string(grow->Get().Get<wi::u32>()) + " pages from " +
           std::to_string(memory ? memory->PageSize() : 0) + " exceeds the limit of " +
           std::to_string(lim.max_memory_pages) + " pages";
  } else if (fuel && static_cast<std::int64_t>(fuel->Get().Get<wi::u64>()) < 0) {
    c = code::trap_budget_exhausted;
    what = "the budget of " + std::to_string(lim.fuel) + " instructions is spent";
  } else if (depth && static_cast<std::int32_t>(depth->Get().Get<wi::u32>()) < 0) {
    c = code::trap_stack_exhausted;
    what = "more than " + std::to_string(lim.max_call_depth) + " nested calls";
  } else {
    c = classify(detail);
    what = detail;
  }
  err = {c, std::string("trap: ") + trap_words(c) + " in '" + export_name + "': " + what};
  return false;
}

bool interp_instance::call(const std::string& name, const std::vector<value>& args, std::vector<value>& results,
                           failure& err) {
  impl& p = *_impl;
  if (p.running) {
    err = {code::reentered, "a call into the instance is already running (called from a host function?)"};
    return false;
  }
  if (p.poisoned) {
    err = {code::poisoned, "the instance trapped earlier and must be instantiated again"};
    return false;
  }
  auto it = p.funcs.find(name);
  if (it == p.funcs.end() || name.compare(0, std::strlen(reserved_prefix), reserved_prefix) == 0) {
    err = {code::no_such_export, "the module exports no function '" + name + "'"};
    return false;
  }
  const wi::FuncType& type = it->second->type();
  func_type want;
  for (std::size_t i = 0; i < p.module->info.exports.size(); ++i)
    if (p.module->info.exports[i].name == name) want = p.module->info.exports[i].type;
  if (!passable(want)) {
    err = {code::bad_signature, "'" + name + "' is " + to_string(want) + ", which cannot cross the host boundary"};
    return false;
  }
  bool match = args.size() == type.params.size();
  for (std::size_t i = 0; match && i < args.size(); ++i) match = args[i].type == want.params[i];
  if (!match) {
    func_type given;
    for (const value& a : args) given.params.push_back(a.type);
    std::string g = "(";
    for (std::size_t i = 0; i < given.params.size(); ++i) g += std::string(i ? ", " : "") + type_name(given.params[i]);
    g += ")";
    err = {code::bad_signature, "'" + name + "' is " + to_string(want) + " but was called with " + g};
    return false;
  }
  p.running = true;
  const bool ok = p.run(name, it->second, args, results, err);
  p.running = false;
  return ok;
}

raw_memory interp_instance::memory() { return _impl->memory_view(); }
std::uint64_t interp_instance::fuel_used() const { return _impl->fuel_used; }

}  // namespace weft::wasm::detail
