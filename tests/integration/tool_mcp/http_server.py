#!/usr/bin/env python3
"""A minimal Streamable HTTP MCP server on 127.0.0.1:<port> (argv[1]) for tool-mcp-host.

At /mcp: JSON answers to initialize, tools/list and ping, 202 to notifications; tools/call
of 'cut' answers with an event stream that ends without the response (no GET stream: 405).

Two slow 2026-07-28 servers, whose first server/discover is answered after 3 s:
  /slow-modern  speaks only 2026-07-28: refuses initialize at once (HTTP 400, -32022)
  /slow-both    speaks both eras: answers initialize after 2.5 s with session 's-1', has no
                subscriptions/listen (HTTP 404, -32601)
Their tool 'hello' answers "hello from <path>".

  /resume       legacy, session 'r-1', no standalone GET stream (405): tools/call of 'later'
                answers with an event stream that carries only a priming event (id, retry:
                200) and ends; the answer comes on a GET with that Last-Event-ID: "resumed"
                and the request's _meta as JSON.
  /reject-once  speaks only 2026-07-28, but refuses the first server/discover with -32022
                listing 2026-07-28 (as a conformance check does); initialize is refused
                (HTTP 400, -32600). Tool 'hello' as above.

Every request is appended to argv[2] (when given) as "<METHOD> <path> <Mcp-Session-Id>
<X-Trace> <Last-Event-ID or JSON-RPC method>" ('-' for what is absent)."""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log_path = sys.argv[2] if len(sys.argv) > 2 else None
lock = threading.Lock()
discovered = set()
held = {}  # /resume: event id -> the answer a GET with that Last-Event-ID gets


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

    def record(self, what):
        h = self.headers
        record(f"{self.command} {self.path} {h.get('Mcp-Session-Id', '-')} {h.get('X-Trace', '-')} {what or '-'}")

    def do_GET(self):
        last = self.headers.get("Last-Event-ID")
        self.record(last)
        with lock:
            answer = held.pop(last, None) if self.path == "/resume" and last else None
        if answer is None:
            return self.reply(405)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(("id: e2\nevent: message\ndata: " + json.dumps(answer) + "\n\n").encode())
        self.close_connection = True

    def do_DELETE(self):
        self.record(None)
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

    def initialized(self, mid, params, name, session):
        return self.answer(mid, {"protocolVersion": params["protocolVersion"], "capabilities": {"tools": {}},
                                 "serverInfo": {"name": name, "version": "1"}},
                           headers=[("Mcp-Session-Id", session)])

    def one_tool(self, mid, name, description):
        return self.answer(mid, {"tools": [{"name": name, "description": description,
                                            "inputSchema": {"type": "object"}}]})

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
            return self.initialized(mid, params, "slow-both", "s-1")
        if method == "tools/list":
            return self.one_tool(mid, "hello", "Says hello.")
        if method == "tools/call":
            return self.answer(mid, {"content": [{"type": "text", "text": f"hello from {path}"}]})
        return self.answer(mid, error=(-32601, f"Method not found: {method}"), status=404)

    def resume(self, method, mid, params):
        if method == "initialize":
            return self.initialized(mid, params, "resume", "r-1")
        if method == "tools/list":
            return self.one_tool(mid, "later", "Answers on a resumed stream.")
        if method == "tools/call":
            text = "resumed " + json.dumps(params.get("_meta", {}), sort_keys=True)
            with lock:
                held["e1"] = {"jsonrpc": "2.0", "id": mid, "result": {"content": [{"type": "text", "text": text}]}}
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"id: e1\nretry: 200\ndata: \n\n")  # priming event, then the end
            self.close_connection = True
            return
        return self.answer(mid, {})

    def reject_once(self, method, mid, params):
        if method == "server/discover":
            with lock:
                first = self.path not in discovered
                discovered.add(self.path)
            if first:
                body = {"jsonrpc": "2.0", "id": mid, "error": {"code": -32022, "message": "Unsupported protocol version",
                        "data": {"supported": ["2026-07-28"], "requested": "2026-07-28"}}}
                return self.reply(400, json.dumps(body).encode())
            return self.answer(mid, {"supportedVersions": ["2026-07-28"], "capabilities": {"tools": {}},
                                     "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "reject-once", "version": "1"}}})
        if method == "initialize":
            return self.answer(mid, error=(-32600, "this server speaks 2026-07-28 only"), status=400)
        if "_meta" not in params:
            return self.answer(mid, error=(-32602, "no _meta"), status=400)
        return self.slow(method, mid, params)

    def do_POST(self):
        m = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        method, mid, params = m.get("method"), m.get("id"), m.get("params") or {}
        self.record(method)
        if mid is None or method is None:
            return self.reply(202)
        if self.path in ("/slow-modern", "/slow-both"):
            return self.slow(method, mid, params)
        if self.path == "/resume":
            return self.resume(method, mid, params)
        if self.path == "/reject-once":
            return self.reject_once(method, mid, params)
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
