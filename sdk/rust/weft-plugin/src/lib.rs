//! The weft plugin ABI, version 1, for plugins written in Rust: the host functions of
//! import module `weft` as safe functions, the exports the host needs (`weft_abi_version`,
//! `weft_alloc`, `weft_free`), a macro that declares a tool, and a reader of the tool's JSON
//! arguments. The contract is in docs/guides/plugins.md, "Host API"; sdk/c/weft_plugin.h is
//! its C form.
//!
//! `#![no_std]` with `alloc`: a plugin crate built for `wasm32-unknown-unknown` with std (as
//! the example is) brings the allocator and the panic handler; a `no_std` plugin supplies its
//! own. Only the host functions a plugin calls end up imported, so a plugin's manifest
//! lists those it uses — always `result`, which every tool declared with [`tool!`] calls.
//!
//! ```ignore
//! use weft_plugin::{Args, Failure};
//! fn shout(args: Args) -> Result<String, Failure> {
//!     Ok(args.str("text")?.to_uppercase())
//! }
//! weft_plugin::tool!("tool_shout", shout);
//! ```
#![no_std]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// The ABI version this crate implements; `weft_abi_version()` returns it.
pub const ABI_VERSION: i32 = 1;

/// A negative status from the host or for it (the names of weft_plugin.h's `WEFT_E_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error(pub i32);

impl Error {
    pub const INVALID: Error = Error(-1);
    pub const DENIED: Error = Error(-2);
    pub const NOT_FOUND: Error = Error(-3);
    pub const TOO_LARGE: Error = Error(-4);
    pub const IO: Error = Error(-5);
    pub const STATE: Error = Error(-6);
    pub const LIMIT: Error = Error(-7);

    /// "WEFT_E_DENIED", or "unknown".
    pub fn name(self) -> &'static str {
        match self.0 {
            -1 => "WEFT_E_INVALID",
            -2 => "WEFT_E_DENIED",
            -3 => "WEFT_E_NOT_FOUND",
            -4 => "WEFT_E_TOO_LARGE",
            -5 => "WEFT_E_IO",
            -6 => "WEFT_E_STATE",
            -7 => "WEFT_E_LIMIT",
            _ => "unknown",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.0)
    }
}

/// The raw imports, exactly as the ABI declares them (every pointer and length a wasm i32).
pub mod sys {
    #[cfg(target_arch = "wasm32")]
    #[link(wasm_import_module = "weft")]
    extern "C" {
        #[link_name = "log"]
        pub fn log(level: i32, text: *const u8, text_len: u32) -> i32;
        #[link_name = "result"]
        pub fn result(data: *const u8, len: u32, is_error: i32) -> i32;
        #[link_name = "file_read"]
        pub fn file_read(path: *const u8, path_len: u32, buf: *mut u8, cap: u32) -> i32;
        #[link_name = "file_write"]
        pub fn file_write(path: *const u8, path_len: u32, data: *const u8, len: u32, flags: i32) -> i32;
        #[link_name = "http_fetch"]
        pub fn http_fetch(
            method: *const u8,
            method_len: u32,
            url: *const u8,
            url_len: u32,
            headers: *const u8,
            headers_len: u32,
            body: *const u8,
            body_len: u32,
            buf: *mut u8,
            cap: u32,
            status: *mut i32,
        ) -> i32;
        #[link_name = "kv_get"]
        pub fn kv_get(key: *const u8, key_len: u32, buf: *mut u8, cap: u32) -> i32;
        #[link_name = "kv_put"]
        pub fn kv_put(key: *const u8, key_len: u32, value: *const u8, value_len: u32) -> i32;
        #[link_name = "clock"]
        pub fn clock() -> i64;
    }
}

/// Log levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum Level {
    Error = 0,
    Warning = 1,
    Info = 2,
    Debug = 3,
}

#[cfg(target_arch = "wasm32")]
mod host {
    use super::*;

    /// A status as a result: negative is an error, else the value.
    fn check(status: i32) -> Result<u32, Error> {
        if status < 0 {
            Err(Error(status))
        } else {
            Ok(status as u32)
        }
    }

