#!/usr/bin/env python3
"""A stdio MCP server for weft-bench-mcp that answers at once (Python stdlib only).

    bench_server.py [--tools N] [--page P]

Serves N tools (default 1; 0: none): `echo` (arguments {"message": string} → "Echo: <message>", like
server-everything) and N-1 more, `tool_001`…, each with a realistic input schema of three properties, so
tools/list can be measured with many tools. tools/list is paginated, P tools per page
(nextCursor). Legacy era only: initialize, notifications/initialized, ping, tools/list,
tools/call; anything else is -32601. One JSON-RPC message per line on stdin/stdout.
"""
import json
import sys

VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05")


def make_tools(n):
    if n <= 0:
        return []
    tools = [{
        "name": "echo",
        "description": "Echoes back the input.",
        "inputSchema": {
            "type": "object",
            "properties": {"message": {"type": "string", "description": "Message to echo"}},
            "required": ["message"],
        },
    }]
    for i in range(1, n):
        tools.append({
            "name": f"tool_{i:03d}",
            "title": f"Benchmark tool {i}",
            "description": f"Looks up record {i} of the benchmark catalogue and returns a summary "
                           "of its fields; filters and limits narrow the answer.",
            "inputSchema": {
                "type": "object",
                "properties": {
                    "query": {"type": "string", "description": "What to look for (free text)."},
                    "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10,
                              "description": "Most results to return."},
                    "fields": {"type": "array", "items": {"type": "string"},
                               "description": "Which fields to include; empty: all."},
                },
                "required": ["query"],
                "additionalProperties": False,
            },
        })
    return tools


def main():
    n, page = 1, 100
    args = sys.argv[1:]
    if "--help" in args or "-h" in args:
        print(__doc__.strip())
        return 0
    for i, a in enumerate(args):
        if a == "--tools":
            n = int(args[i + 1])
        elif a == "--page":
            page = max(1, int(args[i + 1]))
    tools = make_tools(n)
    names = {t["name"] for t in tools}
    out = sys.stdout.buffer

    def send(obj):
        out.write(json.dumps(obj, separators=(",", ":")).encode() + b"\n")
        out.flush()

    for raw in sys.stdin.buffer:
        raw = raw.strip()
        if not raw:
            continue
        try:
            msg = json.loads(raw)
        except ValueError:
            send({"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "Parse error"}})
            continue
        if not isinstance(msg, dict) or "method" not in msg:
            continue  # a response or junk: nothing to answer
        method, mid, params = msg["method"], msg.get("id"), msg.get("params") or {}
        if mid is None:
            continue  # notifications
        if method == "initialize":
            want = params.get("protocolVersion")
            result = {"protocolVersion": want if want in VERSIONS else VERSIONS[0],
                      "capabilities": {"tools": {"listChanged": False}},
                      "serverInfo": {"name": "weft-bench-server", "version": "1.0"}}
        elif method == "ping":
            result = {}
        elif method == "tools/list":
            start = int(params.get("cursor") or 0)
            result = {"tools": tools[start:start + page]}
            if start + page < len(tools):
                result["nextCursor"] = str(start + page)
        elif method == "tools/call":
            name, a = params.get("name"), params.get("arguments") or {}
            if name not in names:
                send({"jsonrpc": "2.0", "id": mid, "error": {"code": -32602, "message": f"Unknown tool: {name}"}})
                continue
            text = f"Echo: {a.get('message', '')}" if name == "echo" else f"{name}: no records for {a.get('query', '')!r}"
            result = {"content": [{"type": "text", "text": text}]}
        else:
            send({"jsonrpc": "2.0", "id": mid, "error": {"code": -32601, "message": f"Method not found: {method}"}})
            continue
        send({"jsonrpc": "2.0", "id": mid, "result": result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
