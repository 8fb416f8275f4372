#!/usr/bin/env python3
"""fake_idp.py -- OAuth2 identity servers as Google's, Microsoft's and an OpenID Connect one (stdlib only).

On 127.0.0.1, under three prefixes (the first two with the providers' own paths):
  /google/o/oauth2/v2/auth        GET: the authorization endpoint. The "user" consents at once:
                                  302 to redirect_uri?code=…&state=… (or ?error=access_denied
                                  when scripted to refuse). Records code_challenge.
  /google/token                   POST form: grant_type authorization_code (PKCE S256 checked
                                  against the code's challenge), refresh_token (rotated: each
                                  refresh gives a new refresh token and retires the old one),
                                  urn:ietf:params:oauth:grant-type:device_code; a refresh
                                  with `scope` gives an access token of those scopes alone
  /google/device/code             POST: device_code, user_code, verification_url, interval
  /google/revoke                  POST token=…: the refresh token stops working
  /microsoft/{tenant}/oauth2/v2.0/{authorize,token,devicecode}   the same, Microsoft's names
  /oidc/{authorize,token,device,revoke}   the same, an OpenID Connect provider whose issuer is
                                  http://127.0.0.1:<port>/oidc, with its discovery document at
                                  /oidc/.well-known/openid-configuration
  /impostor/.well-known/openid-configuration   a discovery document naming another issuer
                                  (https://login.example.com) with /oidc's endpoints
The client must send client_id (and client_secret when the server was given one).
Access tokens live --ttl seconds (default 3600). The device flow answers
authorization_pending for the first --pending polls and slow_down once (at the second poll,
or any poll faster than the interval); then the user "approves" (or denies with POST /_deny_device).
Control: GET /_requests (every request: path, form fields with secrets masked), GET
/_refresh_tokens (the live ones, for tests looking for them where they must not be), POST
/_expire (every access token expires now), POST /_revoke_all, GET /_tokens (counts), GET
/_userinfo (the lookups of GET /userinfo, where a mail server asks whom a bearer token is for:
{"email": --user} for a live access token, 401 otherwise).
Usage: fake_idp.py [--port 0] [--port-file F] [--client-id ID] [--client-secret S]
       [--ttl SECONDS] [--pending N]
"""
import argparse
import base64
import hashlib
import json
import secrets
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler

from serve import serve
from urllib.parse import parse_qs, urlencode, urlparse

LOCK = threading.Lock()
REQUESTS = []
CODES = {}      # code -> {challenge, redirect_uri, scope}
REFRESH = {}    # refresh token -> scope (live ones)
ACCESS = {}     # access token -> expiry
DEVICES = {}    # device_code -> {scope, polls, last, denied, interval}
CFG = {}
USERINFO = []  # the /userinfo lookups: token's last 6 characters, live


