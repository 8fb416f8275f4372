#!/usr/bin/env python3
"""protogen — generates C++ types with msgpack encode/decode from a weft interface schema.

Usage:
  protogen.py SCHEMA.toml OUT.hh OUT.cc         generate code (meson runs this)
  protogen.py --golden DIR SCHEMA.toml...       write DIR/<interface>.<Message>.hex for each
                                                message's test value (run by hand when a
                                                message is added; the unit tests compare
                                                the C++ encoding with these files)

The schema format is described in docs/protocol.md. Only the Python standard library is used.
"""
import re
import struct
import sys
import tomllib
from datetime import datetime, timezone

SCALARS = {
    'bool': 'bool', 'u8': 'std::uint8_t', 'u16': 'std::uint16_t', 'u32': 'std::uint32_t',
    'u64': 'std::uint64_t', 'i32': 'std::int32_t', 'i64': 'std::int64_t', 'f64': 'double',
    'string': 'std::string', 'bytes': 'wire::bytes', 'time': 'utc_time', 'any': 'wire::any',
}
CPP_KEYWORDS = {'class', 'default', 'delete', 'new', 'operator', 'private', 'public', 'template',
                'this', 'throw', 'try', 'union', 'using', 'virtual', 'namespace', 'register',
                'switch', 'case', 'char', 'int', 'long', 'short', 'signed', 'unsigned', 'void',
                'struct', 'enum', 'auto', 'const', 'export', 'friend', 'bool', 'true', 'false'}


class SchemaError(Exception):
    pass


def snake(name):
    s = re.sub(r'(?<=[a-z0-9])([A-Z])', r'_\1', name)
    s = re.sub(r'([A-Z]+)([A-Z][a-z])', r'\1_\2', s)
    return s.lower()


def ident(name):
    return name + '_' if name in CPP_KEYWORDS else name


class Schema:
    def __init__(self, path):
        self.path = path
        with open(path, 'rb') as f:
            try:
                d = tomllib.load(f)
            except tomllib.TOMLDecodeError as e:
                raise SchemaError(f'{path}: {e}')
        self.interface = d.get('interface') or self.fail('missing "interface"')
        m = re.fullmatch(r'io\.weft(?:\.test)?\.([A-Za-z]+)\.v(\d+)', self.interface)
        if not m:
            self.fail(f'interface name {self.interface!r} is not io.weft.<Name>.v<N>')
        self.short = f'{snake(m.group(1))}_v{m.group(2)}'
        self.doc = d.get('doc') or self.fail('missing "doc"')
        self.errors = d.get('errors', [])
        self.enums = d.get('enum', [])
        self.messages = d.get('message', [])
        self.enum_names = {e['name'] for e in self.enums}
        self.message_names = {m['name'] for m in self.messages}
        self.check()

    def fail(self, msg):
        raise SchemaError(f'{self.path}: {msg}')

    def check(self):
        seen = set()
        for e in self.errors:
            for k in ('name', 'value', 'doc'):
                if k not in e:
                    self.fail(f'error {e} lacks {k!r}')
        for en in self.enums:
            if 'doc' not in en:
                self.fail(f'enum {en["name"]} lacks a doc')
            for v in en['values']:
                if 'doc' not in v:
                    self.fail(f'enum value {en["name"]}.{v["name"]} lacks a doc')
        for m in self.messages:
            if m['name'] in seen:
                self.fail(f'message {m["name"]} defined twice')
            seen.add(m['name'])
            if 'doc' not in m:
                self.fail(f'message {m["name"]} lacks a doc')
            if 'test' not in m:
                self.fail(f'message {m["name"]} lacks a test value')
            names = set()
            for f in m.get('fields', []):
                if 'doc' not in f:
                    self.fail(f'field {m["name"]}.{f["name"]} lacks a doc')
                if not re.fullmatch(r'[a-z][a-z0-9_]*', f['name']):
                    self.fail(f'field {m["name"]}.{f["name"]} is not snake_case')
                if f['name'] in names:
                    self.fail(f'field {m["name"]}.{f["name"]} defined twice')
                names.add(f['name'])
                self.cpp_type(f['type'])
            if len(m.get('fields', [])) > 32:
                self.fail(f'message {m["name"]} has more than 32 fields')

    def cpp_type(self, t):
        t = t.strip()
        if t in SCALARS:
            return SCALARS[t]
        mm = re.fullmatch(r'list<(.+)>', t)
        if mm:
            return f'std::vector<{self.cpp_type(mm.group(1))}>'
        mm = re.fullmatch(r'map<(.+)>', t)
        if mm:
            return f'std::map<std::string, {self.cpp_type(mm.group(1))}>'
        if t in self.enum_names or t in self.message_names:
            # Qualified: a field may share its type's name (`kind kind`).
            return f'::weft::proto::{self.short}::{snake(t)}'
        self.fail(f'unknown type {t!r}')


