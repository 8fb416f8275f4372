#!/usr/bin/env python3
"""fake_telegram.py — a fake of the Telegram Bot API over 127.0.0.1, for tests.

Speaks the real wire protocol (JSON envelopes {"ok":...}, error texts and codes):
  /bot<token>/getUpdates     long poll honouring offset/timeout; 409 while a webhook is set
  /bot<token>/sendMessage    4096-character limit (UTF-16 units) with Telegram's 400 text
  /bot<token>/editMessageText  a sent message's text replaced; 400 "message is not modified" when
                             it is the same, "message to edit not found" for another
  /bot<token>/sendPhoto, sendDocument   multipart uploads
  /bot<token>/getFile, /file/bot<token>/<path>
  /bot<token>/setWebhook, deleteWebhook, getMe
Wrong token: 401 {"ok":false,"error_code":401,"description":"Unauthorized"}.

Control endpoints (for the test, not part of the Bot API):
  POST /_inject {"user_id":42,"chat_id":42,"username":"ann","text":"hi"}
                or {"photo":"<base64>","caption":...} or {"document":"<base64>","file_name":...,"mime_type":...}
                -> {"update_id":N}; with a webhook set the update is POSTed to it (retried until 200)
  GET  /_sent   everything the bot sent: [{"method","chat_id","t","text"?,"reply_to"?,"file_name"?,"size"?,...}];
                an edited message has its newest text, "edits" and every text it had in "versions"
                t: when the request arrived, time.monotonic() (CLOCK_MONOTONIC, as C++ steady_clock)
  POST /_fail {"method":"sendMessage","count":2,"status":429,"retry_after":1}  (or status 500)
  GET  /_calls  method call counts
Options: --port N (0: any free port) --port-file F --token T
"""
import argparse
import base64
import json
import sys
import threading
import time
import urllib.request
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler

from serve import serve
from urllib.parse import parse_qs, urlparse


class State:
    def __init__(self, token):
        self.token = token
        self.lock = threading.Condition()
        self.updates = []  # update dicts, ascending update_id
        self.next_update = 1000
        self.next_message = 1
        self.sent = []
        self.files = {}  # file_id -> (path, bytes)
        self.fail = {}  # method -> list of (status, retry_after)
        self.calls = {}
        self.webhook = None  # (url, secret)
        self.confirmed = 0  # highest update_id acknowledged by an offset

    def utf16_len(self, s):
        return len(s.encode("utf-16-le")) // 2


STATE = None


def envelope_ok(result):
    return 200, {"ok": True, "result": result}


