// meter.cc — reads and validates a module with wabt, describes it, and rewrites it so that
// any engine that runs the result enforces weft's limits (see bridge.hh, prepare()).
// C++17: wabt's headers are included here.
//
// What the rewrite adds (all appended, so the module's own indices do not move):
//  - mutable globals weft:fuel (i64), weft:depth (i32), weft:memory_cap (i32) and
//    weft:grow_refused (i32), exported so the host can set and read them;
//  - at each function entry: depth -= 1 and fuel -= the instruction count of the function's
//    own region; at each loop header: fuel -= the instruction count of the loop's region
//    (its body without nested loops); `unreachable` when either goes negative. Every executed
//    instruction belongs to one region and runs at most once per entry into it, so the
//    fuel spent bounds the instructions executed from above;
//  - the function body wrapped in a block so that every way out (fall-through, `return`,
//    a branch to the function's label) passes one depth += 1;
//  - memory.grow replaced by a call to a helper that traps when the memory would pass
//    weft:memory_cap (recording the pages asked in weft:grow_refused);
//  - table.grow replaced by dropping its operands and answering -1 (tables never grow; their
//    initial size is checked against limits::max_table_elements at instantiation);
//  - the start function removed and exported as weft:start, so the host runs it under the
//    budget after setting the globals.
// Tail calls and exceptions are not enabled features, so no frame is left without passing
// the depth decrement; a trap leaves the counters behind, and the host resets them before
// every call.

#include "bridge.hh"

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

#include <wabt/binary-reader-ir.h>
#include <wabt/binary-reader.h>
#include <wabt/binary-writer.h>
#include <wabt/cast.h>
#include <wabt/feature.h>
#include <wabt/interp/binary-reader-interp.h>
#include <wabt/interp/interp.h>
#include <wabt/ir.h>
#include <wabt/stream.h>
#include <wabt/validator.h>