# ---------------------------------------------------------------- test values as C++ literals

def cpp_string(s):
    if isinstance(s, bytes):
        return '"' + ''.join(f'\\x{b:02x}' for b in s) + '"s'
    out = []
    for ch in s.encode('utf-8'):
        c = chr(ch)
        if c in '"\\':
            out.append('\\' + c)
        elif 32 <= ch < 127:
            out.append(c)
        else:
            out.append(f'\\x{ch:02x}""')
    return '"' + ''.join(out) + '"s'


def pack(v):
    """A minimal msgpack encoder for `any` test values (smallest representations)."""
    if v is None:
        return b'\xc0'
    if v is True:
        return b'\xc3'
    if v is False:
        return b'\xc2'
    if isinstance(v, int):
        if 0 <= v < 128:
            return bytes([v])
        if -32 <= v < 0:
            return struct.pack('b', v)
        if 0 <= v < 2**8: return b'\xcc' + struct.pack('>B', v)
        if 0 <= v < 2**16: return b'\xcd' + struct.pack('>H', v)
        if 0 <= v < 2**32: return b'\xce' + struct.pack('>I', v)
        if 0 <= v: return b'\xcf' + struct.pack('>Q', v)
        if v >= -2**7: return b'\xd0' + struct.pack('>b', v)
        if v >= -2**15: return b'\xd1' + struct.pack('>h', v)
        if v >= -2**31: return b'\xd2' + struct.pack('>i', v)
        return b'\xd3' + struct.pack('>q', v)
    if isinstance(v, float):
        return b'\xcb' + struct.pack('>d', v)
    if isinstance(v, str):
        b = v.encode()
        n = len(b)
        if n < 32: return bytes([0xa0 | n]) + b
        if n < 256: return b'\xd9' + bytes([n]) + b
        if n < 65536: return b'\xda' + struct.pack('>H', n) + b
        return b'\xdb' + struct.pack('>I', n) + b
    if isinstance(v, list):
        n = len(v)
        h = bytes([0x90 | n]) if n < 16 else (b'\xdc' + struct.pack('>H', n))
        return h + b''.join(pack(x) for x in v)
    if isinstance(v, dict):
        n = len(v)
        h = bytes([0x80 | n]) if n < 16 else (b'\xde' + struct.pack('>H', n))
        return h + b''.join(pack(k) + pack(x) for k, x in v.items())
    raise SchemaError(f'cannot encode {v!r} as msgpack')


