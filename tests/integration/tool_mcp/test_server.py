#!/usr/bin/env python3
"""A single-threaded stdio MCP server for tool-mcp-host (it answers one message at a time,
like many real servers).

  test_server.py        tools: nap {seconds} (sleeps, then answers "slept"), echo {any},
                        cancelled (the requestIds of the notifications/cancelled received)
  test_server.py big    the same plus 300 tools with 4 KiB descriptions (~1.3 MB of tools)
  test_server.py stubborn   does not exit when its stdin closes (sleeps an hour)
  test_server.py changing   sends notifications/tools/list_changed just before its first
                            tools/list answer; later listings add the tool 'extra'
  test_server.py quitter FILE   speaks 2026-07-28 (server/discover, tools.listChanged) and
                            ends every subscriptions/listen at once, appending the
                            CLOCK_MONOTONIC time of each to FILE
"""
import json
import sys
import time

big = "big" in sys.argv[1:]
stubborn = "stubborn" in sys.argv[1:]
changing = "changing" in sys.argv[1:]
quitter = sys.argv[2] if len(sys.argv) > 2 and sys.argv[1] == "quitter" else None
listings = 0
cancelled = []
obj = {"type": "object"}
tools = [{"name": "nap", "description": "Sleeps.", "inputSchema": obj},
         {"name": "echo", "description": "Echoes its arguments.", "inputSchema": obj},
         {"name": "cancelled", "description": "Cancellations received.", "inputSchema": obj}]
if big:
    tools += [{"name": f"t{i:03}", "description": "x" * 4096, "inputSchema": obj} for i in range(300)]


def text(t):
    return {"content": [{"type": "text", "text": t}]}


for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    method, mid, params = m.get("method"), m.get("id"), m.get("params") or {}
    if method == "notifications/cancelled":
        cancelled.append(params.get("requestId"))
        continue
    if mid is None or method is None:
        continue
    if quitter and method == "server/discover":
        result = {"supportedVersions": ["2026-07-28"], "capabilities": {"tools": {"listChanged": True}},
                  "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "quitter", "version": "1"}}}
    elif quitter and method == "subscriptions/listen":
        with open(quitter, "a") as f:
            f.write(f"{time.monotonic()}\n")
        result = {}
    elif method == "initialize":
        result = {"protocolVersion": params["protocolVersion"], "capabilities": {"tools": {}},
                  "serverInfo": {"name": "test", "version": "1"}}
    elif method == "tools/list":
        listings += 1
        result = {"tools": tools}
        if changing and listings == 1:
            sys.stdout.write(json.dumps({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}) + "\n")
        elif changing:
            result = {"tools": tools + [{"name": "extra", "description": "Added.", "inputSchema": obj}]}
    elif method == "ping":
        result = {}
    elif method == "tools/call":
        name, args = params.get("name"), params.get("arguments") or {}
        if name == "nap":
            time.sleep(float(args.get("seconds", 1)))
            result = text("slept")
        elif name == "echo":
            result = text(json.dumps(args))
        elif name == "cancelled":
            result = text(json.dumps(cancelled))
        else:
            result = text("no such tool")
    else:
        sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": mid,
                                     "error": {"code": -32601, "message": "Method not found"}}) + "\n")
        sys.stdout.flush()
        continue
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": mid, "result": result}) + "\n")
    sys.stdout.flush()

if stubborn:
    time.sleep(3600)
