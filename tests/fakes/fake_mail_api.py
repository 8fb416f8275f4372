#!/usr/bin/env python3
"""fake_mail_api.py -- Gmail API v1 and Microsoft Graph mail, as much as weft's email tools use
(stdlib only), on 127.0.0.1. Messages are RFC 5322 text, as both real APIs can give them.

Gmail, under /gmail/v1/users/me (the real API's paths):
  GET  /labels                                   system labels and "Receipts"
  GET  /messages?labelIds&q&maxResults           newest first; q: from: to: subject: is:unread
                                                 after:/before: and bare words (text)
  GET  /messages/{id}?format=metadata|raw        headers (From, Subject, Date), labelIds, threadId
  POST /messages/{id}/modify                     addLabelIds, removeLabelIds
  POST /drafts  {message: {raw, threadId}}       a draft (label DRAFT)
  POST /messages/send {raw, threadId}            sent (label SENT); kept for /_sent
Graph, under /v1.0/me:
  GET  /mailFolders, /mailFolders/{id|well-known name}
  GET  /mailFolders/{id}/messages?$top&$search&$select   newest first
  GET  /messages/{id}/$value                     MIME
  GET|PATCH /messages/{id}                       categories
  POST /messages (text/plain: base64 MIME)       a draft
  POST /sendMail (text/plain: base64 MIME)       202; kept for /_sent
  POST /messages/{id}/move {destinationId}
Every API request needs "Authorization: Bearer at-…" (fake_idp.py's access tokens); POST
/_reject_all makes every token used so far answer 401, as expired ones would.
Control: POST /_seed?api=gmail|graph (body: a message; into the inbox, unread), GET /_sent?api=,
GET /_store?api= (each message's labels, folder, categories, read), GET /_requests (method, path, the token's last 6 characters, status).
Usage: fake_mail_api.py [--port 0] [--port-file F]
"""
import argparse
import base64
import email
import email.policy
import email.utils
import json
import secrets
import sys
import threading
from urllib.parse import parse_qs, unquote, urlparse

from serve import JsonHandler, Tokens, serve

LOCK = threading.Lock()
TOKENS = Tokens()
# api -> id -> {raw: bytes, labels: set, thread: str, folder: str, categories: list, when: int}
STORE = {"gmail": {}, "graph": {}}
SENT = {"gmail": [], "graph": []}
CLOCK = [0]
GMAIL_LABELS = [("INBOX", "INBOX"), ("SENT", "SENT"), ("DRAFT", "DRAFT"), ("TRASH", "TRASH"), ("SPAM", "SPAM"),
                ("UNREAD", "UNREAD"), ("STARRED", "STARRED"), ("Label_1", "Receipts")]
GRAPH_FOLDERS = {"inbox": "AAMkInbox", "drafts": "AAMkDrafts", "sentitems": "AAMkSent", "deleteditems": "AAMkDeleted",
                 "junkemail": "AAMkJunk", "archive": "AAMkArchive"}
GRAPH_NAMES = {"AAMkInbox": "Inbox", "AAMkDrafts": "Drafts", "AAMkSent": "Sent Items", "AAMkDeleted": "Deleted Items",
               "AAMkJunk": "Junk Email", "AAMkArchive": "Archive"}


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def put(api, raw, labels=(), thread=None, folder="AAMkInbox"):
    CLOCK[0] += 1
    mid = secrets.token_hex(8)
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    if thread is None:
        refs = (msg.get("References") or msg.get("In-Reply-To") or "").split()
        thread = next((m["thread"] for m in STORE[api].values()
                       if refs and email.message_from_bytes(m["raw"]).get("Message-ID") in refs), None) or mid
    STORE[api][mid] = {"raw": raw, "labels": set(labels), "thread": thread, "folder": folder, "categories": [],
                       "when": CLOCK[0], "read": "UNREAD" not in labels}
    return mid


def header(m, name):
    return str(email.message_from_bytes(m["raw"], policy=email.policy.default).get(name) or "")