class Gen:
    def __init__(self, s):
        self.s = s

    def literal(self, t, v, where):
        s = self.s
        t = t.strip()
        if t == 'bool':
            return 'true' if v else 'false'
        if t in ('u8', 'u16', 'u32', 'u64'):
            return f'{int(v)}u'
        if t == 'i32':
            return f'{int(v)}'
        if t == 'i64':
            return f'{int(v)}LL'
        if t == 'f64':
            return repr(float(v))
        if t == 'string':
            return cpp_string(v)
        if t == 'bytes':
            b = bytes.fromhex(v)
            return 'wire::bytes{' + ', '.join(str(x) for x in b) + '}'
        if t == 'time':
            dt = datetime.fromisoformat(v.replace('Z', '+00:00')).astimezone(timezone.utc)
            ns = (int(dt.timestamp()) * 1_000_000_000) + dt.microsecond * 1000
            return f'utc_time(std::chrono::nanoseconds({ns}LL))'
        if t == 'any':
            return f'wire::any{{{cpp_string(pack(v))}}}'
        mm = re.fullmatch(r'list<(.+)>', t)
        if mm:
            return f'{s.cpp_type(t)}{{' + ', '.join(self.literal(mm.group(1), x, where) for x in v) + '}'
        mm = re.fullmatch(r'map<(.+)>', t)
        if mm:
            return f'{s.cpp_type(t)}{{' + ', '.join(
                f'{{{cpp_string(k)}, {self.literal(mm.group(1), x, where)}}}' for k, x in v.items()) + '}'
        if t in s.enum_names:
            en = next(e for e in s.enums if e['name'] == t)
            if v not in [x['name'] for x in en['values']]:
                s.fail(f'{where}: {v!r} is not a value of {t}')
            return f'{snake(t)}::{ident(v)}'
        if t in s.message_names:
            return self.message_value(t, v, where)
        s.fail(f'{where}: cannot write a test value of type {t}')

    def message_value(self, name, v, where):
        m = next(x for x in self.s.messages if x['name'] == name)
        fields = {f['name']: f for f in m.get('fields', [])}
        for k in v:
            if k not in fields:
                self.s.fail(f'{where}: test value names unknown field {name}.{k}')
        lines = [f'[] {{ {snake(name)} m{{}};']
        for f in m.get('fields', []):
            if f['name'] in v:
                lines.append(f' m.{ident(f["name"])} = {self.literal(f["type"], v[f["name"]], where)};')
            elif not f.get('optional') and 'default' not in f:
                self.s.fail(f'{where}: test value lacks required field {name}.{f["name"]}')
        lines.append(' return m; }()')
        return ''.join(lines)

    def default_literal(self, f):
        return self.literal(f['type'], f['default'], f'default of {f["name"]}')

    def header(self):
        s = self.s
        ns = s.short
        o = []
        w = o.append
        w(f'// Generated by tools/gen/protogen.py from {s.interface} — do not edit.')
        w('#pragma once')
        w('#include <cstdint>\n#include <map>\n#include <optional>\n#include <string>\n#include <string_view>\n#include <vector>\n')
        w('#include <weft/wire/codec.hh>\n#include <weft/wire/golden.hh>\n')
        w(f'/// {s.doc}')
        w(f'namespace weft::proto::{ns} {{\n')
        w('using namespace std::string_literals;')
        w(f'inline constexpr std::string_view interface_name = "{s.interface}";\n')
        if s.errors:
            w(f'/// Typed errors of {s.interface}; on the wire by name in io.weft.Bus.v1.Error.code.')
            w('enum class error_code : std::uint16_t {')
            for e in s.errors:
                w(f'  {snake(e["name"])} = {e["value"]},  ///< {e["doc"]}')
            w('};')
            w('std::string_view to_string(error_code c);')
            w('std::optional<error_code> parse_error_code(std::string_view name);')
            w('/// An error value of this interface, ready to send or to return.')
            w('template <class... Args>')
            w('weft::error make(error_code c, fmt::format_string<Args...> f, Args&&... a) {')
            w('  return weft::make_error(interface_name, to_string(c), f, std::forward<Args>(a)...);')
            w('}')
            w('inline bool is(const weft::error& e, error_code c) { return e.is(interface_name, to_string(c)); }\n')
        for en in s.enums:
            n = snake(en['name'])
            w(f'/// {en["doc"]}')
            w(f'enum class {n} : std::uint8_t {{')
            for v in en['values']:
                w(f'  {ident(v["name"])} = {v["value"]},  ///< {v["doc"]}')
            w('};')
            w(f'std::string_view to_string({n} v);')
            w(f'inline void encode(wire::writer& w, {n} v) {{ w.u64(static_cast<std::uint64_t>(v)); }}')
            w(f'inline void write(wire::writer& w, {n} v) {{ encode(w, v); }}')
            w(f'::weft::status read(const wire::object& o, std::string_view path, {n}& out);\n')
        for m in s.messages:
            n = snake(m['name'])
            w(f'struct {n};')
        w('')
        for m in s.messages:
            n = snake(m['name'])
            w(f'/// {m["doc"]}')
            w(f'struct {n} {{')
            w(f'  static constexpr std::string_view type_name = "{s.interface}.{m["name"]}";')
            for f in m.get('fields', []):
                t = s.cpp_type(f['type'])
                doc = f['doc']
                if f.get('optional'):
                    w(f'  std::optional<{t}> {ident(f["name"])};  ///< {doc} (optional)')
                elif 'default' in f:
                    w(f'  {t} {ident(f["name"])} = {self.default_literal(f)};  ///< {doc} (default {f["default"]!r})')
                else:
                    w(f'  {t} {ident(f["name"])}{{}};  ///< {doc}')
            w(f'  bool operator==(const ::weft::proto::{ns}::{n}&) const = default;')
            w('};')
            w(f'void encode(wire::writer& w, const {n}& m);')
            w(f'inline void write(wire::writer& w, const {n}& m) {{ encode(w, m); }}')
            w(f'::weft::status decode(const wire::object& o, {n}& m);')
            w(f'inline ::weft::status read(const wire::object& o, std::string_view, {n}& m) {{ return decode(o, m); }}')
            w(f'/// The schema\'s test value of {m["name"]} (its golden encoding is committed).')
            w(f'{n} test_{n}();\n')
        w('/// Golden cases: every message\'s test value and how to check a decoding of it.')
        w('std::vector<wire::golden_case> golden_cases();')
        w('/// Fuzz entry: the first byte picks a message decoder, the rest is its input.')
        w('void fuzz_decode(const std::uint8_t* data, std::size_t size);')
        w('/// The fully qualified type names of every message in this interface.')
        w('const std::vector<std::string_view>& message_types();')
        w(f'\n}}  // namespace weft::proto::{ns}')
        return '\n'.join(o) + '\n'

    def source(self, header_name):
        s = self.s
        ns = s.short
        o = []
        w = o.append
        w(f'// Generated by tools/gen/protogen.py from {s.interface} — do not edit.')
        w(f'#include "{header_name}"\n#include <cstdlib>\n')
        w(f'namespace weft::proto::{ns} {{\n')
        if s.errors:
            w('std::string_view to_string(error_code c) {\n  switch (c) {')
            for e in s.errors:
                w(f'    case error_code::{snake(e["name"])}: return "{e["name"]}";')
            w('  }\n  return "Unknown";\n}')
            w('std::optional<error_code> parse_error_code(std::string_view name) {')
            for e in s.errors:
                w(f'  if (name == "{e["name"]}") return error_code::{snake(e["name"])};')
            w('  return std::nullopt;\n}\n')
        for en in s.enums:
            n = snake(en['name'])
            w(f'std::string_view to_string({n} v) {{\n  switch (v) {{')
            for v in en['values']:
                w(f'    case {n}::{ident(v["name"])}: return "{v["name"]}";')
            w('  }\n  return "unknown";\n}')
            w(f'::weft::status read(const wire::object& o, std::string_view path, {n}& out) {{')
            w('  std::uint8_t v;\n  if (auto st = wire::read(o, path, v); !st) return st;\n  switch (v) {')
            for v in en['values']:
                w(f'    case {v["value"]}: out = {n}::{ident(v["name"])}; return {{}};')
            w(f'  }}\n  return wire::bad_value(path, "unknown {en["name"]} value");\n}}\n')
        for m in s.messages:
            n = snake(m['name'])
            fields = m.get('fields', [])
            w(f'void encode(wire::writer& w, const {n}& m) {{')
            w('  using wire::write;  // plus ADL for this interface\'s types')
            fixed = [f for f in fields if not f.get('optional')]
            opt = [f for f in fields if f.get('optional')]
            if opt:
                w(f'  std::uint32_t n = {len(fixed)};')
                for f in opt:
                    w(f'  n += m.{ident(f["name"])}.has_value();')
                w('  w.map(n);')
            else:
                w(f'  w.map({len(fixed)});')
            for f in fields:
                fn = ident(f['name'])
                if f.get('optional'):
                    w(f'  if (m.{fn}) {{ w.key("{f["name"]}"); write(w, *m.{fn}); }}')
                else:
                    w(f'  w.key("{f["name"]}"); write(w, m.{fn});')
            if not fields:
                w('  (void)m;')
            w('}')
            w(f'::weft::status decode(const wire::object& o, {n}& m) {{')
            w(f'  if (o.type != msgpack::type::MAP) return wire::type_error("{m["name"]}", "map", o);')
            if fields:
                w('  std::uint32_t seen = 0;')
                w('  for (std::uint32_t i = 0; i < o.via.map.size; ++i) {')
                w('    using wire::read;')
                w('    const auto& kv = o.via.map.ptr[i];')
                w('    if (kv.key.type != msgpack::type::STR) continue;  // unknown keys are ignored')
                w('    std::string_view k(kv.key.via.str.ptr, kv.key.via.str.size);')
                for i, f in enumerate(fields):
                    fn = ident(f['name'])
                    kw = 'if' if i == 0 else '} else if'
                    w(f'    {kw} (k == "{f["name"]}") {{')
                    w(f'      if (seen & (1u << {i})) return wire::bad_value("{m["name"]}.{f["name"]}", "duplicate key");')
                    w(f'      seen |= 1u << {i};')
                    if f.get('optional'):
                        w(f'      if (kv.val.type == msgpack::type::NIL) {{ m.{fn}.reset(); continue; }}')
                        w(f'      if (auto st = read(kv.val, "{m["name"]}.{f["name"]}", m.{fn}.emplace()); !st) return st;')
                    else:
                        w(f'      if (auto st = read(kv.val, "{m["name"]}.{f["name"]}", m.{fn}); !st) return st;')
                w('    }\n  }')
                for i, f in enumerate(fields):
                    if not f.get('optional') and 'default' not in f:
                        w(f'  if (!(seen & (1u << {i}))) return wire::missing_field("{m["name"]}", "{f["name"]}");')
            else:
                w('  (void)m;')
            w('  return {};\n}')
            w(f'{n} test_{n}() {{ return {self.message_value(m["name"], m["test"], m["name"] + ".test")}; }}\n')
        w('std::vector<wire::golden_case> golden_cases() {\n  std::vector<wire::golden_case> out;')
        for m in s.messages:
            n = snake(m['name'])
            w(f'  out.push_back({{"{s.interface}.{m["name"]}", wire::encode(test_{n}()), [](std::string_view b) {{')
            w(f'    auto r = wire::decode<{n}>(b);')
            w('    if (!r) return ::weft::status(r.take_error());')
            w(f'    if (!(*r == test_{n}())) return ::weft::status(weft::fail(errc::malformed, "decoded value differs"));')
            w('    return ::weft::status();\n  }});')
        w('  return out;\n}\n')
        w('void fuzz_decode(const std::uint8_t* data, std::size_t size) {')
        w('  if (size < 1) return;')
        w('  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);')
        w(f'  switch (data[0] % {max(1, len(s.messages))}) {{')
        for i, m in enumerate(s.messages):
            n = snake(m['name'])
            w(f'    case {i}: {{')
            w(f'      auto r = wire::decode<{n}>(in);')
            w('      if (!r) return;')
            w('      // Round trip: what we accepted must re-encode to bytes that decode and re-encode to')
            w('      // the same bytes (compared as bytes, so a NaN in an f64 field is not a mismatch).')
            w('      auto bytes = wire::encode(*r);')
            w(f'      auto again = wire::decode<{n}>(bytes);')
            w('      if (!again || wire::encode(*again) != bytes) std::abort();')
            w('      return;\n    }')
        w('  }\n}\n')
        w('const std::vector<std::string_view>& message_types() {')
        w('  static const std::vector<std::string_view> t{' +
          ', '.join(f'{snake(m["name"])}::type_name' for m in s.messages) + '};')
        w('  return t;\n}\n')
        w(f'}}  // namespace weft::proto::{ns}')
        return '\n'.join(o) + '\n'


