"""What the fakes share: serving a handler class on 127.0.0.1 and telling the test its port."""
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def serve(handler, port=0, port_file=None, host="127.0.0.1", banner=None):
    """Serves `handler` until interrupted. The chosen port goes to `port_file` (written whole,
    then renamed, so a reader never sees half of it) and, with `banner`, to stdout."""
    srv = ThreadingHTTPServer((host, port), handler)
    srv.daemon_threads = True
    chosen = srv.server_address[1]
    if port_file:
        with open(port_file + ".tmp", "w") as f:
            f.write("%d\n" % chosen)
        os.replace(port_file + ".tmp", port_file)
    if banner:
        print(banner % chosen, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


class JsonHandler(BaseHTTPRequestHandler):
    """What the API fakes' handlers share: HTTP/1.1 keep-alive, no access log, every method
    handed to self.route(verb), and send() for a JSON (or raw) answer."""
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send(self, status, obj=None, raw=None, ctype="application/json"):
        body = raw if raw is not None else (json.dumps(obj).encode() if obj is not None else b"")
        self.send_response(status)
        if body:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def do_PUT(self):
        self.route("PUT")

    def do_PATCH(self):
        self.route("PATCH")

    def do_DELETE(self):
        self.route("DELETE")


class Tokens:
    """Bearer access tokens as an API fake takes them: those fake_idp.py issues ("at-…"), until
    refused — POST /_reject?token=… one, POST /_reject_all every token seen so far (as if they
    expired), POST /_unauthorized_once the next request whatever its token. Each API request
    is recorded (GET /_requests): method, path, the token's last 6 characters, status, and
    what the fake adds."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []
        self.rejected = set()
        self.seen = set()
        self.refuse_next = False

    def control(self, handler, path, query):
        """Answers the control paths above; False for any other path."""
        with self.lock:
            if path == "/_requests":
                handler.send(200, self.requests)
            elif path == "/_reject_all":
                self.rejected.update(self.seen)
                handler.send(200, {"ok": True})
            elif path == "/_reject":
                self.rejected.add(query.get("token", ""))
                handler.send(200, {"ok": True})
            elif path == "/_unauthorized_once":
                self.refuse_next = True
                handler.send(200, {"ok": True})
            else:
                return False
        return True

    def admit(self, handler, verb, path, **record):
        """Whether the request's bearer token is taken; the request is recorded either way."""
        auth = handler.headers.get("Authorization", "")
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else ""
        with self.lock:
            ok = token.startswith("at-") and token not in self.rejected and not self.refuse_next
            self.refuse_next = False
            self.seen.add(token)
            self.requests.append(dict({"method": verb, "path": path, "token": token[-6:], "status": 200 if ok else 401},
                                      **record))
        return ok

    def set_status(self, status):
        """The last request's status, when the API answered it with another."""
        with self.lock:
            if self.requests:
                self.requests[-1]["status"] = status
