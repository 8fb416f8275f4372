#!/usr/bin/env python3
"""A stdio MCP server that answers initialize and tools/list, then hangs: it keeps reading
but never answers again (tool-mcp-host: the ping health check must restart it)."""
import json
import sys

for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    method, mid = m.get("method"), m.get("id")
    if method == "initialize":
        result = {"protocolVersion": m["params"]["protocolVersion"], "capabilities": {"tools": {}},
                  "serverInfo": {"name": "hang", "version": "1"}}
    elif method == "tools/list":
        result = {"tools": [{"name": "nap", "description": "Never answers.", "inputSchema": {"type": "object"}}]}
    else:
        continue  # ping, tools/call: silence
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": mid, "result": result}) + "\n")
    sys.stdout.flush()
