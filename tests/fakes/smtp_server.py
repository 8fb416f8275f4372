#!/usr/bin/env python3
"""smtp_server.py -- a real SMTP server for tests (Debian's python3-aiosmtpd), on 127.0.0.1.

Not a fake of a SaaS API: aiosmtpd implements SMTP (RFC 5321, AUTH RFC 4954). This runs it
with AUTH PLAIN/LOGIN for one user and password, and XOAUTH2 for access tokens of the fake
IdP ("at-…"; a token listed in the --rejected file, one per line, is refused as an expired
one would be). Each message received is written to --dir as <n>.eml (the DATA, as given)
and then <n>.json ({"mail_from", "rcpt_tos", "login"}), so a reader that sees the .json sees
the whole message.
Usage: smtp_server.py --port P --dir D --user U --password PW [--rejected FILE]
"""
import argparse
import base64
import json
import logging
import os
import signal
import threading
import time
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Keep:
    def __init__(self, args):
        self.args = args
        self.n = 0
        self.lock = threading.Lock()

    def rejected(self):
        try:
            with open(self.args.rejected) as f:
                return {l.strip() for l in f if l.strip()}
        except OSError:
            return set()

    async def auth_XOAUTH2(self, server, args):
        # "user=<u>\x01auth=Bearer <token>\x01\x01", as the initial response or after a 334
        try:
            if len(args) > 1:
                text = base64.b64decode(args[1]).decode()
            else:
                blob = await server.challenge_auth("", encode_to_b64=False)  # answered in base64, given decoded
                if not isinstance(blob, bytes):
                    return AuthResult(success=False, handled=False)
                text = blob.decode()
            fields = dict(p.split("=", 1) for p in text.split("\x01") if "=" in p)
            token = fields.get("auth", "")[len("Bearer "):]
        except Exception:
            return AuthResult(success=False, handled=False)
        if token.startswith("at-") and token not in self.rejected():
            return AuthResult(success=True, auth_data=fields.get("user", ""))
        return AuthResult(success=False, handled=False)

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.n += 1
            n = self.n
        base = os.path.join(self.args.dir, str(n))
        with open(base + ".eml", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        login = session.auth_data if isinstance(session.auth_data, str) else getattr(session.auth_data, "login", b"")
        if isinstance(login, bytes):
            login = login.decode()
        with open(base + ".json.tmp", "w") as f:
            json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos, "login": login}, f)
        os.replace(base + ".json.tmp", base + ".json")
        return "250 Message accepted for delivery"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--rejected", default="/nonexistent")
    args = ap.parse_args()
    warnings.simplefilter("ignore")  # AUTH without TLS is what a loopback test wants
    logging.disable(logging.WARNING)

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == args.user and \
            auth_data.password.decode() == args.password
        return AuthResult(success=ok, auth_data=auth_data if ok else None, handled=False)

    ctl = Controller(Keep(args), hostname="127.0.0.1", port=args.port, authenticator=authenticator,
                     auth_required=True, auth_require_tls=False)
    ctl.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.is_set():
        time.sleep(0.2)
    ctl.stop()


if __name__ == "__main__":
    main()