def golden(outdir, schema_paths):
    """Writes hex golden files from the Python encoder's view of each test value.

    The committed files are the reference; the C++ unit test must produce the same bytes.
    Encoding rules mirrored here: maps in field order, optional fields omitted when absent,
    enums as integers, times as 12-byte timestamp extensions, integers in smallest form.
    """
    import os
    for p in schema_paths:
        s = Schema(p)
        for m in s.messages:
            data = encode_value(s, m['name'], m['test'])
            path = os.path.join(outdir, f'{s.interface}.{m["name"]}.hex')
            with open(path, 'w') as f:
                f.write(data.hex() + '\n')
            print(path)


def encode_value(s, t, v):
    t = t.strip()
    if t in ('u8', 'u16', 'u32', 'u64', 'i32', 'i64'):
        return pack(int(v))
    if t in ('bool', 'string', 'f64'):
        return pack(float(v) if t == 'f64' else v)
    if t == 'bytes':
        b = bytes.fromhex(v)
        n = len(b)
        h = (b'\xc4' + bytes([n])) if n < 256 else (b'\xc5' + struct.pack('>H', n))
        return h + b
    if t == 'time':
        dt = datetime.fromisoformat(v.replace('Z', '+00:00')).astimezone(timezone.utc)
        return b'\xc7\x0c\xff' + struct.pack('>Iq', dt.microsecond * 1000, int(dt.timestamp()))
    if t == 'any':
        return pack(v)
    mm = re.fullmatch(r'list<(.+)>', t)
    if mm:
        n = len(v)
        h = bytes([0x90 | n]) if n < 16 else (b'\xdc' + struct.pack('>H', n))
        return h + b''.join(encode_value(s, mm.group(1), x) for x in v)
    mm = re.fullmatch(r'map<(.+)>', t)
    if mm:
        n = len(v)
        h = bytes([0x80 | n]) if n < 16 else (b'\xde' + struct.pack('>H', n))
        return h + b''.join(pack(k) + encode_value(s, mm.group(1), x) for k, x in sorted(v.items()))
    if t in s.enum_names:
        en = next(e for e in s.enums if e['name'] == t)
        return pack(next(x['value'] for x in en['values'] if x['name'] == v))
    m = next(x for x in s.messages if x['name'] == t)
    parts = []
    for f in m.get('fields', []):
        if f['name'] in v:
            val = v[f['name']]
        elif f.get('optional'):
            continue
        else:
            val = f['default']
        parts.append(pack(f['name']) + encode_value(s, f['type'], val))
    n = len(parts)
    h = bytes([0x80 | n]) if n < 16 else (b'\xde' + struct.pack('>H', n))
    return h + b''.join(parts)


def main(argv):
    try:
        if len(argv) >= 3 and argv[1] == '--golden':
            golden(argv[2], argv[3:])
            return 0
        if len(argv) != 4:
            print(__doc__, file=sys.stderr)
            return 2
        s = Schema(argv[1])
        g = Gen(s)
        import os
        hh = g.header()
        cc = g.source(os.path.basename(argv[2]))
        with open(argv[2], 'w') as f:
            f.write(hh)
        with open(argv[3], 'w') as f:
            f.write(cc)
        return 0
    except SchemaError as e:
        print(f'protogen: error: {e}', file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main(sys.argv))
