#!/usr/bin/env python3
"""fake_llm.py -- a scriptable fake LLM provider for weft's tests (Python stdlib only).

Speaks the real wire protocols over HTTP/1.1 with keep-alive, on 127.0.0.1:
  POST /v1/chat/completions   OpenAI chat completions (JSON or SSE with stream:true)
  POST /v1/messages           Anthropic Messages (JSON or SSE with stream:true)
  POST /v1/embeddings         OpenAI-compatible embeddings (data returned in reverse order,
                              so clients must match by index); model "fake-bow" gives a
                              64-dim bag-of-words vector per text (same words, same direction)
The /v1 prefix is optional. With --key K every API request must carry it (OpenAI:
"Authorization: Bearer K" or "api-key: K"; Anthropic: "x-api-key: K"), else 401 in the
provider's error shape.

Without a script the answer is "You said: <last user text>"; when the last user turn holds
tool results it is "Tool said: <result text>"; a user text of the form
"call_tool:<name> <json args>" makes the model call that tool.

Control endpoints:
  POST /_script    JSON list of steps, appended to the queue; each API request consumes one:
                   {"status":429,"headers":{"Retry-After":"1"},"message":"slow down"}
                   {"status":500}                 error in the provider's shape
                   {"malformed":true}             200 with a body that is not valid JSON
                                                  (stream: a data line that is not JSON)
                   {"cut_stream_after":2}         stream: close the connection after 2 events
                                                  (non-stream: after half the body)
                   {"stream_error":"overloaded_error"}  Anthropic/OpenAI error event mid-stream
                   {"text":"..."}                 answer with this text
                   {"tool_calls":[{"name":"exec","arguments":{"cmd":"ls"}}]}
                   {"usage":{"input":10,"output":5}}    token counts to report
                   {"delay_ms":200}               wait before answering (combinable)
  GET  /_requests  JSON list of received API requests: path, headers, body, t (monotonic s),
                   step (the script step used, or null)
  POST /_reset     clears the script and the request log

Usage: fake_llm.py [--host 127.0.0.1] [--port 0] [--port-file FILE] [--key KEY] [--delay-ms N]
  --delay-ms N     every chat answer without a scripted delay waits N ms (so requests are
                   in flight when a test kills a process)
"""

import argparse
import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
SCRIPT = []
REQUESTS = []
KEY = None
DELAY_MS = 0


def last_user(api, messages):
    """(kind, text): kind 'user' for text, 'tool' for tool results of the last user-side turn."""
    for m in reversed(messages or []):
        role = m.get("role")
        if api == "openai" and role == "tool":
            return "tool", str(m.get("content", ""))
        if role != "user":
            continue
        c = m.get("content")
        if isinstance(c, str):
            return "user", c
        if isinstance(c, list):
            tool = [b for b in c if isinstance(b, dict) and b.get("type") == "tool_result"]
            if tool:
                content = tool[-1].get("content", "")
                if isinstance(content, list):
                    content = "".join(b.get("text", "") for b in content if isinstance(b, dict))
                return "tool", str(content)
            return "user", "".join(b.get("text", "") for b in c if isinstance(b, dict) and b.get("type") == "text")
        return "user", ""
    return "user", ""


