#!/usr/bin/env python3
"""Runs one libFuzzer target for a bounded time, seeded with the golden encodings.

usage: run.py FUZZER SCHEMA.toml GOLDEN_DIR [SECONDS]
SECONDS defaults to $WEFT_FUZZ_SECONDS or 20. Exit status is the fuzzer's (0 = no crash).
"""
import os
import subprocess
import sys
import tempfile
import tomllib


def main():
    fuzzer, schema, golden = sys.argv[1:4]
    seconds = int(sys.argv[4]) if len(sys.argv) > 4 else int(os.environ.get('WEFT_FUZZ_SECONDS', '20'))
    with open(schema, 'rb') as f:
        s = tomllib.load(f)
    with tempfile.TemporaryDirectory(prefix='weft-fuzz-') as corpus:
        for i, m in enumerate(s.get('message', [])):
            path = os.path.join(golden, f"{s['interface']}.{m['name']}.hex")
            with open(path) as g:
                data = bytes.fromhex(g.read().strip())
            with open(os.path.join(corpus, f'seed-{i}'), 'wb') as out:
                out.write(bytes([i]) + data)
        artifacts = os.environ.get('MESON_BUILD_ROOT', tempfile.gettempdir())
        cmd = [fuzzer, corpus, f'-max_total_time={seconds}', '-rss_limit_mb=1024', '-max_len=65536',
               '-timeout=10', '-print_final_stats=1', f'-artifact_prefix={artifacts}/fuzz-']
        print(' '.join(cmd), flush=True)
        return subprocess.call(cmd)


if __name__ == '__main__':
    sys.exit(main())
