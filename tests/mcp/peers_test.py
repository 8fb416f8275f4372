#!/usr/bin/env python3
"""peers_test.py — the pinned npm MCP peers work, and so does tests/mcp/sdk_client.mjs.

Runs sdk_client.mjs (TypeScript SDK v1 client) against the real reference servers from
$WEFT_MCP_PEERS (installed by `tools/dev setup` / `tools/dev peers`):
  - server-everything over stdio: tools/list, echo, the unsolicited tools/list_changed,
    ping, an unknown method (-32601);
  - server-filesystem over stdio on a temp dir: write_file then read_text_file;
  - server-memory over stdio (MEMORY_FILE_PATH in a temp dir): create_entities, then
    read_graph in a second session (the graph was persisted);
  - server-everything over Streamable HTTP on a free 127.0.0.1 port: echo.
and sdk_client.mjs --modern (TypeScript SDK v2 client pinned to 2026-07-28) against
tests/mcp/modern_server.mjs (SDK v2 server) over stdio and over HTTP: tools/list, add,
toggle -> notifications/tools/list_changed on the subscriptions/listen stream, ping refused
by the SDK; and --modern against server-everything (legacy only): version negotiation fails.

usage: peers_test.py            (env WEFT_MCP_PEERS=<build>/peers/mcp; set by meson)
Fails (never skips) when node or the peers are missing.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DRIVER = os.path.join(HERE, "sdk_client.mjs")
LOOPBACK = os.path.join(HERE, "loopback.cjs")
MODERN_SERVER = os.path.join(HERE, "modern_server.mjs")

failures = []


def stop(proc):
    """Terminates a server this test started; kills it if it does not go within 5 s."""
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def check(cond, what, detail=None):
    if cond:
        print("ok:   " + what)
    else:
        failures.append(what)
        print("FAIL: " + what + ("" if detail is None else "\n      " + str(detail)[:2000]))
    return cond


def bin_path(peers, name):
    return os.path.join(peers, "node_modules", ".bin", name)


def run_driver(peers, plan, target, env=None, modern=False):
    """Runs the driver; returns the CompletedProcess, or None (reported) after 30 s."""
    cmd = ["node", DRIVER, "--peers", peers, "--plan", json.dumps(plan)]
    if modern:
        cmd.append("--modern")
    for k, v in (env or {}).items():
        cmd += ["--env", "%s=%s" % (k, v)]
    cmd += target
    try:
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        check(False, "driver finished within 30 s: " + " ".join(target))
        return None


def drive(peers, plan, target, env=None, modern=False):
    """Runs the driver; returns (hello, [op lines]) or (None, []) after reporting why."""
    r = run_driver(peers, plan, target, env, modern)
    if r is None:
        return None, []
    if not check(r.returncode == 0, "driver exit 0 for " + " ".join(target),
                 "exit %d; stderr: %s" % (r.returncode, r.stderr)):
        return None, []
    lines = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
    if not check(len(lines) == len(plan) + 1, "one line per op (%d ops)" % len(plan), r.stdout):
        return None, []
    return lines[0], lines[1:]


def text_of(line):
    """The text blocks of a call result, joined."""
    if not line.get("ok"):
        return None
    return "".join(b.get("text", "") for b in line["result"].get("content", []) if b.get("type") == "text")


def everything_stdio(peers):
    plan = [{"op": "list"},
            {"op": "call", "name": "echo", "arguments": {"message": "hi"}},
            {"op": "wait_list_changed", "timeout_ms": 5000},
            {"op": "ping"},
            {"op": "raw", "method": "no/such/method", "params": {}}]
    hello, ops = drive(peers, plan, ["--stdio", "node", bin_path(peers, "mcp-server-everything"), "stdio"])
    if hello is None:
        return
    check(hello.get("protocolVersion") == "2025-11-25", "everything: negotiated 2025-11-25", hello.get("protocolVersion"))
    check((hello.get("capabilities") or {}).get("tools", {}).get("listChanged") is True,
          "everything: tools.listChanged capability", hello.get("capabilities"))
    names = ops[0].get("result", {}).get("names", [])
    check({"echo", "get-sum", "get-env"} <= set(names), "everything: tools/list has echo, get-sum, get-env", names)
    check(text_of(ops[1]) == "Echo: hi", "everything: echo -> 'Echo: hi'", ops[1])
    check(ops[2].get("ok") is True, "everything: unsolicited notifications/tools/list_changed", ops[2])
    check(ops[3] == {"op": "ping", "ok": True, "result": {}}, "everything: ping", ops[3])
    check(ops[4].get("ok") is False and ops[4]["error"].get("code") == -32601,
          "everything: unknown method -> -32601", ops[4])


def filesystem(peers, work):
    root = os.path.realpath(os.path.join(work, "fs"))
    os.makedirs(root)
    path = os.path.join(root, "note.txt")
    plan = [{"op": "list"},
            {"op": "call", "name": "write_file", "arguments": {"path": path, "content": "hello weft\n"}},
            {"op": "call", "name": "read_text_file", "arguments": {"path": path}},
            {"op": "call", "name": "read_text_file", "arguments": {"path": "/etc/hostname"}}]
    hello, ops = drive(peers, plan, ["--stdio", "node", bin_path(peers, "mcp-server-filesystem"), root])
    if hello is None:
        return
    names = ops[0].get("result", {}).get("names", [])
    check({"read_text_file", "write_file", "list_directory"} <= set(names),
          "filesystem: tools/list has read_text_file, write_file, list_directory", names)
    check(ops[1].get("ok") and not ops[1]["result"].get("isError"), "filesystem: write_file", ops[1])
    check(os.path.exists(path) and open(path).read() == "hello weft\n", "filesystem: the file is on disk")
    check(text_of(ops[2]) == "hello weft\n", "filesystem: read_text_file returns the content", ops[2])
    check(ops[2].get("result", {}).get("structuredContent") == {"content": "hello weft\n"},
          "filesystem: structuredContent", ops[2])
    check(ops[3].get("ok") and ops[3]["result"].get("isError") is True,
          "filesystem: a path outside the allowed dir is a tool error (isError)", ops[3])


def memory(peers, work):
    graph = os.path.join(work, "memory.jsonl")
    target = ["--stdio", "node", bin_path(peers, "mcp-server-memory")]
    entity = {"name": "weft", "entityType": "project", "observations": ["C++ gateway"]}
    hello, ops = drive(peers, [{"op": "list"},
                               {"op": "call", "name": "create_entities", "arguments": {"entities": [entity]}}],
                       target, env={"MEMORY_FILE_PATH": graph})
    if hello is None:
        return
    names = ops[0].get("result", {}).get("names", [])
    check({"create_entities", "read_graph", "search_nodes"} <= set(names),
          "memory: tools/list has create_entities, read_graph, search_nodes", names)
    check(ops[1].get("ok") and not ops[1]["result"].get("isError"), "memory: create_entities", ops[1])
    on_disk = open(graph).read() if os.path.exists(graph) else ""
    check('"name":"weft"' in on_disk, "memory: the entity is in MEMORY_FILE_PATH", on_disk)
    # A second session (a new server process) reads the graph back from the file.
    hello, ops = drive(peers, [{"op": "call", "name": "read_graph", "arguments": {}}],
                       target, env={"MEMORY_FILE_PATH": graph})
    if hello is None:
        return
    structured = ops[0].get("result", {}).get("structuredContent") or {}
    entities = structured.get("entities") or json.loads(text_of(ops[0]) or "{}").get("entities", [])
    check(any(e.get("name") == "weft" and e.get("observations") == ["C++ gateway"] for e in entities),
          "memory: read_graph in a new session returns the entity", ops[0])


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, proc, timeout=15):
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def everything_http(peers, work):
    log_path = os.path.join(work, "everything-http.log")
    for attempt in range(3):  # the free port may be taken between probe and bind
        port = free_port()
        log = open(log_path, "w")
        proc = subprocess.Popen(["node", "--require", LOOPBACK, bin_path(peers, "mcp-server-everything"),
                                 "streamableHttp"],
                                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PORT": str(port)},
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        try:
            if not wait_listening(port, proc):
                if proc.poll() is not None and "already in use" in open(log_path).read():
                    continue
                check(False, "everything (HTTP): listening on 127.0.0.1:%d" % port, open(log_path).read())
                return
            hello, ops = drive(peers, [{"op": "call", "name": "echo", "arguments": {"message": "hi"}},
                                       {"op": "ping"}],
                               ["--url", "http://127.0.0.1:%d/mcp" % port, "--header", "X-Weft-Test: 1"])
            if hello is None:
                return
            check(hello.get("protocolVersion") == "2025-11-25", "everything (HTTP): negotiated 2025-11-25", hello)
            check(bool(hello.get("sessionId")), "everything (HTTP): Mcp-Session-Id", hello)
            check(text_of(ops[0]) == "Echo: hi", "everything (HTTP): echo -> 'Echo: hi'", ops[0])
            check(ops[1].get("ok") is True, "everything (HTTP): ping", ops[1])
            return
        finally:
            stop(proc)
            log.close()
    check(False, "everything (HTTP): found a free port in 3 attempts")


# The modern plan: toggle adds the tool `bonus` and notifies the listen streams; the wait
# before it must time out (nothing arrives unprompted), the one after it must not.
MODERN_PLAN = [{"op": "list"},
               {"op": "call", "name": "add", "arguments": {"a": 2, "b": 3}},
               {"op": "wait_list_changed", "timeout_ms": 300},
               {"op": "call", "name": "toggle", "arguments": {}},
               {"op": "wait_list_changed", "timeout_ms": 5000},
               {"op": "list"},
               {"op": "call", "name": "toggle", "arguments": {}},
               {"op": "wait_list_changed", "timeout_ms": 5000},
               {"op": "ping"},
               {"op": "raw", "method": "server/discover"}]


def check_modern(what, hello, ops):
    if hello is None:
        return
    check(hello.get("protocolVersion") == "2026-07-28", what + ": protocolVersion 2026-07-28", hello)
    check("sessionId" not in hello, what + ": no sessionId", hello)
    check((hello.get("serverVersion") or {}).get("name") == "weft-modern-test", what + ": serverVersion", hello)
    check((hello.get("capabilities") or {}).get("tools", {}).get("listChanged") is True,
          what + ": tools.listChanged capability", hello)
    names = ops[0].get("result", {}).get("names", [])
    check(sorted(names) == ["add", "echo", "slow", "toggle"], what + ": tools/list is add, echo, toggle, slow", ops[0])
    check(text_of(ops[1]) == "5" and ops[1]["result"].get("structuredContent") == {"sum": 5},
          what + ": add {a:2,b:3} -> '5', structuredContent {sum:5}", ops[1])
    check(ops[2].get("ok") is False, what + ": no list_changed before toggle", ops[2])
    check(text_of(ops[3]) == "bonus on", what + ": toggle -> 'bonus on'", ops[3])
    check(ops[4].get("ok") is True, what + ": notifications/tools/list_changed after toggle (subscriptions/listen)",
          ops[4])
    check("bonus" in ops[5].get("result", {}).get("names", []), what + ": tools/list then has bonus", ops[5])
    check(text_of(ops[6]) == "bonus off", what + ": toggle back -> 'bonus off'", ops[6])
    check(ops[7].get("ok") is True, what + ": list_changed after toggling back", ops[7])
    check(ops[8].get("ok") is False and
          (ops[8].get("error") or {}).get("sdkCode") == "METHOD_NOT_SUPPORTED_BY_PROTOCOL_VERSION",
          what + ": ping refused by the SDK (removed in 2026-07-28)", ops[8])
    check(ops[9].get("ok") is True and "2026-07-28" in ops[9]["result"].get("supportedVersions", []),
          what + ": raw server/discover offers 2026-07-28", ops[9])


def modern_stdio(peers):
    hello, ops = drive(peers, MODERN_PLAN, ["--stdio", "node", MODERN_SERVER],
                       env={"WEFT_MCP_PEERS": peers}, modern=True)
    check_modern("modern (stdio)", hello, ops)


def modern_http(peers):
    proc = subprocess.Popen(["node", MODERN_SERVER, "--http", "0"],
                            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "WEFT_MCP_PEERS": peers},
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    log = []
    try:
        # The first stderr line is "listening <port>"; the rest is drained for the report.
        ready = threading.Event()
        port = []

        def drain():
            for line in proc.stderr:
                log.append(line)
                if not port and line.startswith("listening "):
                    port.append(int(line.split()[1]))
                    ready.set()
            ready.set()
        threading.Thread(target=drain, daemon=True).start()
        if not check(ready.wait(15) and port, "modern (HTTP): server says 'listening <port>'", "".join(log)):
            return
        hello, ops = drive(peers, MODERN_PLAN,
                           ["--url", "http://127.0.0.1:%d/mcp" % port[0], "--header", "X-Weft-Test: 1"], modern=True)
        check_modern("modern (HTTP)", hello, ops)
    finally:
        stop(proc)


def modern_vs_legacy(peers):
    r = run_driver(peers, [{"op": "list"}], ["--stdio", "node", bin_path(peers, "mcp-server-everything"), "stdio"],
                   modern=True)
    if r is None:
        return
    check(r.returncode == 1 and r.stdout == "", "--modern vs server-everything (legacy only): exit 1, no output",
          "exit %d; stdout: %s; stderr: %s" % (r.returncode, r.stdout, r.stderr))
    check("Version negotiation failed" in r.stderr and "2026-07-28" in r.stderr,
          "--modern vs server-everything: stderr names the version negotiation", r.stderr)


def main():
    if len(sys.argv) > 1:
        print(__doc__)
        return 2
    peers = os.environ.get("WEFT_MCP_PEERS", "")
    if not shutil.which("node"):
        print("FAIL: node is not on PATH (run tools/dev setup)")
        return 1
    sdk = os.path.join(peers, "node_modules", "@modelcontextprotocol", "sdk", "package.json")
    if not peers or not os.path.exists(sdk):
        print("FAIL: the MCP test peers are not installed at WEFT_MCP_PEERS='%s': run tools/dev setup "
              "(or tools/dev peers; WEFT_BUILD_DIR=<your build dir> for a build dir other than build/)" % peers)
        return 1
    work = tempfile.mkdtemp(prefix="weft-mcp-peers-")
    try:
        everything_stdio(peers)
        filesystem(peers, work)
        memory(peers, work)
        everything_http(peers, work)
        modern_stdio(peers)
        modern_http(peers)
        modern_vs_legacy(peers)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print("%d check(s) failed: %s" % (len(failures), "; ".join(failures)))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
