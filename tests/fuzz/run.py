#!/usr/bin/env python3
"""Runs one libFuzzer target for a bounded time, seeded with the golden encodings.

usage: run.py FUZZER SCHEMA.toml GOLDEN_DIR [SECONDS]
       run.py FUZZER --seeds DIR [SECONDS]      (a decoder without a schema: DIR's files seed it)
SECONDS defaults to $WEFT_FUZZ_SECONDS or 20. Exit status 0 = no finding, 1 = a crash, leak or
round-trip mismatch (the input is written next to the build as fuzz-crash-*).
"""
import os
import subprocess
import sys
import tempfile
import tomllib


def main():
    fuzzer, schema, golden = sys.argv[1:4]
    seconds = int(sys.argv[4]) if len(sys.argv) > 4 else int(os.environ.get('WEFT_FUZZ_SECONDS', '20'))
    if schema == '--seeds':
        s = {'interface': os.path.basename(os.path.normpath(golden)), 'message': []}
    else:
        with open(schema, 'rb') as f:
            s = tomllib.load(f)
    with tempfile.TemporaryDirectory(prefix='weft-fuzz-') as corpus:
        if schema == '--seeds':
            for name in sorted(os.listdir(golden)):
                with open(os.path.join(golden, name), 'rb') as src, open(os.path.join(corpus, 'seed-' + name), 'wb') as out:
                    out.write(src.read())
        for i, m in enumerate(s.get('message', [])):
            path = os.path.join(golden, f"{s['interface']}.{m['name']}.hex")
            with open(path) as g:
                data = bytes.fromhex(g.read().strip())
            with open(os.path.join(corpus, f'seed-{i}'), 'wb') as out:
                out.write(bytes([i]) + data)
        # Inputs that once found a bug stay in the corpus (tests/fuzz/regressions/<interface>/).
        regressions = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'regressions', s['interface'])
        if os.path.isdir(regressions):
            for name in sorted(os.listdir(regressions)):
                with open(os.path.join(regressions, name), 'rb') as r, \
                        open(os.path.join(corpus, 'regression-' + name), 'wb') as out:
                    out.write(r.read())
        artifacts = os.environ.get('MESON_BUILD_ROOT', tempfile.gettempdir())
        cmd = [fuzzer, corpus, f'-max_total_time={seconds}', '-rss_limit_mb=1024', '-max_len=65536',
               '-timeout=10', '-print_final_stats=1', f'-artifact_prefix={artifacts}/fuzz-',
               # libFuzzer's own default is 77, which meson reports as a skip: a finding must fail.
               '-error_exitcode=1']
        print(' '.join(cmd), flush=True)
        return subprocess.call(cmd)


if __name__ == '__main__':
    sys.exit(main())