def plan_answer(api, body, step):
    """(text, tool_calls, usage) for a request and its script step."""
    kind, said = last_user(api, body.get("messages"))
    text, calls = None, []
    if step and "text" in step:
        text = step["text"]
    if step and "tool_calls" in step:
        calls = step["tool_calls"]
        text = text or ""
    if text is None:
        if kind == "user" and said.startswith("call_tool:"):
            rest = said[len("call_tool:"):].strip()
            name, _, args = rest.partition(" ")
            try:
                args = json.loads(args) if args.strip() else {}
            except ValueError:
                args = {"raw": args}
            calls, text = [{"name": name, "arguments": args}], ""
        else:
            text = ("Tool said: " if kind == "tool" else "You said: ") + said
    for i, c in enumerate(calls):
        c.setdefault("id", ("call_%d" if api == "openai" else "toolu_%d") % (i + 1))
        c.setdefault("arguments", {})
    in_chars = len(json.dumps(body.get("messages", [])))
    usage = {"input": max(1, in_chars // 4), "output": max(1, len(text) // 4 + 1)}
    if step and "usage" in step:
        usage.update(step["usage"])
    return text, calls, usage


def pieces(text):
    """Split text into small pieces (words with their leading space)."""
    out, cur = [], ""
    for ch in text:
        if ch == " " and cur:
            out.append(cur)
            cur = ""
        cur += ch
    if cur:
        out.append(cur)
    return out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-llm/1"

    def log_message(self, fmt, *args):  # quiet
        pass

    # --- plumbing -------------------------------------------------------------------
    def send_json(self, status, obj, headers=None):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def start_chunked(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def chunk(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def end_chunked(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def cut(self):
        """Drop the connection mid-response."""
        self.wfile.flush()
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # --- control ----------------------------------------------------------------------
    def do_GET(self):
        if self.path == "/_requests":
            with LOCK:
                self.send_json(200, REQUESTS)
            return
        if self.path in ("/health", "/_health"):
            self.send_json(200, {"status": "ok"})
            return
        self.send_json(404, {"error": {"message": "no such path: " + self.path}})

    def do_POST(self):
        raw = self.read_body()
        path = self.path.split("?")[0]
        if path == "/_script":
            steps = json.loads(raw or b"[]")
            if isinstance(steps, dict):
                steps = [steps]
            with LOCK:
                SCRIPT.extend(steps)
            self.send_json(200, {"queued": len(SCRIPT)})
            return
        if path == "/_reset":
            with LOCK:
                SCRIPT.clear()
                REQUESTS.clear()
            self.send_json(200, {"ok": True})
            return
        if path.startswith("/v1/"):
            path = path[3:]
        api = {"/chat/completions": "openai", "/messages": "anthropic", "/embeddings": "openai"}.get(path)
        if api is None:
            self.send_json(404, {"error": {"message": "no such path: " + self.path}})
            return
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = None
        with LOCK:
            step = SCRIPT.pop(0) if SCRIPT else None
            REQUESTS.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                             "body": body, "t": time.monotonic(), "step": step})
        if step and step.get("delay_ms"):
            time.sleep(step["delay_ms"] / 1000.0)
        elif DELAY_MS and path != "/embeddings":
            time.sleep(DELAY_MS / 1000.0)
        if KEY is not None and not self.authorised(api):
            self.error(api, 401, "invalid x-api-key" if api == "anthropic" else "Incorrect API key provided",
                       "authentication_error" if api == "anthropic" else "invalid_api_key")
            return
        if not isinstance(body, dict):
            self.error(api, 400, "request body is not JSON", "invalid_request_error")
            return
        if step and step.get("status") and step["status"] != 200:
            self.error(api, step["status"], step.get("message", "scripted failure %d" % step["status"]),
                       step.get("type"), step.get("headers"))
            return
        if path == "/embeddings":
            self.embeddings(body, step)
        elif body.get("stream"):
            self.stream(api, body, step)
        else:
            self.plain(api, body, step)

    def authorised(self, api):
        h = self.headers
        if api == "anthropic":
            return h.get("x-api-key") == KEY
        return h.get("Authorization") == "Bearer " + KEY or h.get("api-key") == KEY

    def error(self, api, status, message, etype=None, headers=None):
        if api == "anthropic":
            etype = etype or {429: "rate_limit_error", 529: "overloaded_error", 401: "authentication_error",
                              400: "invalid_request_error"}.get(status, "api_error")
            obj = {"type": "error", "error": {"type": etype, "message": message}}
        else:
            obj = {"error": {"message": message, "type": etype or ("rate_limit_exceeded" if status == 429 else "server_error"),
                             "param": None, "code": None}}
        self.send_json(status, obj, headers)

    # --- answers ----------------------------------------------------------------------
    def malformed_or_cut(self, step, data):
        if step and step.get("malformed"):
            data = b'{"id": "broken", "choices": [ {"message": '
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return True
        if step and step.get("cut_stream_after") is not None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.cut()
            return True
        return False

    def plain(self, api, body, step):
        text, calls, usage = plan_answer(api, body, step)
        model = body.get("model", "fake")
        if api == "openai":
            msg = {"role": "assistant", "content": text if text or not calls else None}
            if calls:
                msg["tool_calls"] = [{"id": c["id"], "type": "function",
                                      "function": {"name": c["name"], "arguments": json.dumps(c["arguments"])}}
                                     for c in calls]
            obj = {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()), "model": model,
                   "choices": [{"index": 0, "message": msg, "finish_reason": "tool_calls" if calls else "stop"}],
                   "usage": {"prompt_tokens": usage["input"], "completion_tokens": usage["output"],
                             "total_tokens": usage["input"] + usage["output"]}}
        else:
            content = [{"type": "text", "text": text}] if text or not calls else []
            content += [{"type": "tool_use", "id": c["id"], "name": c["name"], "input": c["arguments"]} for c in calls]
            obj = {"id": "msg_fake", "type": "message", "role": "assistant", "model": model, "content": content,
                   "stop_reason": "tool_use" if calls else "end_turn", "stop_sequence": None,
                   "usage": {"input_tokens": usage["input"], "output_tokens": usage["output"]}}
        if self.malformed_or_cut(step, json.dumps(obj).encode()):
            return
        self.send_json(200, obj)

    def stream(self, api, body, step):
        text, calls, usage = plan_answer(api, body, step)
        model = body.get("model", "fake")
        events = []  # (event name or None, data text)
        if api == "openai":
            base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()), "model": model}

            def ch(delta, finish=None):
                return json.dumps(dict(base, choices=[{"index": 0, "delta": delta, "finish_reason": finish}]))
            events.append((None, ch({"role": "assistant", "content": ""})))
            for p in pieces(text):
                events.append((None, ch({"content": p})))
            for i, c in enumerate(calls):
                args = json.dumps(c["arguments"])
                half = len(args) // 2
                events.append((None, ch({"tool_calls": [{"index": i, "id": c["id"], "type": "function",
                                                         "function": {"name": c["name"], "arguments": ""}}]})))
                events.append((None, ch({"tool_calls": [{"index": i, "function": {"arguments": args[:half]}}]})))
                events.append((None, ch({"tool_calls": [{"index": i, "function": {"arguments": args[half:]}}]})))
            events.append((None, ch({}, "tool_calls" if calls else "stop")))
            if (body.get("stream_options") or {}).get("include_usage"):
                events.append((None, json.dumps(dict(base, choices=[], usage={
                    "prompt_tokens": usage["input"], "completion_tokens": usage["output"],
                    "total_tokens": usage["input"] + usage["output"]}))))
            events.append((None, "[DONE]"))
        else:
            def ev(name, obj):
                obj = dict(obj, type=name)
                return (name, json.dumps(obj))
            events.append(ev("message_start", {"message": {"id": "msg_fake", "type": "message", "role": "assistant",
                                                           "model": model, "content": [], "stop_reason": None,
                                                           "usage": {"input_tokens": usage["input"], "output_tokens": 1}}}))
            events.append(ev("ping", {}))
            idx = 0
            if text or not calls:
                events.append(ev("content_block_start", {"index": idx, "content_block": {"type": "text", "text": ""}}))
                for p in pieces(text):
                    events.append(ev("content_block_delta", {"index": idx, "delta": {"type": "text_delta", "text": p}}))
                events.append(ev("content_block_stop", {"index": idx}))
                idx += 1
            for c in calls:
                args = json.dumps(c["arguments"])
                half = len(args) // 2
                events.append(ev("content_block_start", {"index": idx, "content_block": {
                    "type": "tool_use", "id": c["id"], "name": c["name"], "input": {}}}))
                for part in (args[:half], args[half:]):
                    events.append(ev("content_block_delta", {"index": idx, "delta": {
                        "type": "input_json_delta", "partial_json": part}}))
                events.append(ev("content_block_stop", {"index": idx}))
                idx += 1
            events.append(ev("message_delta", {"delta": {"stop_reason": "tool_use" if calls else "end_turn",
                                                         "stop_sequence": None},
                                               "usage": {"output_tokens": usage["output"]}}))
            events.append(ev("message_stop", {}))
        if step and step.get("malformed"):
            events.insert(1, (None, "{this is not json"))
        if step and step.get("stream_error"):
            etype = step["stream_error"]
            err = {"type": "error", "error": {"type": etype, "message": "scripted " + etype}}
            events.insert(min(len(events), step.get("error_after", 1)), ("error" if api == "anthropic" else None, json.dumps(err)))
        cut_after = step.get("cut_stream_after") if step else None
        self.start_chunked()
        try:
            for n, (name, data) in enumerate(events):
                if cut_after is not None and n >= cut_after:
                    self.cut()
                    return
                frame = ("event: %s\n" % name if name else "") + "data: %s\n\n" % data
                self.chunk(frame)
            self.end_chunked()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def embeddings(self, body, step):
        inputs = body.get("input", [])
        if isinstance(inputs, str):
            inputs = [inputs]
        if body.get("model") == "fake-bow":
            data = [{"object": "embedding", "index": i, "embedding": bag_of_words(t)}
                    for i, t in enumerate(inputs)]
        else:
            data = [{"object": "embedding", "index": i, "embedding": [float(len(t)), float(i), 0.5]}
                    for i, t in enumerate(inputs)]
        data.reverse()
        obj = {"object": "list", "data": data, "model": body.get("model", "fake-embed"),
               "usage": {"prompt_tokens": 1, "total_tokens": 1}}
        if self.malformed_or_cut(step, json.dumps(obj).encode()):
            return
        self.send_json(200, obj)


def bag_of_words(text, dims=64):
    """Model "fake-bow": a deterministic 64-dim vector of the text's lower-case words, each
    hashed (FNV-1a) to a dimension, so texts sharing words point the same way."""
    v = [0.0] * dims
    for word in "".join(c.lower() if c.isalnum() else " " for c in text).split():
        h = 2166136261
        for b in word.encode():
            h = ((h ^ b) * 16777619) & 0xFFFFFFFF
        v[h % dims] += 1.0
    if not any(v):
        v[0] = 1.0
    return v


def main():
    global KEY, DELAY_MS
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", help="write the chosen port to this file")
    ap.add_argument("--key", help="require this API key")
    ap.add_argument("--delay-ms", type=int, default=0, help="every chat answer waits this long")
    a = ap.parse_args()
    KEY = a.key
    DELAY_MS = a.delay_ms
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.request_queue_size = 128
    srv = ThreadingHTTPServer((a.host, a.port), Handler)
    port = srv.server_address[1]
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        import os
        os.replace(tmp, a.port_file)
    print("fake_llm listening on %s:%d" % (a.host, port), flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
