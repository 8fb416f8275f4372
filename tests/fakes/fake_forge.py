#!/usr/bin/env python3
"""fake_forge.py -- pull requests on fake GitHub, Gitea and GitLab REST APIs (stdlib only).

On 127.0.0.1, under three prefixes, each checking its API's token header:
  /github/repos/{o}/{r}/pulls                 POST open, GET list (?state=open|closed|all)
  /github/repos/{o}/{r}/pulls/{n}             GET one (state, merged, mergeable)
  /github/repos/{o}/{r}/issues/{n}/comments   POST comment
  /gitea/api/v1/...                           the same paths as GitHub's (Gitea mirrors them)
  /gitlab/api/v4/projects/{id}/merge_requests            POST open, GET list (?state=opened|…)
  /gitlab/api/v4/projects/{id}/merge_requests/{iid}       GET one (state, merge_status)
  /gitlab/api/v4/projects/{id}/merge_requests/{iid}/notes POST comment
Tokens: GitHub "Authorization: Bearer T", Gitea "Authorization: token T", GitLab
"PRIVATE-TOKEN: T"; else 401 in the API's error shape. A repository "owner/missing" is 404.
Git hosting, with --git-root DIR: /git/<name>.git/... is git's smart HTTP protocol, served
by the real `git http-backend` (CGI) over the bare repositories in DIR; every request needs
HTTP Basic auth whose password is the token (401 with WWW-Authenticate otherwise). Each is
recorded in /_requests as {"method", "path", "git": true, "user", "auth_ok"}.
Control: GET /_requests (method, path, headers, body of every API request), POST /_reset.
Usage: fake_forge.py [--port 0] [--port-file F] [--token T] [--git-root DIR]
"""
import argparse
import base64
import json
import subprocess
import os
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler

from serve import serve
from urllib.parse import unquote, urlparse, parse_qs

