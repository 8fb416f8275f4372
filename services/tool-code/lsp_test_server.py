#!/usr/bin/env python3
"""A misbehaving language server for lsp_test.cc: answers initialize, then sends what a
buggy server might — $/progress whose kind is a number, a notification with params of the
wrong types, a server request weft does not know — before answering each hover with a
fixed text, and exits when asked to shut down."""
import json
import sys


def send(obj):
    body = json.dumps(obj).encode()
    sys.stdout.buffer.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    sys.stdout.buffer.flush()


def read():
    length = None
    while True:
        line = sys.stdin.buffer.readline()
        if not line:
            sys.exit(0)
        line = line.strip()
        if not line:
            break
        k, _, v = line.partition(b":")
        if k.lower() == b"content-length":
            length = int(v)
    return json.loads(sys.stdin.buffer.read(length))


while True:
    m = read()
    method = m.get("method")
    if method == "initialize":
        send({"jsonrpc": "2.0", "id": m["id"], "result": {"capabilities": {"hoverProvider": True}}})
    elif method == "initialized":
        send({"jsonrpc": "2.0", "method": "$/progress", "params": {"token": 1, "value": {"kind": 5}}})
        send({"jsonrpc": "2.0", "method": "$/progress", "params": {"token": [], "value": []}})
        send({"jsonrpc": "2.0", "method": "textDocument/publishDiagnostics", "params": {"uri": 7}})
        send({"jsonrpc": "2.0", "id": "srv-1", "method": "weird/request", "params": None})
        send({"jsonrpc": "2.0", "id": 99999, "result": "an answer to nothing"})
    elif method == "textDocument/hover":
        send({"jsonrpc": "2.0", "id": m["id"], "result": {"contents": {"kind": "plaintext", "value": "still here"}}})
    elif method == "shutdown":
        send({"jsonrpc": "2.0", "id": m["id"], "result": None})
    elif method == "exit":
        sys.exit(0)
