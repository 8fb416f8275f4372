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
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DRIVER = os.path.join(HERE, "sdk_client.mjs")
LOOPBACK = os.path.join(HERE, "loopback.cjs")

failures = []


def check(cond, what, detail=None):
    if cond:
        print("ok:   " + what)
    else:
        failures.append(what)
        print("FAIL: " + what + ("" if detail is None else "\n      " + str(detail)[:2000]))
    return cond


def bin_path(peers, name):
    return os.path.join(peers, "node_modules", ".bin", name)


def drive(peers, plan, target, env=None):
    """Runs the driver; returns (hello, [op lines]) or (None, []) after reporting why."""
    cmd = ["node", DRIVER, "--peers", peers, "--plan", json.dumps(plan)]
    for k, v in (env or {}).items():
        cmd += ["--env", "%s=%s" % (k, v)]
    cmd += target
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        check(False, "driver finished within 30 s: " + " ".join(target))
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
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()
    check(False, "everything (HTTP): found a free port in 3 attempts")


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
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print("%d check(s) failed: %s" % (len(failures), "; ".join(failures)))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