    /// Lengths cross the boundary as i32: a slice longer than that cannot be passed.
    fn len32(bytes: &[u8]) -> Result<u32, Error> {
        if bytes.len() > i32::MAX as usize {
            Err(Error::TOO_LARGE)
        } else {
            Ok(bytes.len() as u32)
        }
    }

    /// Calls `fill(buf, cap)` — a host function following the length-returning protocol —
    /// growing the buffer until the whole value fits; a value that keeps changing size is
    /// given up on after four tries.
    pub fn read_all(first_cap: usize, mut fill: impl FnMut(*mut u8, u32) -> i32) -> Result<Vec<u8>, Error> {
        let mut buf: Vec<u8> = Vec::new();
        let mut cap = first_cap;
        for _ in 0..4 {
            buf.resize(cap, 0);
            let n = check(fill(buf.as_mut_ptr(), cap as u32))? as usize;
            if n <= cap {
                buf.truncate(n);
                return Ok(buf);
            }
            cap = n;
        }
        Err(Error::IO)
    }

    pub fn log(level: Level, text: &str) -> Result<(), Error> {
        let len = len32(text.as_bytes())?;
        check(unsafe { sys::log(level as i32, text.as_ptr(), len) }).map(|_| ())
    }

    pub fn set_result(data: &[u8], is_error: bool) -> Result<(), Error> {
        let len = len32(data)?;
        check(unsafe { sys::result(data.as_ptr(), len, is_error as i32) }).map(|_| ())
    }

    pub fn file_read(path: &str) -> Result<Vec<u8>, Error> {
        let path_len = len32(path.as_bytes())?;
        read_all(4096, |buf, cap| unsafe { sys::file_read(path.as_ptr(), path_len, buf, cap) })
    }

    pub fn file_write(path: &str, data: &[u8], append: bool) -> Result<(), Error> {
        let (path_len, len) = (len32(path.as_bytes())?, len32(data)?);
        check(unsafe { sys::file_write(path.as_ptr(), path_len, data.as_ptr(), len, append as i32) }).map(|_| ())
    }

    pub fn http_fetch(method: &str, url: &str, headers: &str, body: &[u8], max_body: usize) -> Result<Response, Error> {
        let mut buf: Vec<u8> = Vec::new();
        buf.resize(max_body.min(i32::MAX as usize), 0);
        let mut status: i32 = 0;
        let n = check(unsafe {
            sys::http_fetch(
                method.as_ptr(),
                len32(method.as_bytes())?,
                url.as_ptr(),
                len32(url.as_bytes())?,
                headers.as_ptr(),
                len32(headers.as_bytes())?,
                body.as_ptr(),
                len32(body)?,
                buf.as_mut_ptr(),
                buf.len() as u32,
                &mut status,
            )
        })? as usize;
        let truncated = n > buf.len();
        buf.truncate(n);
        Ok(Response { status, body: buf, full_len: n, truncated })
    }

    pub fn kv_get(key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        let key_len = len32(key)?;
        match read_all(256, |buf, cap| unsafe { sys::kv_get(key.as_ptr(), key_len, buf, cap) }) {
            Ok(v) => Ok(Some(v)),
            Err(Error::NOT_FOUND) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn kv_put(key: &[u8], value: &[u8]) -> Result<(), Error> {
        let (key_len, len) = (len32(key)?, len32(value)?);
        check(unsafe { sys::kv_put(key.as_ptr(), key_len, value.as_ptr(), len) }).map(|_| ())
    }

    pub fn clock_ms() -> i64 {
        unsafe { sys::clock() }
    }
}

#[cfg(target_arch = "wasm32")]
pub use host::{clock_ms, file_read, file_write, http_fetch, kv_get, kv_put, log, set_result};

/// What [`http_fetch`] returns: the status and at most `max_body` bytes of the body.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: i32,
    pub body: Vec<u8>,
    /// The body's whole length, as the host read it.
    pub full_len: usize,
    /// The body was longer than `max_body` and was cut (the request is not made again).
    pub truncated: bool,
}

/// A tool's failure: the error code the export returns and the text the model reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub code: Error,
    pub message: String,
}

