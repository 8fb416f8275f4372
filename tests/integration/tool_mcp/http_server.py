#!/usr/bin/env python3
"""A minimal Streamable HTTP MCP server on 127.0.0.1:<port> (argv[1]) for tool-mcp-host:
JSON answers to initialize, tools/list and ping, 202 to notifications; tools/call of
'cut' answers with an event stream that ends without the response (no GET stream: 405)."""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


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
        self.reply(405)

    def do_DELETE(self):
        self.reply(200)

    def do_POST(self):
        m = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        method, mid, params = m.get("method"), m.get("id"), m.get("params") or {}
        if mid is None or method is None:
            return self.reply(202)
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
