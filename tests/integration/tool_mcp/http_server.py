#!/usr/bin/env python3
"""A minimal Streamable HTTP MCP server on 127.0.0.1:<port> (argv[1]) for tool-mcp-host.

At /mcp: JSON answers to initialize, tools/list and ping, 202 to notifications; tools/call
of 'cut' answers with an event stream that ends without the response (no GET stream: 405).

Two slow 2026-07-28 servers, whose first server/discover is answered after 3 s:
  /slow-modern  speaks only 2026-07-28: refuses initialize at once (HTTP 400, -32022)
  /slow-both    speaks both eras: answers initialize after 2.5 s with session 's-1', has no
                subscriptions/listen (HTTP 404, -32601)
Their tool 'hello' answers "hello from <path>". DELETE and GET requests are appended to
argv[2] (when given) as "<METHOD> <path> <Mcp-Session-Id>"."""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log_path = sys.argv[2] if len(sys.argv) > 2 else None
lock = threading.Lock()
discovered = set()


def record(line):
    if log_path:
        with lock, open(log_path, "a") as f:
            f.write(line + "\n")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body=b"", ctype="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        record(f"GET {self.path} {self.headers.get('Mcp-Session-Id', '-')}")
        self.reply(405)

    def do_DELETE(self):
        record(f"DELETE {self.path} {self.headers.get('Mcp-Session-Id', '-')}")
        self.reply(200)

    def answer(self, mid, result=None, error=None, status=200, headers=()):
        body = {"jsonrpc": "2.0", "id": mid}
        if error:
            body["error"] = {"code": error[0], "message": error[1]}
        else:
            body["result"] = result
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def slow(self, method, mid, params):
        path = self.path
        if method == "server/discover":
            with lock:
                first = path not in discovered
                discovered.add(path)
            if first:
                time.sleep(3.0)
            return self.answer(mid, {"supportedVersions": ["2026-07-28"],
                                     "capabilities": {"tools": {"listChanged": path == "/slow-both"}},
                                     "_meta": {"io.modelcontextprotocol/serverInfo": {"name": path[1:], "version": "1"}}})
        if method == "initialize":
            if path == "/slow-modern":
                return self.answer(mid, error=(-32022, "Unsupported protocol version: use 2026-07-28"), status=400)
            time.sleep(2.5)
            return self.answer(mid, {"protocolVersion": params["protocolVersion"], "capabilities": {"tools": {}},
                                     "serverInfo": {"name": "slow-both", "version": "1"}},
                               headers=[("Mcp-Session-Id", "s-1")])
        if method == "tools/list":
            return self.answer(mid, {"tools": [{"name": "hello", "description": "Says hello.",
                                                "inputSchema": {"type": "object"}}]})
        if method == "tools/call":
            return self.answer(mid, {"content": [{"type": "text", "text": f"hello from {path}"}]})
        return self.answer(mid, error=(-32601, f"Method not found: {method}"), status=404)

    def do_POST(self):
        m = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        method, mid, params = m.get("method"), m.get("id"), m.get("params") or {}
        if mid is None or method is None:
            return self.reply(202)
        if self.path in ("/slow-modern", "/slow-both"):
            return self.slow(method, mid, params)
        if method == "initialize":
            result = {"protocolVersion": params["protocolVersion"], "capabilities": {"tools": {}},
                      "serverInfo": {"name": "cut", "version": "1"}}
        elif method == "tools/list":
            result = {"tools": [{"name": "cut", "description": "Never answers.", "inputSchema": {"type": "object"}}]}
        elif method == "tools/call":
            # An event stream with a notification, then the end: no response.
            body = ("event: message\ndata: " + json.dumps({"jsonrpc": "2.0", "method": "notifications/message",
                                                         "params": {"level": "info", "data": "x"}}) + "\n\n").encode()
            return self.reply(200, body, "text/event-stream")
        else:
            result = {}
        self.reply(200, json.dumps({"jsonrpc": "2.0", "id": mid, "result": result}).encode())


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