TOKEN = "forge-token"
GIT_ROOT = None
LOCK = threading.Lock()
REQUESTS = []
PRS = {}  # (kind, repo) -> list of pr dicts


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            return json.loads(raw) if raw else {}
        except ValueError:
            return None

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def raw_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def git(self, verb, url):
        """git's smart HTTP through git http-backend, behind Basic auth."""
        data = self.raw_body() if verb == "POST" else b""
        user, ok = None, False
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                ok = password == TOKEN
            except ValueError:
                pass
        with LOCK:
            REQUESTS.append({"method": verb, "path": self.path, "git": True, "user": user, "auth_ok": ok})
        if not ok:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="fake forge"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        env = dict(os.environ, GIT_PROJECT_ROOT=GIT_ROOT, GIT_HTTP_EXPORT_ALL="1", REQUEST_METHOD=verb,
                   PATH_INFO=url.path[len("/git"):], QUERY_STRING=url.query, REMOTE_USER=user, REMOTE_ADDR="127.0.0.1",
                   CONTENT_TYPE=self.headers.get("Content-Type", ""), CONTENT_LENGTH=str(len(data)),
                   GATEWAY_INTERFACE="CGI/1.1")
        out = subprocess.run(["git", "http-backend"], input=data, env=env, capture_output=True).stdout
        head, _, body = out.partition(b"\r\n\r\n")
        if not _:
            head, _, body = out.partition(b"\n\n")
        status, headers = 200, []
        for line in head.decode(errors="replace").splitlines():
            k, _, v = line.partition(":")
            if k.lower() == "status":
                status = int(v.strip().split()[0])
            elif k:
                headers.append((k.strip(), v.strip()))
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def route(self, verb):
        url = urlparse(self.path)
        path = url.path
        if GIT_ROOT and path.startswith("/git/"):
            return self.git(verb, url)
        if path == "/_requests":
            with LOCK:
                return self.send(200, REQUESTS)
        if path == "/_reset":
            with LOCK:
                REQUESTS.clear()
                PRS.clear()
            return self.send(200, {"ok": True})
        body = self.body() if verb == "POST" else {}
        with LOCK:
            REQUESTS.append({"method": verb, "path": self.path, "body": body,
                             "headers": {k.lower(): v for k, v in self.headers.items()}})
        if body is None:
            return self.send(400, {"message": "Problems parsing JSON"})
        host = "http://127.0.0.1:%d" % self.server.server_address[1]
        m = re.match(r"^/(github|gitea/api/v1)/repos/([^/]+/[^/]+)/(pulls|issues)(?:/(\d+))?(/comments)?$", path)
        if m:
            kind = "github" if m.group(1) == "github" else "gitea"
            want = ("Bearer " if kind == "github" else "token ") + TOKEN
            if self.headers.get("Authorization") != want:
                return self.send(401, {"message": "Bad credentials"})
            return self.github_like(kind, verb, m.group(2), m.group(3), m.group(4), m.group(5), body,
                                    parse_qs(url.query), host)
        m = re.match(r"^/gitlab/api/v4/projects/([^/]+)/merge_requests(?:/(\d+))?(/notes)?$", path)
        if m:
            if self.headers.get("PRIVATE-TOKEN") != TOKEN:
                return self.send(401, {"message": "401 Unauthorized"})
            return self.gitlab(verb, unquote(m.group(1)), m.group(2), m.group(3), body, parse_qs(url.query), host)
        self.send(404, {"message": "Not Found"})

    def github_like(self, kind, verb, repo, what, number, comments, body, query, host):
        if repo.endswith("/missing"):
            return self.send(404, {"message": "Not Found"})
        web = host + ("/github-web/" if kind == "github" else "/gitea-web/") + repo
        with LOCK:
            prs = PRS.setdefault((kind, repo), [])
            if what == "pulls" and number is None and verb == "POST":
                for k in ("title", "head", "base"):
                    if not body.get(k):
                        return self.send(422, {"message": "Validation Failed", "errors": [{"field": k, "code": "missing_field"}]})
                pr = {"number": len(prs) + 1, "title": body["title"], "body": body.get("body", ""),
                      "state": "open", "merged": False, "mergeable": True,
                      "head": {"ref": body["head"]}, "base": {"ref": body["base"]},
                      "html_url": "%s/pull/%d" % (web, len(prs) + 1), "comments": []}
                prs.append(pr)
                return self.send(201, pr)
            if what == "pulls" and number is None and verb == "GET":
                state = query.get("state", ["open"])[0]
                return self.send(200, [p for p in prs if state == "all" or p["state"] == state])
            n = int(number)
            if n < 1 or n > len(prs):
                return self.send(404, {"message": "Not Found"})
            pr = prs[n - 1]
            if what == "pulls" and verb == "GET":
                return self.send(200, pr)
            if what == "issues" and comments and verb == "POST":
                pr["comments"].append(body.get("body", ""))
                return self.send(201, {"id": len(pr["comments"]), "body": body.get("body", ""),
                                       "html_url": "%s#issuecomment-%d" % (pr["html_url"], len(pr["comments"]))})
        self.send(404, {"message": "Not Found"})

    def gitlab(self, verb, project, iid, notes, body, query, host):
        if project.endswith("/missing"):
            return self.send(404, {"message": "404 Project Not Found"})
        web = host + "/gitlab-web/" + project
        with LOCK:
            mrs = PRS.setdefault(("gitlab", project), [])
            if iid is None and verb == "POST":
                for k in ("title", "source_branch", "target_branch"):
                    if not body.get(k):
                        return self.send(400, {"message": {k: ["can't be blank"]}})
                mr = {"iid": len(mrs) + 1, "title": body["title"], "description": body.get("description", ""),
                      "state": "opened", "merge_status": "can_be_merged",
                      "source_branch": body["source_branch"], "target_branch": body["target_branch"],
                      "web_url": "%s/-/merge_requests/%d" % (web, len(mrs) + 1), "notes": []}
                mrs.append(mr)
                return self.send(201, mr)
            if iid is None and verb == "GET":
                state = query.get("state", ["opened"])[0]
                return self.send(200, [m for m in mrs if state == "all" or m["state"] == state])
            n = int(iid)
            if n < 1 or n > len(mrs):
                return self.send(404, {"message": "404 Not found"})
            mr = mrs[n - 1]
            if not notes and verb == "GET":
                return self.send(200, mr)
            if notes and verb == "POST":
                mr["notes"].append(body.get("body", ""))
                return self.send(201, {"id": len(mr["notes"]), "body": body.get("body", "")})
        self.send(404, {"message": "404 Not found"})


def main():
    global TOKEN, GIT_ROOT
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--git-root")
    ap.add_argument("--token", default=TOKEN)
    a = ap.parse_args()
    TOKEN = a.token
    GIT_ROOT = a.git_root
    return serve(Handler, a.port, a.port_file)


if __name__ == "__main__":
    sys.exit(main())