impl Failure {
    pub fn new(code: Error, message: impl Into<String>) -> Failure {
        Failure { code, message: message.into() }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure { code: e, message: alloc::format!("{}", e) }
    }
}

/// Runs a tool for the export [`tool!`] generates: reads the arguments, calls `f`, hands
/// its text or failure to the host through `result` and returns the status.
#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub fn __run_tool(args: *const u8, args_len: u32, f: fn(Args) -> Result<String, Failure>) -> i32 {
    let bytes: &[u8] = if args.is_null() || args_len == 0 {
        &[]
    } else {
        // The host wrote args_len bytes there with weft_alloc's buffer and keeps them until
        // the call returns.
        unsafe { core::slice::from_raw_parts(args, args_len as usize) }
    };
    match f(Args::new(bytes)) {
        Ok(text) => match set_result(text.as_bytes(), false) {
            Ok(()) => 0,
            Err(e) => e.0,
        },
        Err(failure) => {
            let _ = set_result(failure.message.as_bytes(), true);
            if failure.code.0 < 0 {
                failure.code.0
            } else {
                Error::INVALID.0
            }
        }
    }
}

/// Declares a tool: `tool!("tool_export", function)` exports `tool_export` — the `export` of
/// a `[[tools]]` entry in plugin.toml — running `function(args: Args) -> Result<String, Failure>`.
#[macro_export]
macro_rules! tool {
    ($export:literal, $function:path) => {
        // Off wasm32 (a native unit test of the plugin's functions) there is nothing to export.
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            #[export_name = $export]
            extern "C" fn __weft_tool(args: *const u8, args_len: u32) -> i32 {
                $crate::__run_tool(args, args_len, $function)
            }
        };
    };
}

/// `weft_abi_version: () -> i32`.
#[cfg(target_arch = "wasm32")]
#[no_mangle]
pub extern "C" fn weft_abi_version() -> i32 {
    ABI_VERSION
}

#[cfg(target_arch = "wasm32")]
fn layout(size: u32) -> core::alloc::Layout {
    // Aligned for any scalar the host might place there; never zero-sized.
    core::alloc::Layout::from_size_align(size.max(1) as usize, 8).unwrap()
}

/// `weft_alloc: (i32 size) -> i32`: `size` bytes, or 0 when out of memory.
#[cfg(target_arch = "wasm32")]
#[no_mangle]
pub extern "C" fn weft_alloc(size: u32) -> *mut u8 {
    if size > i32::MAX as u32 {
        return core::ptr::null_mut();
    }
    unsafe { alloc::alloc::alloc(layout(size)) }
}

/// `weft_free: (i32 ptr, i32 size) -> ()`: releases what weft_alloc(size) gave.
#[cfg(target_arch = "wasm32")]
#[no_mangle]
pub extern "C" fn weft_free(ptr: *mut u8, size: u32) {
    if !ptr.is_null() {
        unsafe { alloc::alloc::dealloc(ptr, layout(size)) }
    }
}

/// A tool's arguments: the JSON object the host passes, read one top-level member at a time
/// without a JSON library (nested values are skipped, not read).
#[derive(Clone, Copy)]
pub struct Args<'a> {
    bytes: &'a [u8],
}

impl<'a> Args<'a> {
    pub fn new(bytes: &'a [u8]) -> Args<'a> {
        Args { bytes }
    }

    /// The arguments as the host sent them.
    pub fn raw(&self) -> &'a [u8] {
        self.bytes
    }

    /// String member `key`, unescaped; None when absent. Errors: INVALID when the text is not
    /// an object or the member not a string.
    pub fn get_str(&self, key: &str) -> Result<Option<String>, Error> {
        match json::find_member(self.bytes, key.as_bytes())? {
            None => Ok(None),
            Some(at) => json::string_at(self.bytes, at).map(Some),
        }
    }