def masked(fields):
    out = {}
    for k, v in fields.items():
        out[k] = "***" if k in ("client_secret", "refresh_token", "code", "code_verifier", "device_code", "token") else v
    # What a test needs to see without the secret itself: that it was sent, and which one.
    for k in ("refresh_token", "token"):
        if k in fields:
            out[k + "_sha"] = hashlib.sha256(fields[k].encode()).hexdigest()[:12]
    return out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send(self, status, obj, headers=()):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def form(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n).decode() if n else ""
        return {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}

    def do_GET(self):
        self.route("GET", {})

    def do_POST(self):
        self.route("POST", self.form())

    def route(self, verb, fields):
        url = urlparse(self.path)
        path = url.path
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if path == "/_requests":
            with LOCK:
                return self.send(200, REQUESTS)
        if path == "/_refresh_tokens":  # for tests that look for them where they must not be
            with LOCK:
                return self.send(200, sorted(REFRESH))
        if path == "/_tokens":
            with LOCK:
                return self.send(200, {"refresh": len(REFRESH), "access": len(ACCESS)})
        if path == "/_expire":
            with LOCK:
                for k in ACCESS:
                    ACCESS[k] = 0
            return self.send(200, {"ok": True})
        if path == "/_revoke_all":
            with LOCK:
                REFRESH.clear()
            return self.send(200, {"ok": True})
        if path == "/_deny_device":
            with LOCK:
                for d in DEVICES.values():
                    d["denied"] = True
            return self.send(200, {"ok": True})
        if path == "/userinfo":  # who a live access token is for (mail servers introspect XOAUTH2 tokens here)
            auth = self.headers.get("Authorization", "")
            token = auth[len("Bearer "):] if auth.startswith("Bearer ") else ""
            with LOCK:
                live = ACCESS.get(token, 0) > time.time()
                USERINFO.append({"token": token[-6:], "live": live})
            if not live:
                return self.send(401, {"error": "invalid_token"})
            return self.send(200, {"email": CFG["user"], "email_verified": True, "sub": "1001"})
        if path == "/_userinfo":
            with LOCK:
                return self.send(200, USERINFO)
        with LOCK:
            REQUESTS.append({"method": verb, "path": path, "query": query, "form": masked(fields), "t": time.time()})
        if path.endswith("/.well-known/openid-configuration"):
            return self.discovery(path)
        if path.startswith("/google/"):
            kind, rest = "google", path[len("/google"):]
        elif path.startswith("/microsoft/"):
            kind = "microsoft"
            parts = path.split("/")  # ['', 'microsoft', tenant, 'oauth2', 'v2.0', what]
            rest = "/" + parts[-1] if len(parts) == 6 else path
            rest = {"/authorize": "/o/oauth2/v2/auth", "/token": "/token", "/devicecode": "/device/code"}.get(rest, rest)
        elif path.startswith("/oidc/"):
            kind, rest = "oidc", path[len("/oidc"):]
            rest = {"/authorize": "/o/oauth2/v2/auth", "/device": "/device/code"}.get(rest, rest)
        else:
            return self.send(404, {"error": "not_found"})
        if rest == "/o/oauth2/v2/auth" and verb == "GET":
            return self.authorize(query)
        if verb != "POST":
            return self.send(405, {"error": "invalid_request"})
        if rest not in ("/token", "/device/code", "/revoke"):
            return self.send(404, {"error": "not_found"})
        if fields.get("client_id") != CFG["client_id"]:
            return self.send(401, {"error": "invalid_client", "error_description": "unknown client_id"})
        if rest == "/revoke":
            with LOCK:
                REFRESH.pop(fields.get("token", ""), None)
            return self.send(200, {})
        if CFG["client_secret"] and fields.get("client_secret") != CFG["client_secret"] and rest == "/token":
            return self.send(401, {"error": "invalid_client", "error_description": "wrong client_secret"})
        if rest == "/device/code":
            return self.device_code(kind, fields)
        return self.token(fields)

    def host(self):
        return "http://127.0.0.1:%d" % self.server.server_address[1]

    def discovery(self, path):
        base = self.host() + "/oidc"
        issuer = {"/oidc/.well-known/openid-configuration": base,
                  "/impostor/.well-known/openid-configuration": "https://login.example.com"}.get(path)
        if issuer is None:
            return self.send(404, {"error": "not_found"})
        return self.send(200, {
            "issuer": issuer,
            "authorization_endpoint": base + "/authorize",
            "token_endpoint": base + "/token",
            "device_authorization_endpoint": base + "/device",
            "revocation_endpoint": base + "/revoke",
            "jwks_uri": base + "/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
        })

    def authorize(self, q):
        for k in ("client_id", "redirect_uri", "state", "code_challenge"):
            if not q.get(k):
                return self.send(400, {"error": "invalid_request", "error_description": "missing " + k})
        if q.get("code_challenge_method") != "S256":
            return self.send(400, {"error": "invalid_request", "error_description": "PKCE S256 required"})
        if CFG.get("refuse"):
            loc = q["redirect_uri"] + "?" + urlencode({"error": "access_denied", "state": q["state"]})
        else:
            code = secrets.token_urlsafe(16)
            with LOCK:
                CODES[code] = {"challenge": q["code_challenge"], "redirect_uri": q["redirect_uri"],
                               "scope": q.get("scope", "")}
            loc = q["redirect_uri"] + "?" + urlencode({"code": code, "state": q["state"]})
        self.send_response(302)
        self.send_header("Location", loc)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def issue(self, scope, refresh=True):
        access = "at-" + secrets.token_urlsafe(12)
        out = {"access_token": access, "token_type": "Bearer", "expires_in": CFG["ttl"], "scope": scope}
        with LOCK:
            ACCESS[access] = time.time() + CFG["ttl"]
            if refresh:
                rt = "rt-" + secrets.token_urlsafe(16)
                REFRESH[rt] = scope
                out["refresh_token"] = rt
        return out

    def token(self, f):
        grant = f.get("grant_type")
        if grant == "authorization_code":
            with LOCK:
                c = CODES.pop(f.get("code", ""), None)
            if not c:
                return self.send(400, {"error": "invalid_grant", "error_description": "unknown or used code"})
            if f.get("redirect_uri") != c["redirect_uri"]:
                return self.send(400, {"error": "invalid_grant", "error_description": "redirect_uri differs"})
            digest = base64.urlsafe_b64encode(hashlib.sha256(f.get("code_verifier", "").encode()).digest()).rstrip(b"=").decode()
            if digest != c["challenge"]:
                return self.send(400, {"error": "invalid_grant", "error_description": "code_verifier does not match"})
            return self.send(200, self.issue(c["scope"]))
        if grant == "refresh_token":
            with LOCK:
                scope = REFRESH.pop(f.get("refresh_token", ""), None)  # rotation: the old one is spent
            if scope is None:
                return self.send(400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
            asked = f.get("scope")
            if asked and not set(asked.split()) <= set(scope.split()):
                with LOCK:
                    REFRESH[f["refresh_token"]] = scope
                return self.send(400, {"error": "invalid_scope", "error_description": "more than was granted"})
            out = self.issue(scope)  # the new refresh token keeps every scope
            if asked:
                out["scope"] = asked  # the access token has the ones asked for
            return self.send(200, out)
        if grant == "urn:ietf:params:oauth:grant-type:device_code":
            with LOCK:
                d = DEVICES.get(f.get("device_code", ""))
                if not d:
                    return self.send(400, {"error": "invalid_grant"})
                now = time.time()
                too_fast = d["last"] and now - d["last"] < d["interval"] - 0.2
                d["last"] = now
                d["polls"] += 1
                if d["denied"]:
                    return self.send(400, {"error": "access_denied"})
                # Once per login (RFC 8628 §3.5): the client must then wait five seconds more.
                if (too_fast or d["polls"] == 2) and not d["slowed"]:
                    d["slowed"] = True
                    return self.send(400, {"error": "slow_down"})
                if d["polls"] <= CFG["pending"]:
                    return self.send(400, {"error": "authorization_pending"})
                DEVICES.pop(f.get("device_code"), None)
            return self.send(200, self.issue(d["scope"]))
        return self.send(400, {"error": "unsupported_grant_type"})

    def device_code(self, kind, f):
        code = secrets.token_urlsafe(16)
        with LOCK:
            DEVICES[code] = {"scope": f.get("scope", ""), "polls": 0, "last": 0, "denied": False, "slowed": False,
                             "interval": CFG["interval"]}
        out = {"device_code": code, "user_code": "WXYZ-1234", "expires_in": 600, "interval": CFG["interval"]}
        host = "http://127.0.0.1:%d" % self.server.server_address[1]
        out["verification_url" if kind == "google" else "verification_uri"] = host + "/device"
        self.send(200, out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--client-id", default="weft-test-client")
    ap.add_argument("--client-secret", default="")
    ap.add_argument("--ttl", type=int, default=3600)
    ap.add_argument("--pending", type=int, default=2)
    ap.add_argument("--interval", type=int, default=1)
    ap.add_argument("--refuse", action="store_true")
    ap.add_argument("--user", default="alice@example.test", help="whom GET /userinfo says a live token is for")
    a = ap.parse_args()
    CFG.update(user=a.user, client_id=a.client_id, client_secret=a.client_secret, ttl=a.ttl, pending=a.pending,
               interval=a.interval, refuse=a.refuse)
    return serve(Handler, a.port, a.port_file)


if __name__ == "__main__":
    sys.exit(main())
