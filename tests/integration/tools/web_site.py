#!/usr/bin/env python3
"""A tiny web site on 127.0.0.1 for weft-tool-web's integration tests.

Pages: /page.html (HTML), /plain.txt, /big (2 MiB of 'x'), /redirect (302 to /page.html),
/loop (302 to itself), /binary (application/octet-stream). Usage as for tests/fakes:
web_site.py --port 0 --port-file F (the chosen port is written to F once listening).
"""
import argparse
import http.server
import os

PAGE = b"""<html><head><title>Weft test page</title><script>alert('no')</script></head>
<body><h1>Hello &amp; welcome</h1><p>Fetched <b>through</b> the bus.</p></body></html>"""


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def send(self, status, ctype, body, headers=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/page.html":
            self.send(200, "text/html; charset=utf-8", PAGE)
        elif self.path == "/plain.txt":
            self.send(200, "text/plain", b"just text\n")
        elif self.path == "/big":
            self.send(200, "text/plain", b"x" * (2 * 1024 * 1024))
        elif self.path == "/redirect":
            self.send(302, "text/plain", b"", [("Location", "/page.html")])
        elif self.path == "/loop":
            self.send(302, "text/plain", b"", [("Location", "/loop")])
        elif self.path == "/binary":
            self.send(200, "application/octet-stream", bytes(range(256)))
        else:
            self.send(404, "text/plain", b"not found\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    a = ap.parse_args()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(srv.server_address[1]))
        os.rename(tmp, a.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
