#!/usr/bin/env python3
"""fake_search.py -- a scriptable fake of web search APIs for weft's tests (Python stdlib only).

Speaks the real wire shapes on the real paths, over HTTP/1.1 on 127.0.0.1:
  GET  /search?q=…&format=json        SearXNG: {"query", "number_of_results", "results":
                                      [{"url", "title", "content", "engine", "score"}], …};
                                      a format other than json is 403, as SearXNG answers
                                      when its settings.yml does not list the format
  GET  /res/v1/web/search?q=…&count=N Brave Search: {"type":"search", "query":{"original"},
                                      "web":{"type":"search","results":[{"title", "url",
                                      "description", …}]}}; count is at most 20 (422 above);
                                      with --key K the header X-Subscription-Token must be K,
                                      else 401 in Brave's error shape
  POST /search  {"query", "max_results"}  Tavily: {"query", "results":[{"title", "url",
                                      "content", "score"}]}; with --key K, "Authorization:
                                      Bearer K" (401 {"detail":{"error"}} otherwise)
Each answer has --results results (default 30, Brave: count of them) about the query:
title "Result <i> about <q>", url https://example.org/<i>, a snippet with a little HTML.

Control endpoints:
  POST /_script    JSON list of steps, appended to the queue; each API request consumes one:
                   {"status":429}          an error in the provider's shape (any status)
                   {"malformed":true}      200 with a body that is not JSON
                   {"results":0}           this many results this time
                   {"delay_ms":3000}       wait before answering (combinable)
  GET  /_requests  JSON list of received API requests: method, path, query, headers, body
  POST /_reset     clears the script and the request log

Usage: fake_search.py [--port 0] [--port-file FILE] [--key KEY] [--results N]
"""

import argparse
import json
import os
import sys
import threading
import time
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve import JsonHandler, serve  # noqa: E402

LOCK = threading.Lock()
SCRIPT = []
REQUESTS = []
OPTS = None


def hits(q, n):
    return [{"i": i, "title": "Result %d about %s" % (i, q), "url": "https://example.org/%d" % i,
             "snippet": "Snippet %d: <b>%s</b> &amp; more" % (i, q)} for i in range(1, n + 1)]


class Handler(JsonHandler):
    server_version = "fake-search/1"

    def route(self, verb):
        u = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(u.query).items()}
        if u.path.startswith("/_"):
            return self.control(verb, u.path)
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        with LOCK:
            step = SCRIPT.pop(0) if SCRIPT else {}
            REQUESTS.append({"method": verb, "path": u.path, "query": query,
                             "headers": {k: v for k, v in self.headers.items()},
                             "body": body.decode("utf-8", "replace")})
        if step.get("delay_ms"):
            time.sleep(step["delay_ms"] / 1000.0)
        count = step.get("results", OPTS.results)
        if verb == "GET" and u.path == "/search":
            return self.searxng(query, step, count)
        if verb == "GET" and u.path == "/res/v1/web/search":
            return self.brave(query, step, count)
        if verb == "POST" and u.path == "/search":
            return self.tavily(body, step, count)
        self.send(404, {"error": "no such endpoint: %s %s" % (verb, u.path)})

    def control(self, verb, path):
        global SCRIPT, REQUESTS
        with LOCK:
            if verb == "GET" and path == "/_requests":
                return self.send(200, REQUESTS)
            if verb == "POST" and path == "/_reset":
                SCRIPT, REQUESTS = [], []
                return self.send(200, {"ok": True})
        if verb == "POST" and path == "/_script":
            n = int(self.headers.get("Content-Length") or 0)
            steps = json.loads(self.rfile.read(n) or b"[]")
            with LOCK:
                SCRIPT.extend(steps)
            return self.send(200, {"queued": len(steps)})
        self.send(404, {"error": "no such control endpoint"})

    def scripted_failure(self, step, error_body):
        """Answers a scripted status or malformed body; True when it did."""
        if step.get("malformed"):
            self.send(200, raw=b'{"results": [ {"title": "cut', ctype="application/json")
            return True
        if step.get("status"):
            self.send(step["status"], error_body(step["status"]))
            return True
        return False

    def searxng(self, query, step, count):
        if self.scripted_failure(step, lambda s: {"error": "scripted %d" % s}):
            return
        if query.get("format") != "json":
            return self.send(403, raw=b"<html><body>403 Forbidden</body></html>", ctype="text/html")
        q = query.get("q", "")
        results = [{"url": h["url"], "title": h["title"], "content": h["snippet"], "engine": "fake",
                    "engines": ["fake"], "score": 1.0 / h["i"], "category": "general"} for h in hits(q, count)]
        self.send(200, {"query": q, "number_of_results": len(results), "results": results, "answers": [],
                        "corrections": [], "infoboxes": [], "suggestions": [], "unresponsive_engines": []})

    def brave(self, query, step, count):
        def error(status, code, detail):
            return {"type": "ErrorResponse", "error": {"id": "fake-%d" % status, "status": status, "code": code,
                                                       "detail": detail, "meta": {}}, "time": int(time.time())}
        if OPTS.key and self.headers.get("X-Subscription-Token") != OPTS.key:
            return self.send(401, error(401, "SUBSCRIPTION_TOKEN_INVALID", "The provided subscription token is invalid."))
        if self.scripted_failure(step, lambda s: error(s, "RATE_LIMITED" if s == 429 else "SCRIPTED",
                                                       "Request rate limit exceeded for plan." if s == 429 else "scripted")):
            return
        try:
            asked = int(query.get("count", "20"))
        except ValueError:
            asked = -1
        if asked < 1 or asked > 20:
            return self.send(422, error(422, "VALIDATION", "Unable to validate request parameter(s)."))
        q = query.get("q", "")
        results = [{"title": h["title"], "url": h["url"], "description": h["snippet"], "type": "search_result",
                    "is_source_local": False, "language": "en", "family_friendly": True}
                   for h in hits(q, min(count, asked))]
        out = {"type": "search", "query": {"original": q, "more_results_available": False}}
        if results:
            out["web"] = {"type": "search", "results": results, "family_friendly": True}
        self.send(200, out)

    def tavily(self, body, step, count):
        auth = self.headers.get("Authorization", "")
        if OPTS.key and auth != "Bearer " + OPTS.key:
            return self.send(401, {"detail": {"error": "Unauthorized: missing or invalid API key."}})
        if self.scripted_failure(step, lambda s: {"detail": {"error": "scripted %d" % s}}):
            return
        try:
            req = json.loads(body or b"{}")
        except ValueError:
            return self.send(400, {"detail": {"error": "body is not JSON"}})
        q = req.get("query", "")
        n = min(count, int(req.get("max_results", 5)))
        self.send(200, {"query": q, "answer": None, "images": [], "response_time": 0.1,
                        "results": [{"title": h["title"], "url": h["url"], "content": h["snippet"],
                                     "score": 1.0 / h["i"], "raw_content": None} for h in hits(q, n)]})


def main():
    global OPTS
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--key", default="")
    ap.add_argument("--results", type=int, default=30)
    OPTS = ap.parse_args()
    return serve(Handler, OPTS.port, OPTS.port_file)


if __name__ == "__main__":
    sys.exit(main())
