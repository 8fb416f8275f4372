#include <weft/plugin/abi.hh>

#include <algorithm>

#include <fmt/core.h>

namespace weft::plugin::abi {

namespace {
constexpr valtype I32 = valtype::i32;
constexpr valtype I64 = valtype::i64;

const module_interface::export_* find_export(const module_interface& m, std::string_view name) {
  auto it = std::find_if(m.exports.begin(), m.exports.end(), [&](const auto& e) { return e.name == name; });
  return it == m.exports.end() ? nullptr : &*it;
}

std::string_view kind_name(external_kind k) {
  switch (k) {
    case external_kind::function: return "function";
    case external_kind::table: return "table";
    case external_kind::memory: return "memory";
    case external_kind::global: return "global";
    case external_kind::tag: return "tag";
  }
  return "unknown";
}

/// A required function export with its type.
void require_function(const module_interface& m, std::string_view name, const signature& want, std::string_view what,
                      std::vector<std::string>& problems) {
  const auto* e = find_export(m, name);
  if (!e) {
    problems.push_back(fmt::format("the module does not export '{}' ({})", name, what));
  } else if (e->kind != external_kind::function) {
    problems.push_back(fmt::format("export '{}' is a {}, not a function", name, kind_name(e->kind)));
  } else if (e->type != want) {
    problems.push_back(
        fmt::format("export '{}' has type {}; the ABI wants {}", name, to_string(e->type), to_string(want)));
  }
}
}  // namespace

std::optional<std::string_view> error_name(std::int32_t code) {
  switch (code) {
    case -1: return "WEFT_E_INVALID";
    case -2: return "WEFT_E_DENIED";
    case -3: return "WEFT_E_NOT_FOUND";
    case -4: return "WEFT_E_TOO_LARGE";
    case -5: return "WEFT_E_IO";
    case -6: return "WEFT_E_STATE";
    case -7: return "WEFT_E_LIMIT";
    default: return std::nullopt;
  }
}

std::string_view name_of(valtype t) {
  switch (t) {
    case valtype::i32: return "i32";
    case valtype::i64: return "i64";
    case valtype::f32: return "f32";
    case valtype::f64: return "f64";
    case valtype::v128: return "v128";
    case valtype::funcref: return "funcref";
    case valtype::externref: return "externref";
  }
  return "unknown";
}

std::string to_string(const signature& s) {
  auto list = [](const std::vector<valtype>& v) {
    std::string out;
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (i) out += ", ";
      out += name_of(v[i]);
    }
    return out;
  };
  std::string results = s.results.size() == 1 ? std::string(name_of(s.results[0])) : "(" + list(s.results) + ")";
  return "(" + list(s.params) + ") -> " + results;
}

signature signature_of(host_function f) {
  switch (f) {
    case host_function::log: return {{I32, I32, I32}, {I32}};          // level, text, text_len
    case host_function::result: return {{I32, I32, I32}, {I32}};       // data, len, is_error
    case host_function::file_read: return {{I32, I32, I32, I32}, {I32}};  // path, path_len, buf, cap
    case host_function::file_write: return {{I32, I32, I32, I32, I32}, {I32}};  // path, path_len, data, len, flags
    case host_function::http_fetch:  // method, url, headers, body (each ptr, len), buf, cap, status
      return {{I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32}, {I32}};
    case host_function::kv_get: return {{I32, I32, I32, I32}, {I32}};  // key, key_len, buf, cap
    case host_function::kv_put: return {{I32, I32, I32, I32}, {I32}};  // key, key_len, value, value_len
    case host_function::clock: return {{}, {I64}};
  }
  return {};
}

signature tool_signature() { return {{I32, I32}, {I32}}; }
signature abi_version_signature() { return {{}, {I32}}; }
signature alloc_signature() { return {{I32}, {I32}}; }
signature free_signature() { return {{I32, I32}, {}}; }
signature initialize_signature() { return {{}, {}}; }

std::vector<std::string> check_interface(const module_interface& module, const manifest& m,
                                         std::span<const host_function> allowed) {
  std::vector<std::string> problems;
  for (const auto& imp : module.imports) {
    if (imp.module != import_module) {
      problems.push_back(fmt::format("the module imports '{}' from module '{}'; a plugin may import only from '{}'",
                                     imp.name, imp.module, import_module));
      continue;
    }
    if (imp.kind != external_kind::function) {
      problems.push_back(fmt::format("the module imports a {} 'weft.{}'; a plugin may import only functions",
                                     kind_name(imp.kind), imp.name));
      continue;
    }
    auto f = host_function_named(imp.name);
    if (!f) {
      problems.push_back(fmt::format("the module imports 'weft.{}', which is not a weft host function", imp.name));
      continue;
    }
    if (std::find(allowed.begin(), allowed.end(), *f) == allowed.end()) {
      problems.push_back(fmt::format(
          "the module imports host function '{}', which its manifest's permissions.host_functions does not grant",
          imp.name));
      continue;
    }
    if (imp.type != signature_of(*f)) {
      problems.push_back(fmt::format("the module imports 'weft.{}' as {}; the ABI's type is {}", imp.name,
                                     to_string(imp.type), to_string(signature_of(*f))));
    }
  }

  const auto* mem = find_export(module, export_memory);
  if (!mem) {
    problems.push_back("the module does not export its linear memory as 'memory'");
  } else if (mem->kind != external_kind::memory) {
    problems.push_back(fmt::format("export 'memory' is a {}, not a memory", kind_name(mem->kind)));
  }
  require_function(module, export_abi_version, abi_version_signature(), "required by the ABI", problems);
  require_function(module, export_alloc, alloc_signature(), "required by the ABI", problems);
  require_function(module, export_free, free_signature(), "required by the ABI", problems);
  if (find_export(module, export_initialize))
    require_function(module, export_initialize, initialize_signature(), "required by the ABI", problems);
  for (const auto& t : m.tools)
    require_function(module, t.export_name, tool_signature(), fmt::format("the function of tool '{}'", t.name), problems);
  return problems;
}

std::vector<std::string> check_interface(const module_interface& module, const manifest& m) {
  return check_interface(module, m, m.permissions.host_functions);
}

}  // namespace weft::plugin::abi
