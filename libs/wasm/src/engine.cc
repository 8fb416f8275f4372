// engine.cc — the public API (C++20) over the C++17 wabt parts (bridge.hh).

#include <weft/wasm/engine.hh>

#include <algorithm>
#include <cstring>

#include "bridge.hh"

namespace weft::wasm {

const char* type_name(value_type t) {
  switch (t) {
    case value_type::i32: return "i32";
    case value_type::i64: return "i64";
    case value_type::f32: return "f32";
    case value_type::f64: return "f64";
    case value_type::v128: return "v128";
    case value_type::funcref: return "funcref";
    case value_type::externref: return "externref";
  }
  return "?";
}

std::string to_string(const func_type& t) {
  auto list = [](const std::vector<value_type>& ts) {
    std::string s = "(";
    for (std::size_t i = 0; i < ts.size(); ++i) s += std::string(i ? ", " : "") + type_name(ts[i]);
    return s + ")";
  };
  return list(t.params) + " -> " + list(t.results);
}

const char* kind_name(extern_kind k) {
  switch (k) {
    case extern_kind::func: return "func";
    case extern_kind::table: return "table";
    case extern_kind::memory: return "memory";
    case extern_kind::global: return "global";
    case extern_kind::tag: return "tag";
  }
  return "?";
}

bool is_trap(const error& e) { return e.domain == errc::domain && e.code.starts_with("Trap"); }

namespace {

std::string_view code_name(detail::code c) {
  using detail::code;
  switch (c) {
    case code::invalid_module: return errc::invalid_module;
    case code::too_large: return errc::too_large;
    case code::missing_import: return errc::missing_import;
    case code::import_mismatch: return errc::import_mismatch;
    case code::no_such_export: return errc::no_such_export;
    case code::bad_signature: return errc::bad_signature;
    case code::limit_exceeded: return errc::limit_exceeded;
    case code::out_of_bounds: return errc::out_of_bounds;
    case code::poisoned: return errc::poisoned;
    case code::reentered: return errc::reentered;
    case code::trap_out_of_bounds: return errc::trap_out_of_bounds;
    case code::trap_unreachable: return errc::trap_unreachable;
    case code::trap_stack_exhausted: return errc::trap_stack_exhausted;
    case code::trap_budget_exhausted: return errc::trap_budget_exhausted;
    case code::trap_memory_limit: return errc::trap_memory_limit;
    case code::trap_divide_by_zero: return errc::trap_divide_by_zero;
    case code::trap_integer_overflow: return errc::trap_integer_overflow;
    case code::trap_invalid_conversion: return errc::trap_invalid_conversion;
    case code::trap_indirect_call: return errc::trap_indirect_call;
    case code::trap_host: return errc::trap_host;
    case code::ok:
    case code::trap_other: break;
  }
  return errc::trap_other;
}

/// `prefix` + the bridge's message, under the bridge's code.
error to_error(const detail::failure& f, std::string_view prefix = {}) {
  return make_error(errc::domain, code_name(f.c), "{}{}", prefix, f.message);
}

result<detail::prepared_module> prepare(std::span<const std::uint8_t> bytes, const load_options& options) {
  if (bytes.size() > options.limits.max_module_bytes)
    return make_error(errc::domain, errc::too_large,
                      "Failed to load WASM module '{}': {} bytes exceed the limit of {} bytes", options.name,
                      bytes.size(), options.limits.max_module_bytes);
  detail::prepared_module out;
  detail::failure f;
  try {
    if (!detail::prepare(bytes.data(), bytes.size(), options.name, options.meter, out, f)) return to_error(f);
  } catch (const std::exception& e) {  // std::bad_alloc from wabt on a module too large to hold
    return make_error(errc::domain, errc::too_large, "Failed to load WASM module '{}': {}", options.name, e.what());
  }
  return out;
}

class interp_module final : public module {
 public:
  interp_module(std::string name, std::shared_ptr<const detail::interp_module> m)
      : _name(std::move(name)), _m(std::move(m)) {}
  const std::string& name() const override { return _name; }
  std::span<const import_desc> imports() const override { return detail::interp_description(*_m).imports; }
  std::span<const export_desc> exports() const override { return detail::interp_description(*_m).exports; }
  bool metered() const override { return detail::interp_description(*_m).metered; }
  const std::shared_ptr<const detail::interp_module>& compiled() const { return _m; }

 private:
  std::string _name;
  std::shared_ptr<const detail::interp_module> _m;
};

class interp_instance final : public instance {
 public:
  interp_instance(std::shared_ptr<const interp_module> m, std::unique_ptr<detail::interp_instance> i)
      : _m(std::move(m)), _i(std::move(i)) {}

  result<std::vector<value>> call(std::string_view name, std::span<const value> args) override {
    std::vector<value> out;
    detail::failure f;
    if (!_i->call(std::string(name), std::vector<value>(args.begin(), args.end()), out, f))
      return to_error(f, fmt::format("Failed to call '{}' of '{}': ", name, _m->name()));
    return out;
  }
  memory_ref memory() override {
    auto m = _i->memory();
    return {m.data, m.size};
  }
  std::uint64_t fuel_used() const override { return _i->fuel_used(); }
  const class module& module() const override { return *_m; }

