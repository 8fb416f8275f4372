"""Run by the shell tool inside its sandbox (tests/integration/tools/network_test.cc): tries
to reach targets and prints one line per target, "<target> <outcome>", so the test can
assert what a command inside the tool's network namespace could reach.

  net_probe.py direct PORT...          TCP connect to 127.0.0.1:PORT (its own loopback)
  net_probe.py connect HOST:PORT...    CONNECT through $https_proxy, then GET / in the tunnel
  net_probe.py get URL...              GET through $http_proxy (urllib reads it; no_proxy ignored)
  net_probe.py unix PATH...            AF_UNIX stream connect to the socket file PATH
  net_probe.py unix-dgram PATH...      a datagram to the socket file PATH, from a socketpair
Outcomes: connected | sent | refused | errnoN | <status> <first body line>.
"""
import os
import socket
import sys
import urllib.error
import urllib.parse
import urllib.request


def connected(connect):
    """The outcome of connect(), a function that connects a socket and returns it."""
    try:
        connect().close()
        return "connected"
    except ConnectionRefusedError:
        return "refused"
    except OSError as e:
        return "errno%d" % (e.errno or 0)


def direct(port):
    return connected(lambda: socket.create_connection(("127.0.0.1", int(port)), timeout=10))


def read_all(s):
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            return data
        data += chunk


def body_line(data):
    head, _, body = data.partition(b"\r\n\r\n")
    status = head.split(b"\r\n")[0].split(b" ")[1].decode() if head else "-"
    return "%s %s" % (status, body.decode(errors="replace").strip().split("\n")[-1] if body else "")


def connect(target):
    proxy = urllib.parse.urlsplit(os.environ.get("https_proxy", ""))
    if not proxy.hostname:
        return "no-proxy"
    try:
        s = socket.create_connection((proxy.hostname, proxy.port), timeout=10)
    except OSError as e:
        return "proxy-errno%d" % (e.errno or 0)
    s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target, target)).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1)
        if not chunk:
            break
        head += chunk
    if b" 200 " not in head.split(b"\r\n")[0]:
        return body_line(head + read_all(s))
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    return "tunnel " + body_line(read_all(s))


def get(url):
    # Through the proxy even for loopback targets: what a command could try on purpose.
    for name in ("no_proxy", "NO_PROXY"):
        os.environ.pop(name, None)
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return "%d %s" % (r.status, r.read().decode().strip().split("\n")[-1])
    except urllib.error.HTTPError as e:
        return "%d %s" % (e.code, e.read().decode().strip().split("\n")[-1])
    except urllib.error.URLError as e:
        return "urlerror %s" % e.reason


def unix(path):
    def connect():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(path)
        return s
    return connected(connect)


def unix_dgram(path):
    # A socketpair needs no socket(AF_UNIX) of its own, and a datagram one can still send
    # to any datagram socket by path.
    try:
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        a.sendto(b"from a command", path)
        return "sent"
    except OSError as e:
        return "errno%d" % (e.errno or 0)


mode, targets = sys.argv[1], sys.argv[2:]
for t in targets:
    print(t, {"direct": direct, "connect": connect, "get": get, "unix": unix, "unix-dgram": unix_dgram}[mode](t),
          flush=True)