namespace weft::wasm::detail {
namespace {

using wabt::Expr;
using wabt::ExprList;
using wabt::ExprType;
using wabt::Index;
using wabt::Opcode;

value_type to_value_type(wabt::Type t) {
  switch (t) {
    case wabt::Type::I32: return value_type::i32;
    case wabt::Type::I64: return value_type::i64;
    case wabt::Type::F32: return value_type::f32;
    case wabt::Type::F64: return value_type::f64;
    case wabt::Type::V128: return value_type::v128;
    case wabt::Type::FuncRef: return value_type::funcref;
    default: return value_type::externref;
  }
}

extern_kind to_kind(wabt::ExternalKind k) {
  switch (k) {
    case wabt::ExternalKind::Func: return extern_kind::func;
    case wabt::ExternalKind::Table: return extern_kind::table;
    case wabt::ExternalKind::Memory: return extern_kind::memory;
    case wabt::ExternalKind::Global: return extern_kind::global;
    default: return extern_kind::tag;
  }
}

func_type to_func_type(const wabt::FuncSignature& sig) {
  func_type t;
  for (auto p : sig.param_types) t.params.push_back(to_value_type(p));
  for (auto r : sig.result_types) t.results.push_back(to_value_type(r));
  return t;
}

const wabt::FuncSignature& signature_of(const wabt::Module& m, const wabt::FuncDeclaration& decl) {
  if (decl.has_func_type) {
    if (const wabt::FuncType* ft = m.GetFuncType(decl.type_var)) return ft->sig;
  }
  return decl.sig;
}

std::string first_error(const wabt::Errors& errors, const char* fallback) {
  if (errors.empty()) return fallback;
  const wabt::Error& e = errors.front();
  std::string out = e.message;
  if (e.loc.offset != wabt::kInvalidOffset) out += " (at byte " + std::to_string(e.loc.offset) + ")";
  return out;
}

wabt::Features supported_features() {
  // wabt's defaults: MVP plus mutable globals, saturating conversions, sign extension,
  // SIMD, multi-value, bulk memory and reference types. Said explicitly because metering
  // relies on tail calls, exceptions, threads, memory64 and multi-memory being off.
  wabt::Features f;
  f.disable_tail_call();
  f.disable_exceptions();
  f.disable_threads();
  f.disable_memory64();
  f.disable_multi_memory();
  f.disable_function_references();
  f.disable_gc();
  return f;
}

bool known_type(wabt::Type t) {
  switch (t) {
    case wabt::Type::I32:
    case wabt::Type::I64:
    case wabt::Type::F32:
    case wabt::Type::F64:
    case wabt::Type::V128:
    case wabt::Type::FuncRef:
    case wabt::Type::ExternRef: return true;
    default: return false;
  }
}

std::string unknown_type(const ExprList& list);

std::string unknown_type(const wabt::BlockDeclaration& decl, const ExprList& body) {
  for (auto t : decl.sig.param_types)
    if (!known_type(t)) return std::string("type '") + t.GetName() + "' in a block type";
  for (auto t : decl.sig.result_types)
    if (!known_type(t)) return std::string("type '") + t.GetName() + "' in a block type";
  return unknown_type(body);
}

/// The same in instructions: ref.null, typed select, block types.
std::string unknown_type(const ExprList& list) {
  for (const Expr& e : list) {
    std::string bad;
    switch (e.type()) {
      case ExprType::RefNull: {
        wabt::Type t = wabt::cast<wabt::RefNullExpr>(&e)->type;
        if (!known_type(t)) bad = std::string("type '") + t.GetName() + "' in ref.null";
        break;
      }
      case ExprType::Select:
        for (auto t : wabt::cast<wabt::SelectExpr>(&e)->result_type)
          if (!known_type(t)) bad = std::string("type '") + t.GetName() + "' in select";
        break;
      case ExprType::Block: {
        auto* b = wabt::cast<wabt::BlockExpr>(&e);
        bad = unknown_type(b->block.decl, b->block.exprs);
        break;
      }
      case ExprType::Loop: {
        auto* b = wabt::cast<wabt::LoopExpr>(&e);
        bad = unknown_type(b->block.decl, b->block.exprs);
        break;
      }
      case ExprType::If: {
        auto* i = wabt::cast<wabt::IfExpr>(&e);
        bad = unknown_type(i->true_.decl, i->true_.exprs);
        if (bad.empty()) bad = unknown_type(i->false_);
        break;
      }
      default: break;
    }
    if (!bad.empty()) return bad;
  }
  return {};
}

/// A type of a proposal weft does not enable, which wabt's readers let through in places
/// (a table of `(ref …)` elements, found by fuzzing): named, so the module is refused.
std::string unknown_type(const wabt::Module& m) {
  auto name = [](wabt::Type t) { return std::string("type '") + t.GetName() + "'"; };
  for (const wabt::TypeEntry* te : m.types)
    if (auto* ft = wabt::dyn_cast<wabt::FuncType>(te)) {
      for (auto t : ft->sig.param_types)
        if (!known_type(t)) return name(t) + " in a function signature";
      for (auto t : ft->sig.result_types)
        if (!known_type(t)) return name(t) + " in a function signature";
    }
  for (const wabt::Table* t : m.tables)
    if (!known_type(t->elem_type)) return name(t->elem_type) + " as a table's element type";
  for (const wabt::Global* g : m.globals)
    if (!known_type(g->type)) return name(g->type) + " as a global's type";
  for (const wabt::Func* f : m.funcs)
    for (const auto& decl : f->local_types.decls())
      if (!known_type(decl.first)) return name(decl.first) + " as a local's type";
  for (const wabt::Func* f : m.funcs)
    if (std::string bad = unknown_type(f->exprs); !bad.empty()) return bad;
  return {};
}

/// Reads an unsigned LEB128 of at most 32 bits at `p`; false past `end` or when too long.
bool read_u32(const std::uint8_t*& p, const std::uint8_t* end, std::uint32_t& out) {
  std::uint64_t v = 0;
  for (int shift = 0; shift < 35; shift += 7) {
    if (p == end) return false;
    std::uint8_t b = *p++;
    v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      if (v > 0xffffffffu) return false;
      out = static_cast<std::uint32_t>(v);
      return true;
    }
  }
  return false;
}

/// The counts a module declares, checked against the bytes there are before wabt sees
/// them: its readers reserve memory for a declared count up front (a 50-byte module with
/// a data count of 2^32 - 16 made the interpreter's reader ask for 120 GB; found by
/// fuzzing). Every entry of a vector section takes at least one byte, and every data
/// segment at least three, so larger counts are lies. Empty when fine.
std::string implausible_counts(const std::uint8_t* data, std::size_t size) {
  const std::uint8_t* p = data + 8;
  const std::uint8_t* end = data + size;
  while (p < end) {
    const std::uint8_t id = *p++;
    std::uint32_t len = 0;
    if (!read_u32(p, end, len) || len > static_cast<std::size_t>(end - p)) return {};  // wabt names it
    const std::uint8_t* body = p;
    p += len;
    std::uint32_t count = 0;
    if (id == 0 || id > 13 || !read_u32(body, p, count)) continue;
    const std::uint64_t room = id == 12 ? size / 3 : static_cast<std::uint64_t>(p - body);
    if (count > room)
      return "section " + std::to_string(id) + " declares " + std::to_string(count) + " entries in " +
             std::to_string(id == 12 ? size : len) + " bytes";
    if (id == 10) {
      // Code: each body's local declarations, whose counts the interpreter also trusts.
      for (std::uint32_t f = 0; f < count; ++f) {
        std::uint32_t body_len = 0, groups = 0;
        if (!read_u32(body, p, body_len) || body_len > static_cast<std::size_t>(p - body)) break;
        const std::uint8_t* next = body + body_len;
        std::uint64_t locals = 0;
        if (read_u32(body, next, groups))
          for (std::uint32_t g = 0; g < groups; ++g) {
            std::uint32_t n = 0;
            if (!read_u32(body, next, n) || body == next) break;
            ++body;  // the type
            locals += n;
          }
        if (locals > 50'000)
          return "function " + std::to_string(f) + " declares " + std::to_string(locals) +
                 " locals (the limit is 50000)";
        body = next;
      }
    }
  }
  return {};
}

// ---- building instruction sequences

struct globals {
  Index fuel, depth, cap, grow;
};

wabt::Var var(Index i) { return wabt::Var(i, wabt::Location()); }

template <class T, class... Args>
void add(ExprList& l, Args&&... args) {
  l.push_back(std::make_unique<T>(std::forward<Args>(args)...));
}

/// `if <condition on the stack> unreachable end`
void trap_if(ExprList& l) {
  auto e = std::make_unique<wabt::IfExpr>();
  add<wabt::UnreachableExpr>(e->true_.exprs);
  l.push_back(std::move(e));
}

/// fuel -= cost; if fuel < 0: trap
ExprList charge(const globals& g, std::uint64_t cost) {
  ExprList l;
  add<wabt::GlobalGetExpr>(l, var(g.fuel));
  add<wabt::ConstExpr>(l, wabt::Const::I64(cost));
  add<wabt::BinaryExpr>(l, Opcode::I64Sub);
  add<wabt::GlobalSetExpr>(l, var(g.fuel));
  add<wabt::GlobalGetExpr>(l, var(g.fuel));
  add<wabt::ConstExpr>(l, wabt::Const::I64(0));
  add<wabt::CompareExpr>(l, Opcode::I64LtS);
  trap_if(l);
  return l;
}

/// depth -= 1; fuel -= cost; if depth < 0 | fuel < 0: trap
ExprList enter(const globals& g, std::uint64_t cost) {
  ExprList l;
  add<wabt::GlobalGetExpr>(l, var(g.depth));
  add<wabt::ConstExpr>(l, wabt::Const::I32(1));
  add<wabt::BinaryExpr>(l, Opcode::I32Sub);
  add<wabt::GlobalSetExpr>(l, var(g.depth));
  add<wabt::GlobalGetExpr>(l, var(g.fuel));
  add<wabt::ConstExpr>(l, wabt::Const::I64(cost));
  add<wabt::BinaryExpr>(l, Opcode::I64Sub);
  add<wabt::GlobalSetExpr>(l, var(g.fuel));
  add<wabt::GlobalGetExpr>(l, var(g.depth));
  add<wabt::ConstExpr>(l, wabt::Const::I32(0));
  add<wabt::CompareExpr>(l, Opcode::I32LtS);
  add<wabt::GlobalGetExpr>(l, var(g.fuel));
  add<wabt::ConstExpr>(l, wabt::Const::I64(0));
  add<wabt::CompareExpr>(l, Opcode::I64LtS);
  add<wabt::BinaryExpr>(l, Opcode::I32Or);
  trap_if(l);
  return l;
}

/// depth += 1
ExprList leave(const globals& g) {
  ExprList l;
  add<wabt::GlobalGetExpr>(l, var(g.depth));
  add<wabt::ConstExpr>(l, wabt::Const::I32(1));
  add<wabt::BinaryExpr>(l, Opcode::I32Add);
  add<wabt::GlobalSetExpr>(l, var(g.depth));
  return l;
}

/// Instructions of a region: the list and its nested blocks and ifs, but not the bodies of
/// nested loops (each is a region of its own, charged at its header). At least 1.
std::uint64_t region_cost(const ExprList& list) {
  std::uint64_t n = 0;
  for (const Expr& e : list) {
    ++n;
    switch (e.type()) {
      case ExprType::Block: n += region_cost(wabt::cast<wabt::BlockExpr>(&e)->block.exprs); break;
      case ExprType::If: {
        auto* i = wabt::cast<wabt::IfExpr>(&e);
        n += region_cost(i->true_.exprs) + region_cost(i->false_);
        break;
      }
      default: break;
    }
  }
  return n == 0 ? 1 : n;
}

struct rewriter {
  const globals& g;
  Index grow_func;  // kInvalidIndex: the module has no memory

  /// `depth`: how many labels lie between an instruction of `list` and the body's wrapper
  /// block (0 directly inside it).
  void rewrite(ExprList& list, Index depth) {
    for (auto it = list.begin(); it != list.end(); ++it) {
      switch (it->type()) {
        case ExprType::Return: {
          auto next = list.erase(it);
          it = list.insert(next, std::make_unique<wabt::BrExpr>(var(depth)));
          break;
        }
        case ExprType::TableGrow: {
          // Tables never grow: drop the operands and answer -1, as a refused grow does.
          auto next = list.erase(it);
          list.insert(next, std::make_unique<wabt::DropExpr>());
          list.insert(next, std::make_unique<wabt::DropExpr>());
          it = list.insert(next, std::make_unique<wabt::ConstExpr>(wabt::Const::I32(0xffffffffu)));
          break;
        }
        case ExprType::MemoryGrow: {
          auto next = list.erase(it);
          it = list.insert(next, std::make_unique<wabt::CallExpr>(var(grow_func)));
          break;
        }
        case ExprType::Block: rewrite(wabt::cast<wabt::BlockExpr>(&*it)->block.exprs, depth + 1); break;
        case ExprType::If: {
          auto* i = wabt::cast<wabt::IfExpr>(&*it);
          rewrite(i->true_.exprs, depth + 1);
          rewrite(i->false_, depth + 1);
          break;
        }
        case ExprType::Loop: {
          ExprList& body = wabt::cast<wabt::LoopExpr>(&*it)->block.exprs;
          rewrite(body, depth + 1);
          ExprList head = charge(g, region_cost(body));
          body.splice(body.begin(), head);
          break;
        }
        default: break;
      }
    }
  }
};

/// The index of a function type with this signature, added when the module has none.
Index type_index(wabt::Module& m, const wabt::FuncSignature& sig) {
  Index i = m.GetFuncTypeIndex(sig);
  if (i != wabt::kInvalidIndex) return i;
  auto field = std::make_unique<wabt::TypeModuleField>();
  auto ft = std::make_unique<wabt::FuncType>();
  ft->sig = sig;
  field->type = std::move(ft);
  m.AppendField(std::move(field));
  return static_cast<Index>(m.types.size() - 1);
}

Index add_global(wabt::Module& m, wabt::Type type, const char* export_name) {
  auto field = std::make_unique<wabt::GlobalModuleField>();
  field->global.type = type;
  field->global.mutable_ = true;
  if (type == wabt::Type::I64)
    add<wabt::ConstExpr>(field->global.init_expr, wabt::Const::I64(0));
  else
    add<wabt::ConstExpr>(field->global.init_expr, wabt::Const::I32(0));
  m.AppendField(std::move(field));
  Index index = static_cast<Index>(m.globals.size() - 1);
  auto ex = std::make_unique<wabt::ExportModuleField>();
  ex->export_.name = export_name;
  ex->export_.kind = wabt::ExternalKind::Global;
  ex->export_.var = var(index);
  m.AppendField(std::move(ex));
  return index;
}

/// (func (param $delta i32) (result i32)
///   if size + delta > cap (in i64): grow_refused = delta; unreachable
///   memory.grow delta)
Index add_grow_helper(wabt::Module& m, const globals& g) {
  auto field = std::make_unique<wabt::FuncModuleField>();
  wabt::Func& f = field->func;
  f.decl.sig.param_types = {wabt::Type::I32};
  f.decl.sig.result_types = {wabt::Type::I32};
  f.decl.has_func_type = true;
  f.decl.type_var = var(type_index(m, f.decl.sig));
  ExprList& l = f.exprs;
  add<wabt::MemorySizeExpr>(l, var(0));
  add<wabt::ConvertExpr>(l, Opcode::I64ExtendI32U);
  add<wabt::LocalGetExpr>(l, var(0));
  add<wabt::ConvertExpr>(l, Opcode::I64ExtendI32U);
  add<wabt::BinaryExpr>(l, Opcode::I64Add);
  add<wabt::GlobalGetExpr>(l, var(g.cap));
  add<wabt::ConvertExpr>(l, Opcode::I64ExtendI32U);
  add<wabt::CompareExpr>(l, Opcode::I64GtU);
  auto refuse = std::make_unique<wabt::IfExpr>();
  add<wabt::LocalGetExpr>(refuse->true_.exprs, var(0));
  add<wabt::GlobalSetExpr>(refuse->true_.exprs, var(g.grow));
  add<wabt::UnreachableExpr>(refuse->true_.exprs);
  l.push_back(std::move(refuse));
  add<wabt::LocalGetExpr>(l, var(0));
  add<wabt::MemoryGrowExpr>(l, var(0));
  m.AppendField(std::move(field));
  return static_cast<Index>(m.funcs.size() - 1);
}

void meter_module(wabt::Module& m, bool has_memory) {
  globals g{};
  g.fuel = add_global(m, wabt::Type::I64, fuel_export);
  g.depth = add_global(m, wabt::Type::I32, depth_export);
  g.cap = add_global(m, wabt::Type::I32, memory_cap_export);
  g.grow = add_global(m, wabt::Type::I32, grow_refused_export);

  const Index first_defined = m.num_func_imports;
  const Index defined_end = static_cast<Index>(m.funcs.size());
  rewriter rw{g, has_memory ? add_grow_helper(m, g) : wabt::kInvalidIndex};

  for (Index i = first_defined; i < defined_end; ++i) {
    wabt::Func& f = *m.funcs[i];
    std::uint64_t cost = region_cost(f.exprs);
    rw.rewrite(f.exprs, 0);
    auto wrapper = std::make_unique<wabt::BlockExpr>();
    wrapper->block.decl.sig.result_types = signature_of(m, f.decl).result_types;
    if (wrapper->block.decl.sig.result_types.size() > 1) type_index(m, wrapper->block.decl.sig);
    wrapper->block.exprs.swap(f.exprs);
    ExprList body = enter(g, cost);
    body.push_back(std::move(wrapper));
    ExprList out = leave(g);
    body.splice(body.end(), out);
    f.exprs.swap(body);
  }

  // The start function runs when the host says so, under the budget.
  for (auto it = m.fields.begin(); it != m.fields.end(); ++it) {
    if (auto* start = wabt::dyn_cast<wabt::StartModuleField>(&*it)) {
      wabt::Var target = start->start;
      m.fields.erase(it);
      m.starts.clear();
      auto ex = std::make_unique<wabt::ExportModuleField>();
      ex->export_.name = start_export;
      ex->export_.kind = wabt::ExternalKind::Func;
      ex->export_.var = target;
      m.AppendField(std::move(ex));
      break;
    }
  }
}

}  // namespace

bool prepare(const std::uint8_t* data, std::size_t size, const std::string& name, bool meter,
             prepared_module& out, failure& err) {
  auto invalid = [&](const std::string& why) {
    err = {code::invalid_module, "Failed to load WASM module '" + name + "': " + why};
    return false;
  };
  if (size < 8 || std::memcmp(data, "\0asm", 4) != 0) return invalid("not a WebAssembly binary (no \\0asm magic)");

  if (std::string lie = implausible_counts(data, size); !lie.empty()) return invalid(lie);

  wabt::Features features = supported_features();
  wabt::Errors errors;
  wabt::ReadBinaryOptions read_options(features, /*log_stream=*/nullptr, /*read_debug_names=*/false,
                                       /*stop_on_first_error=*/true,
                                       /*fail_on_custom_section_error=*/true);
  // Validation first, by the reader that validates as it reads (the interpreter's): wabt's
  // IR reader builds its expression lists unchecked and asserts (aborting the process, as
  // Debian builds it) on some malformed bodies the validator would have refused; it only
  // ever sees valid modules here (tests/fuzz/regressions/wasm/ir-reader-end-assert.wasm).
  {
    wabt::interp::ModuleDesc checked;
    if (wabt::Failed(wabt::interp::ReadBinaryInterp(name.c_str(), data, size, read_options, &errors, &checked)))
      return invalid(first_error(errors, "invalid module"));
  }
  wabt::Module m;
  if (wabt::Failed(wabt::ReadBinaryIr(name.c_str(), data, size, read_options, &errors, &m)))
    return invalid(first_error(errors, "unreadable binary"));
  wabt::ValidateOptions validate_options(features);
  if (wabt::Failed(wabt::ValidateModule(&m, &errors, validate_options)))
    return invalid(first_error(errors, "invalid module"));
  if (std::string t = unknown_type(m); !t.empty()) return invalid("it uses the unsupported " + t);

  out = prepared_module{};
  out.metered = meter;
  for (const wabt::Import* imp : m.imports) {
    import_desc d;
    d.module = imp->module_name;
    d.field = imp->field_name;
    d.kind = to_kind(imp->kind());
    if (auto* fi = wabt::dyn_cast<wabt::FuncImport>(imp)) d.type = to_func_type(signature_of(m, fi->func.decl));
    out.imports.push_back(std::move(d));
  }
  const std::size_t prefix_len = std::strlen(reserved_prefix);
  for (const wabt::Export* ex : m.exports) {
    if (ex->name.compare(0, prefix_len, reserved_prefix) == 0)
      return invalid("export '" + ex->name + "' uses the reserved prefix '" + reserved_prefix + "'");
    export_desc d;
    d.name = ex->name;
    d.kind = to_kind(ex->kind);
    if (ex->kind == wabt::ExternalKind::Func) {
      if (const wabt::Func* f = m.GetFunc(ex->var)) d.type = to_func_type(signature_of(m, f->decl));
    }
    out.exports.push_back(std::move(d));
  }
  out.has_start = !m.starts.empty();
  out.has_memory = !m.memories.empty();
  if (out.has_memory) out.initial_pages = m.memories[0]->page_limits.initial;
  for (const wabt::Table* t : m.tables) out.table_elements = std::max(out.table_elements, t->elem_limits.initial);

  // The engine runs wabt's re-encoding of the module, never the bytes as given, metered
  // or not: wabt 1.0.32 reads some malformed bodies (instructions after the function's
  // final `end`, found by fuzzing) differently in its two readers, and the interpreter
  // compiled the trailing code of the original. Re-encoded, there is one reading.
  out.original.assign(data, data + size);
  if (meter) meter_module(m, out.has_memory);
  wabt::MemoryStream stream;
  wabt::WriteBinaryOptions write_options;
  write_options.features = features;
  if (wabt::Failed(wabt::WriteBinaryModule(&stream, &m, write_options)))
    return invalid("the module could not be written back (a weft bug)");
  out.binary = std::move(stream.output_buffer().data);
  return true;
}

}  // namespace weft::wasm::detail

namespace weft::wasm::detail {

std::string roundtrip_failure(const std::vector<std::uint8_t>& data, const std::string& name) {
  wabt::Features features = supported_features();
  wabt::Errors errors;
  wabt::ReadBinaryOptions read_options(features, /*log_stream=*/nullptr, /*read_debug_names=*/false,
                                       /*stop_on_first_error=*/true, /*fail_on_custom_section_error=*/true);
  wabt::Module m;
  if (wabt::Failed(wabt::ReadBinaryIr(name.c_str(), data.data(), data.size(), read_options, &errors, &m)))
    return first_error(errors, "unreadable");
  wabt::MemoryStream stream;
  wabt::WriteBinaryOptions write_options;
  write_options.features = features;
  if (wabt::Failed(wabt::WriteBinaryModule(&stream, &m, write_options))) return "it cannot be written back";
  const auto& again = stream.output_buffer().data;
  wabt::interp::ModuleDesc desc;
  if (wabt::Failed(wabt::interp::ReadBinaryInterp(name.c_str(), again.data(), again.size(), read_options, &errors,
                                                  &desc)))
    return first_error(errors, "written back, it is refused");
  return {};
}

}  // namespace weft::wasm::detail
