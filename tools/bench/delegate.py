#!/usr/bin/env python3
"""tools/bench/delegate.py BUILD [--rounds N] — the overhead of delegating to Claude Code.

Measures, against tests/fakes/fake_llm.py as the Anthropic API:
  direct   `claude -p TASK --output-format stream-json --verbose` run alone, pointed at the fake:
           time from spawn to its first stream line (system/init) and to its result line;
  weft     the same task as a web-chat message matching a "flow" rule of a private weftd
           (chan-web → router → agent → weft-tool-delegate, sandboxed → claude → llm's
           Messages endpoint → the fake): time from POST /api/messages to the first SSE
           delta ("Claude Code started", sent when claude's system/init line is read) and
           to the reply.
The two alternate within each round, so load from elsewhere falls on both; the median and
the spread of N rounds are printed, and weft − direct.

Needs the build tree's binaries and the Claude Code test peer ($BUILD/peers/mcp).
tools/dev bench-delegate runs it.
"""
import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def start_fake(tmp):
    port_file = os.path.join(tmp, "fake.port")
    p = subprocess.Popen([sys.executable, os.path.join(TOP, "tests/fakes/fake_llm.py"), "--port", "0",
                          "--port-file", port_file, "--key", "sk-bench-key"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(500):
        if os.path.exists(port_file) and open(port_file).read().strip():
            return p, int(open(port_file).read())
        time.sleep(0.01)
    raise RuntimeError("fake_llm.py did not start")


def run_direct(claude, fake_port, home, cwd, task):
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8", "DISABLE_AUTOUPDATER": "1",
           "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{fake_port}",
           "ANTHROPIC_API_KEY": "sk-bench-key"}
    t0 = time.monotonic()
    p = subprocess.Popen([claude, "-p", "--output-format", "stream-json", "--verbose", "--max-turns", "3", "--", task],
                         env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    first = result = None
    for line in p.stdout:
        now = time.monotonic() - t0
        if first is None:
            first = now
        try:
            if json.loads(line).get("type") == "result":
                result = now
        except ValueError:
            pass
    p.wait()
    if result is None:
        raise RuntimeError("claude gave no result line")
    return first * 1000, result * 1000


class Web:
    def __init__(self, port, token):
        self.port, self.token = port, token

    def post(self, session, text):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/api/messages",
                                     data=json.dumps({"session": session, "text": text}).encode(),
                                     headers={"Authorization": f"Bearer {self.token}",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            if r.status != 202:
                raise RuntimeError(f"POST /api/messages: {r.status}")

    def stream(self, session):
        s = socket.create_connection(("127.0.0.1", self.port))
        s.sendall(f"GET /api/stream?session={session} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  f"Authorization: Bearer {self.token}\r\nAccept: text/event-stream\r\n\r\n".encode())
        buf = b""
        while b"retry:" not in buf:
            buf += s.recv(4096)
        return s


def run_weft(web, n, task):
    session = f"bench{n}"
    s = web.stream(session)
    t0 = time.monotonic()
    web.post(session, task)
    first = None
    buf = b""
    s.settimeout(120)
    while True:
        chunk = s.recv(65536)
        if not chunk:
            raise RuntimeError("the SSE stream closed")
        buf += chunk
        now = time.monotonic() - t0
        if first is None and b"event: delta" in buf:
            first = now
        if b"event: message" in buf:
            s.close()
            if b"Claude Code," not in buf:
                raise RuntimeError("the reply did not come from Claude Code: " + buf.decode(errors="replace")[-500:])
            return first * 1000, now * 1000


def start_weftd(build, tmp, fake_port, claude):
    ws = os.path.join(tmp, "ws")
    os.makedirs(ws, exist_ok=True)
    cfg = os.path.join(tmp, "clawft.toml")
    with open(cfg, "w") as f:
        f.write(f"""[providers.anthropic]
style = "anthropic"
base_url = "http://127.0.0.1:{fake_port}"
api_key = "sk-bench-key"
model = "fake-claude"

[llm]
default_provider = "anthropic"

[memory]
enabled = false

[agents.main]
workspace = "{ws}"

[channels.web]
listen = "127.0.0.1:0"

[delegation]
claude_path = "{claude}"
[delegation.routing_rules]
"^bench\\\\b" = "flow"
""")
    run = os.path.join(tmp, "run")
    env = dict(os.environ, WEFT_HOME=os.path.join(tmp, "home"), WEFT_LOG="warning")
    env.pop("NOTIFY_SOCKET", None)
    p = subprocess.Popen([os.path.join(build, "services/weftd/weftd"), "--config", cfg, "--runtime-dir", run],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    port_file = os.path.join(run, "web.port")
    token_file = os.path.join(tmp, "home/channels/web/token")
    for _ in range(3000):
        if os.path.exists(port_file) and os.path.exists(token_file) and open(port_file).read().strip():
            return p, Web(int(open(port_file).read()), open(token_file).read().strip()), ws
        time.sleep(0.01)
    raise RuntimeError("weftd's web chat did not come up")


def summary(xs):
    xs = sorted(xs)
    return statistics.median(xs), xs[0], xs[-1]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build")
    ap.add_argument("--rounds", type=int, default=10)
    o = ap.parse_args()
    build = os.path.abspath(o.build)
    claude = os.path.join(build, "peers/mcp/node_modules/.bin/claude")
    if not os.path.exists(claude):
        sys.exit(f"error: the Claude Code test peer is not installed at '{claude}': run tools/dev peers")
    with tempfile.TemporaryDirectory(prefix="weft-bench-delegate-") as tmp:
        fake, fake_port = start_fake(tmp)
        weftd = None
        try:
            weftd, web, ws = start_weftd(build, tmp, fake_port, claude)
            home = os.path.join(tmp, "direct-home")
            os.makedirs(home, exist_ok=True)
            task = "bench: say hello"
            # One of each first: Claude Code's first start on a machine is slower (page cache).
            run_direct(claude, fake_port, home, ws, task)
            run_weft(web, 0, task)
            d_first, d_result, w_first, w_result = [], [], [], []
            for n in range(1, o.rounds + 1):
                order = [0, 1] if n % 2 else [1, 0]
                for which in order:
                    if which == 0:
                        a, b = run_direct(claude, fake_port, home, ws, task)
                        d_first.append(a)
                        d_result.append(b)
                    else:
                        a, b = run_weft(web, n, task)
                        w_first.append(a)
                        w_result.append(b)
                print(f"  round {n}/{o.rounds}: direct {d_first[-1]:.0f}/{d_result[-1]:.0f} ms, "
                      f"weft {w_first[-1]:.0f}/{w_result[-1]:.0f} ms", file=sys.stderr)
        finally:
            if weftd:
                os.killpg(weftd.pid, 15)
                weftd.wait(timeout=30)
            fake.terminate()
    print(f"delegation overhead, {o.rounds} rounds (median [min … max], ms)")
    rows = [("first streamed step", d_first, w_first), ("result", d_result, w_result)]
    for name, d, w in rows:
        dm, dlo, dhi = summary(d)
        wm, wlo, whi = summary(w)
        print(f"  {name:<20} claude -p alone {dm:7.1f} [{dlo:.1f} … {dhi:.1f}]   through weft {wm:7.1f} "
              f"[{wlo:.1f} … {whi:.1f}]   weft − alone {wm - dm:+.1f}")


if __name__ == "__main__":
    main()
