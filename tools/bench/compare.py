#!/usr/bin/env python3
"""tools/bench/compare.py BEFORE_BUILD AFTER_BUILD [--rounds N] — the foundation's and the agent
turn's figures of two built trees, measured in the same run.

Each round runs every benchmark once against each tree, the order of the two trees
alternating from round to round, so load from elsewhere on the machine falls on both alike.
Each tree runs its own benchmark programs against its own binaries (the web API's
authentication, for one, differs between trees). Prints each figure's median over the rounds
for both trees, and after/before.

Figures: bus round trip p50/p99 (weft-bench bus), cold start of weftd + bus + 3 echo services
(weft-bench coldstart), PSS of weftd + bus + 3 echo (weft-bench pss), agent turn latency
p50/p99 (weft-bench-turns latency), sustained turns/s at concurrency 16 with the loss count
(weft-bench-turns throughput), PSS of the default stack idle (weft-bench-turns pss) and its
cold start (weft-bench-turns coldstart).

tools/dev bench-compare REV builds REV into build-REV and runs this against build/.
"""
import argparse
import re
import statistics
import subprocess
import sys

FIGURES = [
    # (name, program, args, regex, unit, lower_is_better)
    ("bus round trip p50", "tools/bench/weft-bench", ["bus"], r"bus round trip.*?\n\s+p50 ([\d.]+) us", "µs", True),
    ("bus round trip p99", "tools/bench/weft-bench", ["bus"], r"bus round trip.*?\n.*?p99 ([\d.]+) us", "µs", True),
    ("cold start, weftd+bus+3 echo", "tools/bench/weft-bench", ["coldstart", "--runs", "10"], r"median ([\d.]+) ms", "ms", True),
    ("PSS, weftd+bus+3 echo", "tools/bench/weft-bench", ["pss"], r"total\s+\d+ kB = ([\d.]+) MB", "MB", True),
    ("turn latency p50", "tools/bench/weft-bench-turns", ["latency"], r"p50 ([\d.]+) µs\s+p90", "µs", True),
    ("turn latency p99", "tools/bench/weft-bench-turns", ["latency"], r"p90 [\d.]+ µs\s+p99 ([\d.]+) µs", "µs", True),
    ("turns/s at concurrency 16", "tools/bench/weft-bench-turns", ["throughput"], r"([\d.]+) turns/s", "/s", False),
    ("turns answered (replies received)", "tools/bench/weft-bench-turns", ["throughput"], r"replies (\d+ of \d+)", "", True),
    ("PSS of the default stack, idle", "tools/bench/weft-bench-turns", ["pss"], r"total ([\d.]+) MB", "MB", True),
    ("cold start of the default stack", "tools/bench/weft-bench-turns", ["coldstart"], r"median ([\d.]+) ms", "ms", True),
]


def run(build, program, args):
    p = subprocess.run([f"{build}/{program}", *args], capture_output=True, text=True, timeout=900)
    if p.returncode != 0:
        raise RuntimeError(f"{program} {' '.join(args)} in {build} failed ({p.returncode}):\n{p.stderr[-2000:]}")
    return p.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--rounds", type=int, default=3)
    o = ap.parse_args()
    trees = {"before": o.before, "after": o.after}
    values = {(t, f[0]): [] for t in trees for f in FIGURES}
    # One run per distinct (program, args) per tree per round; several figures share a run.
    runs = []
    for f in FIGURES:
        key = (f[1], tuple(f[2]))
        if key not in runs:
            runs.append(key)
    for r in range(o.rounds):
        order = ["before", "after"] if r % 2 == 0 else ["after", "before"]
        for program, args in runs:
            for t in order:
                out = run(trees[t], program, list(args))
                for name, prog, a, rx, _, _ in FIGURES:
                    if (prog, tuple(a)) != (program, args):
                        continue
                    m = re.search(rx, out, re.S)
                    if not m:
                        raise RuntimeError(f"no '{name}' in the output of {program} {' '.join(args)} ({t}):\n{out}")
                    values[(t, name)].append(m.group(1))
                print(f"round {r + 1}/{o.rounds}: {program.split('/')[-1]} {' '.join(args)} done", file=sys.stderr)
    print(f"{'figure':<34} {'before':>12} {'after':>12} {'after/before':>13}   (median of {o.rounds} rounds, interleaved)")
    for name, _, _, _, unit, _ in FIGURES:
        b, a = values[("before", name)], values[("after", name)]
        if " of " in b[0]:  # a count, not a number: show the worst round
            worst = lambda xs: min(xs, key=lambda s: int(s.split(" of ")[0]) - int(s.split(" of ")[1]))
            print(f"{name:<34} {worst(b):>12} {worst(a):>12} {'':>13}")
            continue
        mb, ma = statistics.median(map(float, b)), statistics.median(map(float, a))
        ratio = ma / mb if mb else float("nan")
        print(f"{name:<34} {mb:>10.1f}{unit:>2} {ma:>10.1f}{unit:>2} {ratio:>12.2f}x")


if __name__ == "__main__":
    main()