 private:
  std::shared_ptr<const interp_module> _m;
  std::unique_ptr<detail::interp_instance> _i;
};

class interp_engine final : public engine {
 public:
  engine_kind kind() const override { return engine_kind::interpreter; }
  std::string_view name() const override { return "wabt-interp"; }

  result<std::shared_ptr<const module>> load(std::span<const std::uint8_t> bytes,
                                             const load_options& options) override {
    auto prepared = prepare(bytes, options);
    if (!prepared) return prepared.take_error();
    detail::failure f;
    std::shared_ptr<const detail::interp_module> compiled;
    try {
      compiled = detail::interp_load(std::move(*prepared), options.name, f);
    } catch (const std::exception& e) {
      return make_error(errc::domain, errc::too_large, "Failed to load WASM module '{}': {}", options.name, e.what());
    }
    if (!compiled) return to_error(f);
    return std::shared_ptr<const module>(std::make_shared<interp_module>(options.name, std::move(compiled)));
  }

  result<std::unique_ptr<instance>> instantiate(const module& m, std::span<const host_function> host,
                                                const limits& lim) override {
    auto* im = dynamic_cast<const interp_module*>(&m);
    if (!im)
      return make_error(errc::domain, errc::invalid_module,
                        "Failed to instantiate '{}': the module was loaded by another engine", m.name());
    std::vector<detail::raw_import> imports;
    imports.reserve(host.size());
    for (const host_function& h : host) {
      host_fn fn = h.fn;
      func_type type = h.type;
      auto raw = [fn, type](const value* args, std::size_t nargs, value* results, std::size_t nresults,
                            detail::raw_memory mem) -> std::string {
        host_call call{std::span<const value>(args, nargs), memory_ref(mem.data, mem.size)};
        auto r = fn(call);
        if (!r) return r.err().message;
        if (r->size() != nresults) return fmt::format("returned {} values, declared {}", r->size(), nresults);
        for (std::size_t i = 0; i < nresults; ++i) {
          if ((*r)[i].type != type.results[i])
            return fmt::format("returned {} as result {}, declared {}", type_name((*r)[i].type), i,
                               type_name(type.results[i]));
          results[i] = (*r)[i];
        }
        return {};
      };
      imports.push_back({h.module, h.field, h.type, std::move(raw)});
    }
    // The instance holds its own handle on the compiled module: the caller may drop `m`.
    auto keep = std::make_shared<const interp_module>(im->name(), im->compiled());
    detail::failure f;
    std::unique_ptr<detail::interp_instance> inst;
    try {
      inst = detail::interp_instance::create(im->compiled(), imports, lim, f);
    } catch (const std::exception& e) {
      return make_error(errc::domain, errc::limit_exceeded, "Failed to instantiate '{}': {}", m.name(), e.what());
    }
    if (!inst) return to_error(f, fmt::format("Failed to instantiate '{}': ", m.name()));
    return std::unique_ptr<instance>(std::make_unique<interp_instance>(std::move(keep), std::move(inst)));
  }
};

}  // namespace

result<std::span<std::uint8_t>> memory_ref::span(std::uint64_t offset, std::uint64_t length) const {
  // No overflow: offset <= _size is checked before the subtraction.
  if (offset > _size || length > _size - offset)
    return make_error(errc::domain, errc::out_of_bounds,
                      "Failed to access {} bytes at offset {} of a linear memory of {} bytes: out of bounds", length,
                      offset, _size);
  return std::span<std::uint8_t>(_data + offset, static_cast<std::size_t>(length));
}

status memory_ref::read(std::uint64_t offset, std::span<std::uint8_t> out) const {
  auto s = span(offset, out.size());
  if (!s) return s.take_error();
  if (!out.empty()) std::memcpy(out.data(), s->data(), out.size());
  return {};
}

status memory_ref::write(std::uint64_t offset, std::span<const std::uint8_t> in) const {
  auto s = span(offset, in.size());
  if (!s) return s.take_error();
  if (!in.empty()) std::memcpy(s->data(), in.data(), in.size());
  return {};
}

result<std::string> memory_ref::read_string(std::uint64_t offset, std::uint64_t length,
                                            std::uint64_t max_length) const {
  if (length > max_length)
    return make_error(errc::domain, errc::out_of_bounds,
                      "Failed to read a string of {} bytes from linear memory: the limit is {} bytes", length,
                      max_length);
  auto s = span(offset, length);
  if (!s) return s.take_error();
  return std::string(reinterpret_cast<const char*>(s->data()), s->size());
}

std::unique_ptr<engine> engine::create(engine_kind kind) {
  switch (kind) {
    case engine_kind::interpreter: return std::make_unique<interp_engine>();
  }
  return nullptr;
}

result<std::vector<std::uint8_t>> meter(std::span<const std::uint8_t> bytes, const load_options& options) {
  auto prepared = prepare(bytes, options);
  if (!prepared) return prepared.take_error();
  return std::move(prepared->binary);
}

}  // namespace weft::wasm
