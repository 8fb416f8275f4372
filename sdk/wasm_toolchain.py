#!/usr/bin/env python3
"""Finds the compilers the plugin SDK builds wasm with, for sdk/meson.build.

Prints 'clang<TAB><path>' when that clang links a wasm32-wasi reactor against wasi-libc, and
'rustc<TAB><path>' for the first rustc (PATH's, then Debian's /usr/bin/rustc) that has the
wasm32-unknown-unknown standard library; for each one missing, 'missing-<name><TAB><reason>'.
Each is tried on a one-line program in a temporary folder; nothing else is touched.
"""
import os
import shutil
import subprocess
import sys
import tempfile


def works(cmd, cwd):
    try:
        p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        return str(e)
    return None if p.returncode == 0 else p.stdout.decode(errors='replace').strip().splitlines()[-1:]


def main():
    clang = sys.argv[1] if len(sys.argv) > 1 else shutil.which('clang')
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, 'p.c'), 'w') as f:
            f.write('#include <stdlib.h>\n__attribute__((export_name("f"))) void *f(unsigned n) { return malloc(n); }\n')
        with open(os.path.join(d, 'p.rs'), 'w') as f:
            f.write('#[no_mangle] pub extern "C" fn f(n: usize) -> *mut u8 { vec![0u8; n].leak().as_mut_ptr() }\n')
        if not clang:
            print('missing-clang\tno clang on PATH')
        else:
            err = works([clang, '--target=wasm32-wasi', '-mexec-model=reactor', '-O2', 'p.c', '-o', 'p.wasm'], d)
            print(f'clang\t{clang}' if err is None else
                  f'missing-clang\t{clang} cannot link for wasm32-wasi ({err}); install wasi-libc libclang-rt-14-dev-wasm32 lld')
        reasons = []
        for cand in [shutil.which('rustc'), '/usr/bin/rustc']:
            if not cand or not os.access(cand, os.X_OK):
                continue
            err = works([cand, '--edition', '2021', '--crate-type', 'cdylib', '--target', 'wasm32-unknown-unknown',
                         '-O', 'p.rs', '-o', 'p_rs.wasm'], d)
            if err is None:
                print(f'rustc\t{cand}')
                break
            reasons.append(f'{cand}: {err}')
        else:
            print('missing-rustc\tno rustc with the wasm32-unknown-unknown standard library '
                  f'({"; ".join(reasons) or "no rustc found"}); install rustc libstd-rust-dev-wasm32')


if __name__ == '__main__':
    main()