def matches(m, terms):
    text = m["raw"].decode(errors="replace").lower()
    for key, val in terms:
        val = val.lower().strip('"')
        if key == "from" and val not in header(m, "From").lower():
            return False
        if key == "to" and val not in header(m, "To").lower():
            return False
        if key == "subject" and val not in header(m, "Subject").lower():
            return False
        if key == "is" and val == "unread" and m["read"]:
            return False
        if key == "" and val not in text:
            return False
    return True


def gmail_terms(q):
    out, word = [], ""
    for part in q.split():
        key, sep, val = part.partition(":")
        out.append((key, val) if sep and key in ("from", "to", "subject", "is", "after", "before") else ("", part))
    return [t for t in out if t[0] not in ("after", "before")]


class Handler(JsonHandler):
    def route(self, verb):
        url = urlparse(self.path)
        q = {k: v[-1] for k, v in parse_qs(url.query).items()}
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if TOKENS.control(self, url.path, q):
            return None
        with LOCK:
            if url.path == "/_seed":
                return self.send(200, {"id": put(q["api"], body, labels={"INBOX", "UNREAD"})})
            if url.path == "/_sent":
                return self.send(200, [m.decode(errors="replace") for m in SENT[q["api"]]])
            if url.path == "/_store":  # id -> labels, folder, categories, read
                return self.send(200, {k: {"labels": sorted(m["labels"]), "folder": m["folder"], "categories": m["categories"],
                                           "read": m["read"]} for k, m in STORE[q["api"]].items()})
            if not TOKENS.admit(self, verb, url.path):
                return self.send(401, {"error": {"code": 401, "message": "Invalid authentication credentials"}})
            if url.path.startswith("/gmail/v1/users/me/"):
                return self.gmail(verb, [unquote(p) for p in url.path.split("/")[5:]], q, body)
            if url.path.startswith("/v1.0/me/"):
                return self.graph(verb, [unquote(p) for p in url.path.split("/")[3:]], q, body)
            return self.send(404, {"error": {"message": "Not Found"}})

    def gmail(self, verb, parts, q, body):
        store = STORE["gmail"]
        if parts == ["labels"]:
            return self.send(200, {"labels": [{"id": i, "name": n, "type": "system" if i == n else "user"}
                                              for i, n in GMAIL_LABELS]})
        if parts == ["messages"] and verb == "GET":
            label = q.get("labelIds", "INBOX")
            terms = gmail_terms(q.get("q", ""))
            found = sorted((m for m in store.values() if label in m["labels"] and matches(m, terms)),
                           key=lambda m: -m["when"])[:int(q.get("maxResults", "100"))]
            ids = {id(m): k for k, m in store.items()}
            return self.send(200, {"messages": [{"id": ids[id(m)], "threadId": m["thread"]} for m in found],
                                   "resultSizeEstimate": len(found)})
        if parts == ["drafts"] and verb == "POST":
            d = json.loads(body)["message"]
            mid = put("gmail", b64url_decode(d["raw"]), labels={"DRAFT"}, thread=d.get("threadId"))
            return self.send(200, {"id": "r" + mid, "message": {"id": mid, "threadId": store[mid]["thread"]}})
        if parts == ["messages", "send"] and verb == "POST":
            d = json.loads(body)
            raw = b64url_decode(d["raw"])
            mid = put("gmail", raw, labels={"SENT"}, thread=d.get("threadId"))
            SENT["gmail"].append(raw)
            return self.send(200, {"id": mid, "threadId": store[mid]["thread"], "labelIds": ["SENT"]})
        if len(parts) >= 2 and parts[0] == "messages":
            m = store.get(parts[1])
            if not m:
                return self.send(404, {"error": {"code": 404, "message": "Requested entity was not found."}})
            if len(parts) == 2 and verb == "GET":
                out = {"id": parts[1], "threadId": m["thread"], "labelIds": sorted(m["labels"])}
                if q.get("format") == "raw":
                    out["raw"] = base64.urlsafe_b64encode(m["raw"]).decode().rstrip("=")
                    m["labels"].discard("UNREAD")
                else:
                    out["payload"] = {"headers": [{"name": h, "value": header(m, h)} for h in ("From", "Subject", "Date")]}
                return self.send(200, out)
            if parts[2:] == ["modify"] and verb == "POST":
                d = json.loads(body)
                known = {i for i, _ in GMAIL_LABELS}
                for l in d.get("addLabelIds", []) + d.get("removeLabelIds", []):
                    if l not in known:
                        return self.send(400, {"error": {"code": 400, "message": "Invalid label: " + l}})
                m["labels"] |= set(d.get("addLabelIds", []))
                m["labels"] -= set(d.get("removeLabelIds", []))
                return self.send(200, {"id": parts[1], "labelIds": sorted(m["labels"])})
        return self.send(404, {"error": {"code": 404, "message": "Not Found"}})

    def graph(self, verb, parts, q, body):
        store = STORE["graph"]

        def folder_of(name):
            return GRAPH_FOLDERS.get(name, name if name in GRAPH_NAMES else None)

        if parts == ["mailFolders"]:
            return self.send(200, {"value": [{"id": i, "displayName": n} for i, n in GRAPH_NAMES.items()]})
        if len(parts) == 2 and parts[0] == "mailFolders":
            f = folder_of(parts[1])
            return self.send(200, {"id": f, "displayName": GRAPH_NAMES[f]}) if f else \
                self.send(404, {"error": {"code": "ErrorFolderNotFound", "message": "The folder was not found."}})
        if len(parts) == 3 and parts[0] == "mailFolders" and parts[2] == "messages":
            f = folder_of(parts[1])
            if not f:
                return self.send(404, {"error": {"message": "The folder was not found."}})
            search = q.get("$search", "").strip('"')
            terms = []
            for t in search.split(" AND ") if search else []:
                key, sep, val = t.partition(":")
                terms.append((key, val) if sep and key in ("from", "to", "subject") else ("", t))
            found = sorted((m for m in store.values() if m["folder"] == f and matches(m, terms)), key=lambda m: -m["when"])
            ids = {id(m): k for k, m in store.items()}
            out = []
            for m in found[:int(q.get("$top", "10"))]:
                name, addr = email.utils.parseaddr(header(m, "From"))
                out.append({"id": ids[id(m)], "conversationId": m["thread"], "subject": header(m, "Subject"),
                            "receivedDateTime": "2026-12-07T10:00:00Z", "isRead": m["read"], "categories": m["categories"],
                            "from": {"emailAddress": {"name": name, "address": addr}}})
            return self.send(200, {"value": out})
        if parts == ["messages"] and verb == "POST":
            mid = put("graph", base64.b64decode(body), folder="AAMkDrafts")
            return self.send(201, {"id": mid, "isDraft": True})
        if parts == ["sendMail"] and verb == "POST":
            raw = base64.b64decode(body)
            put("graph", raw, folder="AAMkSent")
            SENT["graph"].append(raw)
            return self.send(202)
        if len(parts) >= 2 and parts[0] == "messages":
            m = store.get(parts[1])
            if not m:
                return self.send(404, {"error": {"code": "ErrorItemNotFound", "message": "The specified object was not found."}})
            if parts[2:] == ["$value"]:
                m["read"] = True
                return self.send(200, raw=m["raw"], ctype="text/plain")
            if len(parts) == 2 and verb == "GET":
                return self.send(200, {"id": parts[1], "categories": m["categories"]})
            if len(parts) == 2 and verb == "PATCH":
                m["categories"] = json.loads(body).get("categories", m["categories"])
                return self.send(200, {"id": parts[1], "categories": m["categories"]})
            if parts[2:] == ["move"] and verb == "POST":
                f = folder_of(json.loads(body).get("destinationId", ""))
                if not f:
                    return self.send(400, {"error": {"code": "ErrorInvalidIdMalformed", "message": "Id is malformed."}})
                m["folder"] = f
                return self.send(201, {"id": parts[1]})
        return self.send(404, {"error": {"message": "Not Found"}})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    a = ap.parse_args()
    return serve(Handler, a.port, a.port_file, banner="fake_mail_api listening on %d")


if __name__ == "__main__":
    sys.exit(main())