def envelope_err(code, desc, params=None):
    body = {"ok": False, "error_code": code, "description": desc}
    if params:
        body["parameters"] = params
    return code, body


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send_json(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def read_params(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        ctype = self.headers.get("Content-Type") or ""
        params, files = {}, {}
        q = parse_qs(urlparse(self.path).query)
        for k, v in q.items():
            params[k] = v[-1]
        if ctype.startswith("application/json") and raw:
            params.update(json.loads(raw))
        elif ctype.startswith("application/x-www-form-urlencoded"):
            for k, v in parse_qs(raw.decode()).items():
                params[k] = v[-1]
        elif ctype.startswith("multipart/form-data"):
            msg = BytesParser(policy=HTTP).parsebytes(
                b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + raw)
            for part in msg.iter_parts():
                name = part.get_param("name", header="content-disposition")
                fname = part.get_filename()
                payload = part.get_payload(decode=True) or b""
                if fname is not None:
                    files[name] = (fname, part.get_content_type(), payload)
                else:
                    params[name] = payload.decode()
        return params, files

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def route(self, verb):
        path = urlparse(self.path).path
        s = STATE
        if path == "/_sent":
            with s.lock:
                return self.send_json(200, s.sent)
        if path == "/_calls":
            with s.lock:
                return self.send_json(200, s.calls)
        if path == "/_inject" and verb == "POST":
            params, _ = self.read_params()
            return self.send_json(200, inject(params))
        if path == "/_fail" and verb == "POST":
            params, _ = self.read_params()
            with s.lock:
                s.fail.setdefault(params["method"], []).extend(
                    [(int(params.get("status", 500)), int(params.get("retry_after", 1)))] * int(params.get("count", 1)))
            return self.send_json(200, {"ok": True})
        if path.startswith("/file/bot"):
            rest = path[len("/file/bot"):]
            token, _, fpath = rest.partition("/")
            if token != s.token:
                return self.send_json(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
            for fid, (p, data) in s.files.items():
                if p == fpath:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/octet-stream")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
            return self.send_json(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        if path.startswith("/bot"):
            rest = path[len("/bot"):]
            token, _, method = rest.partition("/")
            params, files = self.read_params()
            if token != s.token:
                return self.send_json(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
            with s.lock:
                s.calls[method] = s.calls.get(method, 0) + 1
                scripted = s.fail.get(method)
                if scripted:
                    status, after = scripted.pop(0)
                    if status == 429:
                        return self.send_json(*envelope_err(
                            429, "Too Many Requests: retry after %d" % after, {"retry_after": after}))
                    if status == 400:
                        return self.send_json(*envelope_err(400, "Bad Request: chat not found"))
                    return self.send_json(*envelope_err(status, "Internal Server Error"))
            fn = METHODS.get(method)
            if not fn:
                return self.send_json(*envelope_err(404, "Not Found"))
            return self.send_json(*fn(s, params, files))
        self.send_json(404, {"ok": False, "error_code": 404, "description": "Not Found"})


def inject(p):
    s = STATE
    with s.lock:
        uid = s.next_update
        s.next_update += 1
        mid = s.next_message
        s.next_message += 1
        user = int(p.get("user_id", 42))
        chat = int(p.get("chat_id", user))
        msg = {"message_id": mid, "from": {"id": user, "is_bot": False, "first_name": "Test",
                                           "username": p.get("username", "tester")},
               "chat": {"id": chat, "type": "private" if chat == user else "group"},
               "date": int(time.time())}
        if "text" in p:
            msg["text"] = p["text"]
        if "photo" in p:
            data = base64.b64decode(p["photo"])
            fid = "photo%d" % uid
            s.files[fid] = ("photos/file_%d.jpg" % uid, data)
            msg["photo"] = [{"file_id": fid + "s", "file_unique_id": "u" + fid + "s", "width": 90, "height": 90,
                             "file_size": 1},
                            {"file_id": fid, "file_unique_id": "u" + fid, "width": 800, "height": 600,
                             "file_size": len(data)}]
            s.files[fid + "s"] = ("photos/file_%ds.jpg" % uid, b"x")
        if "document" in p:
            data = base64.b64decode(p["document"])
            fid = "doc%d" % uid
            s.files[fid] = ("documents/%s" % p.get("file_name", "file.bin"), data)
            msg["document"] = {"file_id": fid, "file_unique_id": "u" + fid, "file_name": p.get("file_name", "file.bin"),
                               "mime_type": p.get("mime_type", "application/octet-stream"), "file_size": len(data)}
        if "caption" in p:
            msg["caption"] = p["caption"]
        upd = {"update_id": uid, "message": msg}
        s.updates.append(upd)
        s.lock.notify_all()
        hook = s.webhook
    if hook:
        threading.Thread(target=push_webhook, args=(upd, hook), daemon=True).start()
    return {"update_id": uid, "message_id": mid}


def push_webhook(upd, hook):
    url, secret = hook
    for _ in range(100):
        req = urllib.request.Request(url, data=json.dumps(upd).encode(), method="POST",
                                     headers={"Content-Type": "application/json",
                                              "X-Telegram-Bot-Api-Secret-Token": secret or ""})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                if r.status == 200:
                    with STATE.lock:
                        STATE.confirmed = max(STATE.confirmed, upd["update_id"])
                        STATE.sent.append({"method": "_webhook_ok", "update_id": upd["update_id"]})
                    return
        except Exception:
            pass
        time.sleep(0.2)


def get_updates(s, p, files):
    if s.webhook:
        return envelope_err(409, "Conflict: can't use getUpdates method while webhook is active; "
                                 "use deleteWebhook to delete the webhook first")
    offset = int(p.get("offset", 0) or 0)
    timeout = min(int(p.get("timeout", 0) or 0), 50)
    limit = int(p.get("limit", 100) or 100)
    deadline = time.time() + timeout
    with s.lock:
        if offset:
            s.confirmed = max(s.confirmed, offset - 1)
            s.updates = [u for u in s.updates if u["update_id"] >= offset]
        while True:
            pending = [u for u in s.updates if u["update_id"] >= offset]
            left = deadline - time.time()
            if pending or left <= 0:
                return envelope_ok(pending[:limit])
            s.lock.wait(left)


def sent_message(s, chat, extra):
    mid = s.next_message
    s.next_message += 1
    rec = {"message_id": mid, "chat_id": chat, "t": time.monotonic()}
    rec.update(extra)
    s.sent.append(rec)
    return {"message_id": mid, "chat": {"id": int(chat) if str(chat).lstrip("-").isdigit() else chat, "type": "private"},
            "date": int(time.time()), **{k: v for k, v in extra.items() if k == "text"}}


def reply_to(p):
    rp = p.get("reply_parameters")
    if isinstance(rp, str):
        rp = json.loads(rp)
    if isinstance(rp, dict):
        return rp.get("message_id")
    return p.get("reply_to_message_id")


def send_message(s, p, files):
    text = p.get("text")
    if "chat_id" not in p:
        return envelope_err(400, "Bad Request: chat_id is empty")
    if not text:
        return envelope_err(400, "Bad Request: message text is empty")
    if s.utf16_len(text) > 4096:
        return envelope_err(400, "Bad Request: message is too long")
    with s.lock:
        return envelope_ok(sent_message(s, p["chat_id"], {"method": "sendMessage", "text": text,
                                                           "reply_to": reply_to(p)}))


def edit_message_text(s, p, files):
    text = p.get("text")
    if not text:
        return envelope_err(400, "Bad Request: message text is empty")
    if s.utf16_len(text) > 4096:
        return envelope_err(400, "Bad Request: MESSAGE_TOO_LONG")
    with s.lock:
        for rec in s.sent:
            if str(rec.get("message_id")) == str(p.get("message_id")) and str(rec.get("chat_id")) == str(p.get("chat_id")):
                if rec.get("text") == text:
                    return envelope_err(400, "Bad Request: message is not modified: specified new message content "
                                             "and reply markup are exactly the same as a current content and reply "
                                             "markup of the message")
                rec["text"] = text
                rec["edits"] = rec.get("edits", 0) + 1
                rec.setdefault("versions", []).append(text)
                return envelope_ok({"message_id": rec["message_id"], "text": text, "date": int(time.time())})
    return envelope_err(400, "Bad Request: message to edit not found")


def send_media(kind):
    def fn(s, p, files):
        if "chat_id" not in p:
            return envelope_err(400, "Bad Request: chat_id is empty")
        f = files.get(kind)
        if not f:
            return envelope_err(400, "Bad Request: there is no %s in the request" % kind)
        name, ctype, data = f
        with s.lock:
            return envelope_ok(sent_message(s, p["chat_id"], {
                "method": "send" + kind.capitalize(), "file_name": name, "media_type": ctype, "size": len(data),
                "caption": p.get("caption"), "reply_to": reply_to(p)}))
    return fn


def get_file(s, p, files):
    fid = p.get("file_id")
    with s.lock:
        if fid not in s.files:
            return envelope_err(400, "Bad Request: invalid file_id")
        path, data = s.files[fid]
        return envelope_ok({"file_id": fid, "file_unique_id": "u" + fid, "file_size": len(data), "file_path": path})


def set_webhook(s, p, files):
    with s.lock:
        url = p.get("url") or ""
        s.webhook = (url, p.get("secret_token")) if url else None
        s.sent.append({"method": "setWebhook", "url": url})
        s.lock.notify_all()
    return envelope_ok(True)


def delete_webhook(s, p, files):
    with s.lock:
        s.webhook = None
    return envelope_ok(True)


def get_me(s, p, files):
    return envelope_ok({"id": 1, "is_bot": True, "first_name": "weft", "username": "weft_bot"})


METHODS = {"getUpdates": get_updates, "sendMessage": send_message, "editMessageText": edit_message_text,
           "sendPhoto": send_media("photo"),
           "sendDocument": send_media("document"), "getFile": get_file, "setWebhook": set_webhook,
           "deleteWebhook": delete_webhook, "getMe": get_me}


def main():
    global STATE
    ap = argparse.ArgumentParser(description="Fake Telegram Bot API on 127.0.0.1 for tests.")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--token", default="123:TEST")
    a = ap.parse_args()
    STATE = State(a.token)
    return serve(Handler, a.port, a.port_file, banner="fake telegram on http://127.0.0.1:%d")

if __name__ == "__main__":
    sys.exit(main())