    /// Integer member `key` (no fraction or exponent); None when absent.
    pub fn get_i64(&self, key: &str) -> Result<Option<i64>, Error> {
        match json::find_member(self.bytes, key.as_bytes())? {
            None => Ok(None),
            Some(at) => json::int_at(self.bytes, at).map(Some),
        }
    }

    /// A required string member: absent or not a string is a failure naming it.
    pub fn str(&self, key: &str) -> Result<String, Failure> {
        match self.get_str(key) {
            Ok(Some(s)) => Ok(s),
            Ok(None) => Err(Failure::new(Error::INVALID, alloc::format!("argument '{}' is required", key))),
            Err(_) => Err(Failure::new(Error::INVALID, alloc::format!("argument '{}' must be a string", key))),
        }
    }
}

/// The minimal JSON reading `Args` needs; public for the SDK's own tests.
#[doc(hidden)]
pub mod json {
    use super::Error;
    use alloc::string::String;
    use alloc::vec::Vec;

    const MAX_DEPTH: usize = 64;

    fn ws(s: &[u8], mut i: usize) -> usize {
        while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\r') {
            i += 1;
        }
        i
    }

    /// The index after the string starting at s[i] == '"'.
    fn skip_string(s: &[u8], mut i: usize) -> Result<usize, Error> {
        i += 1;
        while i < s.len() {
            match s[i] {
                b'\\' => i += 2,
                b'"' => return Ok(i + 1),
                _ => i += 1,
            }
        }
        Err(Error::INVALID)
    }

    /// The index after the value starting at s[i].
    fn skip_value(s: &[u8], mut i: usize) -> Result<usize, Error> {
        match s.get(i) {
            None => Err(Error::INVALID),
            Some(b'"') => skip_string(s, i),
            Some(b'{') | Some(b'[') => {
                let mut stack: Vec<u8> = Vec::new();
                while i < s.len() {
                    match s[i] {
                        b'"' => {
                            i = skip_string(s, i)?;
                            continue;
                        }
                        b'{' | b'[' => {
                            if stack.len() == MAX_DEPTH {
                                return Err(Error::INVALID);
                            }
                            stack.push(if s[i] == b'{' { b'}' } else { b']' });
                        }
                        c @ (b'}' | b']') => {
                            if stack.pop() != Some(c) {
                                return Err(Error::INVALID);
                            }
                            if stack.is_empty() {
                                return Ok(i + 1);
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
                Err(Error::INVALID)
            }
            Some(_) => {
                let start = i;
                while i < s.len() && !matches!(s[i], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                    i += 1;
                }
                if i > start {
                    Ok(i)
                } else {
                    Err(Error::INVALID)
                }
            }
        }
    }

    /// The index of member `key`'s value in the top-level object, None when absent. Keys are
    /// compared as written: a key spelt with escapes never matches.
    pub fn find_member(s: &[u8], key: &[u8]) -> Result<Option<usize>, Error> {
        let mut i = ws(s, 0);
        if s.get(i) != Some(&b'{') {
            return Err(Error::INVALID);
        }
        i = ws(s, i + 1);
        if s.get(i) == Some(&b'}') {
            return Ok(None);
        }
        loop {
            if s.get(i) != Some(&b'"') {
                return Err(Error::INVALID);
            }
            let end = skip_string(s, i)?;
            let matched = &s[i + 1..end - 1] == key;
            i = ws(s, end);
            if s.get(i) != Some(&b':') {
                return Err(Error::INVALID);
            }
            i = ws(s, i + 1);
            if i >= s.len() {
                return Err(Error::INVALID);
            }
            if matched {
                return Ok(Some(i));
            }
            i = ws(s, skip_value(s, i)?);
            match s.get(i) {
                Some(b',') => i = ws(s, i + 1),
                Some(b'}') => return Ok(None),
                _ => return Err(Error::INVALID),
            }
        }
    }

    fn hex4(s: &[u8], i: usize) -> Result<u32, Error> {
        let digits = s.get(i..i + 4).ok_or(Error::INVALID)?;
        let mut v = 0u32;
        for &d in digits {
            v = v << 4 | (d as char).to_digit(16).ok_or(Error::INVALID)?;
        }
        Ok(v)
    }

    /// The string value at s[i], unescaped.
    pub fn string_at(s: &[u8], mut i: usize) -> Result<String, Error> {
        if s.get(i) != Some(&b'"') {
            return Err(Error::INVALID);
        }
        let mut out: Vec<u8> = Vec::new();
        i += 1;
        while i < s.len() {
            let c = s[i];
            i += 1;
            match c {
                b'"' => return String::from_utf8(out).map_err(|_| Error::INVALID),
                0..=0x1f => return Err(Error::INVALID),
                b'\\' => {
                    let e = *s.get(i).ok_or(Error::INVALID)?;
                    i += 1;
                    let cp = match e {
                        b'"' => '"' as u32,
                        b'\\' => '\\' as u32,
                        b'/' => '/' as u32,
                        b'b' => 8,
                        b'f' => 12,
                        b'n' => 10,
                        b'r' => 13,
                        b't' => 9,
                        b'u' => {
                            let hi = hex4(s, i)?;
                            i += 4;
                            if (0xd800..0xdc00).contains(&hi) {
                                if s.get(i..i + 2) != Some(b"\\u") {
                                    return Err(Error::INVALID);
                                }
                                let lo = hex4(s, i + 2)?;
                                if !(0xdc00..0xe000).contains(&lo) {
                                    return Err(Error::INVALID);
                                }
                                i += 6;
                                0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
                            } else {
                                hi
                            }
                        }
                        _ => return Err(Error::INVALID),
                    };
                    let ch = char::from_u32(cp).ok_or(Error::INVALID)?;
                    let mut utf8 = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut utf8).as_bytes());
                }
                _ => out.push(c),
            }
        }
        Err(Error::INVALID)
    }

    /// The integer value at s[i]: an optional '-' and decimal digits that fit in an i64.
    pub fn int_at(s: &[u8], mut i: usize) -> Result<i64, Error> {
        let negative = s.get(i) == Some(&b'-');
        if negative {
            i += 1;
        }
        let start = i;
        let mut v: i64 = 0;
        while let Some(d) = s.get(i).filter(|d| d.is_ascii_digit()) {
            let d = (d - b'0') as i64;
            v = v.checked_mul(10).and_then(|v| if negative { v.checked_sub(d) } else { v.checked_add(d) }).ok_or(Error::INVALID)?;
            i += 1;
        }
        if i == start || matches!(s.get(i), Some(b'.' | b'e' | b'E')) {
            return Err(Error::INVALID);
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::json::*;
    use super::*;

    #[test]
    fn members() {
        let a = br#" { "n": {"x": "}\"]"}, "list": [1, [2, {"a": 3}]], "text" : "a\n\u00e9\ud83d\ude00", "k": -42 } "#;
        let args = Args::new(a);
        assert_eq!(args.get_str("text").unwrap().unwrap(), "a\n\u{e9}\u{1f600}");
        assert_eq!(args.get_i64("k").unwrap(), Some(-42));
        assert_eq!(args.get_str("missing").unwrap(), None);
        assert_eq!(args.get_str("k"), Err(Error::INVALID));
        assert_eq!(args.get_str("x").unwrap(), None); // nested members are not top-level
        assert_eq!(Args::new(b"[]").get_str("a"), Err(Error::INVALID));
        assert_eq!(Args::new(b"{\"a\": \"unterminated}").get_str("a"), Err(Error::INVALID));
        assert_eq!(Args::new(b"{\"a\": \"\\ud800\"}").get_str("a"), Err(Error::INVALID));
        assert_eq!(int_at(b"9223372036854775808", 0), Err(Error::INVALID));
        assert_eq!(int_at(b"-9223372036854775808", 0), Ok(i64::MIN));
        assert_eq!(int_at(b"1.5", 0), Err(Error::INVALID));
        assert_eq!(find_member(b"{\"a\" 1}", b"a"), Err(Error::INVALID));
        assert_eq!(find_member(b"{}", b"a"), Ok(None));
    }
}
