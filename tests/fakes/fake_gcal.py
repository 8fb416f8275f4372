#!/usr/bin/env python3
"""fake_gcal.py -- Google Calendar API v3, as much as weft's calendar tools use (stdlib only).

On 127.0.0.1 under /calendar/v3 (the real API's paths):
  GET    /users/me/calendarList                      the calendars (primary, team)
  GET    /calendars/{cal}/events?singleEvents=true&timeMin&timeMax   events, series expanded
         into instances ({id}_{YYYYMMDDTHHMMSSZ}, recurringEventId, originalStartTime)
  POST   /calendars/{cal}/events                     create (recurrence: RRULE FREQ=DAILY or
                                                     WEEKLY with COUNT; start/end dateTime+timeZone)
  GET    /calendars/{cal}/events/{id}                one event
  GET    /calendars/{cal}/events/{id}/instances?timeMin&timeMax
  PATCH  /calendars/{cal}/events/{id}                start, end, summary, location, description (an
                                                     instance id changes one occurrence; an end not
                                                     after the start is refused, 400)
  DELETE /calendars/{cal}/events/{id}
Every API request needs "Authorization: Bearer at-…" (the access tokens fake_idp.py issues);
a token refused with POST /_reject?token=… (or every token used so far: POST /_reject_all)
answers 401 from then on, as an expired one would.
Control: GET /_requests (method, path, the token's last 6 characters, status; for a PATCH the
fields its body set).
Usage: fake_gcal.py [--port 0] [--port-file F]
"""
import argparse
import datetime as dt
import json
import secrets
import sys
import threading
from urllib.parse import parse_qs, unquote, urlparse
from zoneinfo import ZoneInfo

from serve import JsonHandler, Tokens, serve

LOCK = threading.Lock()
TOKENS = Tokens()
CALENDARS = {"primary": "Alice", "team@group.calendar.google.com": "Team"}
EVENTS = {c: {} for c in CALENDARS}   # cal -> id -> event
MOVED = {}                            # (cal, instance id) -> the fields patched into that occurrence
PATCHABLE = ("start", "end", "summary", "location", "description")


def parse(t):
    return dt.datetime.fromisoformat(t.replace("Z", "+00:00"))


def instances(cal, ev):
    """The occurrences of one stored event: itself, or its series expanded in its own zone."""
    if not ev.get("recurrence"):
        return [ev]
    rule = dict(p.split("=") for p in ev["recurrence"][0][len("RRULE:"):].split(";"))
    step = {"DAILY": dt.timedelta(days=1), "WEEKLY": dt.timedelta(weeks=1)}[rule["FREQ"]]
    zone = ZoneInfo(ev["start"].get("timeZone", "UTC"))
    start, end = parse(ev["start"]["dateTime"]).astimezone(zone), parse(ev["end"]["dateTime"]).astimezone(zone)
    out = []
    for i in range(int(rule.get("COUNT", "10"))):
        # Wall-clock steps in the zone: 10:00 stays 10:00 across DST.
        s = (start.replace(tzinfo=None) + step * i).replace(tzinfo=zone)
        e = s + (end - start)
        iid = "%s_%s" % (ev["id"], s.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ"))
        orig = {"dateTime": s.isoformat(), "timeZone": str(zone)}
        inst = {"id": iid, "recurringEventId": ev["id"], "summary": ev.get("summary", ""), "status": "confirmed",
                "originalStartTime": orig, "start": orig, "end": {"dateTime": e.isoformat(), "timeZone": str(zone)}}
        for k in ("location", "description"):
            if k in ev:
                inst[k] = ev[k]
        if (cal, iid) in MOVED:
            inst.update(MOVED[(cal, iid)])
        out.append(inst)
    return out


class Handler(JsonHandler):
    def route(self, verb):
        url = urlparse(self.path)
        q = {k: v[-1] for k, v in parse_qs(url.query).items()}
        n = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(n)) if n else {}
        if TOKENS.control(self, url.path, q):
            return None
        ok = TOKENS.admit(self, verb, url.path, **({"fields": sorted(body)} if verb == "PATCH" else {}))
        if not ok:
            return self.send(401, {"error": {"code": 401, "message": "Request had invalid authentication credentials."}})
        parts = [unquote(p) for p in url.path.split("/")[3:]]  # after /calendar/v3
        with LOCK:
            return self.api(verb, parts, q, body)

    def api(self, verb, parts, q, body):
        if parts == ["users", "me", "calendarList"]:
            return self.send(200, {"items": [{"id": k, "summary": v} for k, v in CALENDARS.items()]})
        if len(parts) < 3 or parts[0] != "calendars" or parts[1] not in EVENTS or parts[2] != "events":
            return self.send(404, {"error": {"code": 404, "message": "Not Found"}})
        cal, events = parts[1], EVENTS[parts[1]]
        if len(parts) == 3 and verb == "POST":
            ev = dict(body, id=secrets.token_hex(8), status="confirmed")
            events[ev["id"]] = ev
            return self.send(200, ev)
        if len(parts) == 3 and verb == "GET":
            lo, hi = parse(q["timeMin"]), parse(q["timeMax"])
            items = [i for ev in events.values() for i in instances(cal, ev)
                     if parse(i["start"]["dateTime"]) < hi and parse(i["end"]["dateTime"]) > lo]
            items.sort(key=lambda i: parse(i["start"]["dateTime"]))
            return self.send(200, {"items": items})
        eid = parts[3]
        series, _, _ = eid.partition("_")
        if len(parts) == 5 and parts[4] == "instances" and verb == "GET":
            if series not in events:
                return self.send(404, {"error": {"code": 404, "message": "Not Found"}})
            lo, hi = parse(q["timeMin"]), parse(q["timeMax"])
            items = [i for i in instances(cal, events[series])
                     if lo <= parse(i["originalStartTime"]["dateTime"]) < hi]
            return self.send(200, {"items": items})
        if eid not in events and (series not in events or verb != "PATCH"):
            return self.send(404, {"error": {"code": 404, "message": "Not Found"}})
        if verb == "GET":
            return self.send(200, events[eid])
        if verb == "DELETE":
            del events[eid]
            return self.send(204)
        if verb == "PATCH":
            if eid in events:
                now = dict(events[eid], **body)
            else:
                found = [i for i in instances(cal, events[series]) if i["id"] == eid]
                if not found:
                    return self.send(404, {"error": {"code": 404, "message": "Not Found"}})
                now = dict(found[0], **body)
            if "dateTime" in now["end"] and parse(now["end"]["dateTime"]) <= parse(now["start"]["dateTime"]):
                return self.send(400, {"error": {"code": 400, "message": "The specified time range is empty."}})
            if eid in events:
                events[eid].update(body)
                return self.send(200, events[eid])
            MOVED.setdefault((cal, eid), {}).update({k: body[k] for k in PATCHABLE if k in body})
            return self.send(200, dict(MOVED[(cal, eid)], id=eid, recurringEventId=series))
        return self.send(405, {"error": {"code": 405, "message": "Method Not Allowed"}})


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    a = ap.parse_args()
    return serve(Handler, a.port, a.port_file)


if __name__ == "__main__":
    sys.exit(main())
