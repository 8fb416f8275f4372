#!/usr/bin/env python3
"""fake_graph.py -- Microsoft Graph v1.0 calendars, as much as weft's calendar tools use (stdlib only).

On 127.0.0.1 under /v1.0 (the real API's paths; calendar endpoints only):
  GET    /me/calendars                                   the calendars (Calendar, Team)
  GET    /me/calendars/{cal}/calendarView?startDateTime&endDateTime   occurrences, exceptions and
         lone events overlapping the window; series expanded in their own zone
  GET    /me/calendars/{cal}/events                      series masters and lone events
  POST   /me/calendars/{cal}/events                      create (recurrence: pattern daily or weekly
                                                         with daysOfWeek, interval, firstDayOfWeek;
                                                         range numbered, endDate or noEnd)
  GET    /me/events/{id}                                 one event (a master, lone, or an occurrence)
  GET    /me/events/{id}/instances?startDateTime&endDateTime   a series' occurrences and exceptions
  PATCH  /me/events/{id}                                 update (start, end, subject, location, body, recurrence);
                                                         an occurrence's id makes it an exception; an end not
                                                         after the start is refused, 400
  DELETE /me/events/{id}                                 a master (the whole series), a lone event, or one occurrence
Events carry id, iCalUId, type (singleInstance, seriesMaster, occurrence, exception),
seriesMasterId, originalStart (UTC), originalStartTimeZone, isAllDay, subject, start/end
{dateTime "2026-03-29T10:00:00.0000000", timeZone}. Times are answered in UTC when the request
says Prefer: outlook.timezone="UTC", else in the event's own zone. Listings come in pages of
--page-size (or $top when smaller) with an absolute @odata.nextLink carrying $skiptoken.
Every API request needs "Authorization: Bearer at-…" (the access tokens fake_idp.py issues); a
token refused with POST /_reject?token=… (or every token so far: POST /_reject_all) answers 401
from then on; POST /_unauthorized_once answers the next API request 401 whatever its token.
Control: GET /_requests (method, path, query, the token's last 6 characters, status, prefer; for a
PATCH the fields its body set).
Usage: fake_graph.py [--port 0] [--port-file F] [--page-size 3]
"""
import argparse
import base64
import datetime as dt
import json
import secrets
import sys
import threading
from urllib.parse import parse_qs, quote, unquote, urlparse
from zoneinfo import ZoneInfo

from serve import JsonHandler, Tokens, serve

LOCK = threading.Lock()
TOKENS = Tokens()
STATE = {"page_size": 3}
CALENDARS = {"AAMkAGI2TG93-cal1=": "Calendar", "AAMkAGI2TG93-cal2=": "Team"}
EVENTS = {}       # id -> stored event (lone or series master), with "calendar"
EXCEPTIONS = {}   # (master id, original start UTC iso) -> {start, end, subject?, location?, body?}
CANCELLED = set() # (master id, original start UTC iso)
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
UTC = dt.timezone.utc


def not_found():
    return 404, {"error": {"code": "ErrorItemNotFound", "message": "The specified object was not found in the store."}}


def bad(msg):
    return 400, {"error": {"code": "ErrorInvalidRequest", "message": msg}}


def zone(name):
    return UTC if name in ("UTC", "", None) else ZoneInfo(name)


def read_time(t):
    """A Graph {dateTime, timeZone} → aware datetime."""
    return dt.datetime.fromisoformat(t["dateTime"].split(".")[0]).replace(tzinfo=zone(t.get("timeZone")))


def write_time(when, tz_name):
    return {"dateTime": when.astimezone(zone(tz_name)).strftime("%Y-%m-%dT%H:%M:%S.0000000"),
            "timeZone": tz_name or "UTC"}


def query_time(s):
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00")).astimezone(UTC)


def utc_iso(when):
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def occ_id(master, orig):
    return "occ-" + base64.urlsafe_b64encode(("%s|%s" % (master, orig)).encode()).decode()


def parse_occ_id(oid):
    if not oid.startswith("occ-"):
        return None
    try:
        master, orig = base64.urlsafe_b64decode(oid[4:].encode()).decode().split("|")
    except Exception:
        return None
    return master, orig


def rule_starts(ev):
    """The starts the series' rule gives, walked in its own zone (10:00 stays 10:00 across DST)."""
    rec = ev["recurrence"]
    pat, rng = rec["pattern"], rec["range"]
    tz = zone(ev["start"].get("timeZone"))
    first = read_time(ev["start"]).astimezone(tz)
    clock = first.time()
    start_date = dt.date.fromisoformat(rng.get("startDate", first.date().isoformat()))
    end_date = dt.date.fromisoformat(rng["endDate"]) if rng.get("type") == "endDate" else None
    count = int(rng["numberOfOccurrences"]) if rng.get("type") == "numbered" else None
    horizon = start_date + dt.timedelta(days=3 * 366)
    interval = int(pat.get("interval", 1))
    out = []

    def add(day):
        out.append(dt.datetime.combine(day, clock).replace(tzinfo=tz))

    if pat["type"] == "daily":
        day = start_date
        while day <= horizon and (end_date is None or day <= end_date) and (count is None or len(out) < count):
            add(day)
            day += dt.timedelta(days=interval)
    elif pat["type"] == "weekly":
        fdow = DAYS.index(pat.get("firstDayOfWeek", "sunday"))
        wanted = sorted((DAYS.index(d) - fdow) % 7 for d in pat["daysOfWeek"])
        week = start_date - dt.timedelta(days=(start_date.weekday() - fdow) % 7)
        while week <= horizon and (count is None or len(out) < count):
            for off in wanted:
                day = week + dt.timedelta(days=off)
                if day < start_date or (end_date and day > end_date) or (count is not None and len(out) >= count):
                    continue
                add(day)
            week += dt.timedelta(weeks=interval)
    return out


def instances(ev, tz_out):
    """A stored event's occurrences as Graph shows them: itself, or its series expanded."""
    length = read_time(ev["end"]) - read_time(ev["start"])
    if not ev.get("recurrence"):
        return [shown(ev, tz_out)]
    out = []
    for s in rule_starts(ev):
        orig = utc_iso(s)
        if (ev["id"], orig) in CANCELLED:
            continue
        ex = EXCEPTIONS.get((ev["id"], orig), {})
        start = read_time(ex["start"]) if "start" in ex else s
        end = read_time(ex["end"]) if "end" in ex else s + length
        own = ev["start"].get("timeZone", "UTC")
        occ = {"id": occ_id(ev["id"], orig), "iCalUId": ev["iCalUId"], "seriesMasterId": ev["id"],
               "type": "exception" if ex else "occurrence", "subject": ex.get("subject", ev.get("subject", "")),
               "isAllDay": ev.get("isAllDay", False), "isCancelled": False, "originalStart": orig,
               "originalStartTimeZone": own, "start": write_time(start, tz_out or own),
               "end": write_time(end, tz_out or own),
               "location": ex.get("location", ev.get("location", {"displayName": ""})),
               "body": ex.get("body", ev.get("body", {"contentType": "text", "content": ""}))}
        out.append(occ)
    return out


def shown(ev, tz_out):
    """A stored event as answered: its times in the asked zone."""
    out = {k: v for k, v in ev.items() if k != "calendar"}
    own = ev["start"].get("timeZone", "UTC")
    out["originalStartTimeZone"] = own
    out["start"] = write_time(read_time(ev["start"]), tz_out or own)
    out["end"] = write_time(read_time(ev["end"]), tz_out or ev["end"].get("timeZone", own))
    return out


def empty_range(current, body):
    """Why an event with `body` patched over `current` would not end after it starts, or None."""
    start, end = body.get("start", current["start"]), body.get("end", current["end"])
    try:
        if read_time(end) <= read_time(start):
            return "the end must be after the start"
    except Exception as e:  # an unknown zone, a malformed time
        return "start or end: %s" % e
    return None


def valid_recurrence(rec):
    pat, rng = rec.get("pattern", {}), rec.get("range", {})
    if pat.get("type") not in ("daily", "weekly"):
        return "this fake expands daily and weekly patterns only, not %r" % pat.get("type")
    if pat["type"] == "weekly" and not all(d in DAYS for d in pat.get("daysOfWeek", [])):
        return "daysOfWeek must name days"
    if pat["type"] == "weekly" and not pat.get("daysOfWeek"):
        return "a weekly pattern needs daysOfWeek"
    if rng.get("type") not in ("numbered", "endDate", "noEnd") or "startDate" not in rng:
        return "the range needs a type (numbered, endDate, noEnd) and startDate"
    return None


class Handler(JsonHandler):
    def route(self, verb):
        url = urlparse(self.path)
        q = {k: v[-1] for k, v in parse_qs(url.query).items()}
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if TOKENS.control(self, url.path, q):
            return None
        prefer = self.headers.get("Prefer", "")
        record = {"query": q, "prefer": prefer}
        if verb == "PATCH":
            try:
                record["fields"] = sorted(json.loads(raw)) if raw else []
            except ValueError:
                pass
        ok = TOKENS.admit(self, verb, url.path, **record)
        if not ok:
            return self.send(401, {"error": {"code": "InvalidAuthenticationToken",
                                             "message": "Access token has expired or is not yet valid."}})
        if not url.path.startswith("/v1.0/"):
            return self.send(*not_found())
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            return self.send(*bad("the body is not JSON"))
        parts = [unquote(p) for p in url.path.split("/")[2:]]  # after /v1.0
        tz_out = "UTC" if 'outlook.timezone="UTC"' in prefer else None
        with LOCK:
            status, obj = self.api(verb, parts, q, body, tz_out, url)
        if status != 200:
            TOKENS.set_status(status)
        return self.send(status, obj)

    def page(self, items, q, url):
        """One page of a listing, and the absolute link to the next."""
        size = min(int(q.get("$top", 10)), STATE["page_size"])
        skip = int(base64.urlsafe_b64decode(q["$skiptoken"]).decode()) if "$skiptoken" in q else 0
        out = {"value": items[skip:skip + size]}
        if skip + size < len(items):
            rest = {k: v for k, v in q.items() if k != "$skiptoken"}
            rest["$skiptoken"] = base64.urlsafe_b64encode(str(skip + size).encode()).decode()
            query = "&".join("%s=%s" % (k, quote(v, safe="")) for k, v in rest.items())
            out["@odata.nextLink"] = "http://%s%s?%s" % (self.headers.get("Host"), url.path, query)
        return 200, out

    def api(self, verb, parts, q, body, tz_out, url):
        if parts[:1] != ["me"]:
            return not_found()
        if parts == ["me", "calendars"] and verb == "GET":
            return self.page([{"id": k, "name": v} for k, v in CALENDARS.items()], q, url)
        if len(parts) == 4 and parts[1] == "calendars" and parts[2] in CALENDARS:
            cal = parts[2]
            mine = [e for e in EVENTS.values() if e["calendar"] == cal]
            if parts[3] == "calendarView" and verb == "GET":
                if "startDateTime" not in q or "endDateTime" not in q:
                    return bad("calendarView needs startDateTime and endDateTime")
                lo, hi = query_time(q["startDateTime"]), query_time(q["endDateTime"])
                items = [i for e in mine for i in instances(e, tz_out) if read_time(i["start"]) < hi and read_time(i["end"]) > lo]
                items.sort(key=lambda i: read_time(i["start"]))
                return self.page(items, q, url)
            if parts[3] == "events" and verb == "GET":
                return self.page([shown(e, tz_out) for e in mine], q, url)
            if parts[3] == "events" and verb == "POST":
                for k in ("start", "end"):
                    if not isinstance(body.get(k), dict) or "dateTime" not in body[k] or "timeZone" not in body[k]:
                        return bad("%s needs dateTime and timeZone" % k)
                    try:
                        read_time(body[k])
                    except Exception as e:  # an unknown zone, a malformed time
                        return bad("%s: %s" % (k, e))
                if body.get("recurrence"):
                    why = valid_recurrence(body["recurrence"])
                    if why:
                        return bad(why)
                eid = "AAMkAGI2-" + secrets.token_urlsafe(12)
                ev = dict(body, id=eid, iCalUId="040000008200E00074C5B7101A82E008" + secrets.token_hex(8),
                          calendar=cal, type="seriesMaster" if body.get("recurrence") else "singleInstance")
                EVENTS[eid] = ev
                return 201, shown(ev, tz_out)
            return not_found()
        if len(parts) >= 3 and parts[1] == "events":
            eid = parts[2]
            occ = parse_occ_id(eid)
            if len(parts) == 4 and parts[3] == "instances" and verb == "GET":
                ev = EVENTS.get(eid)
                if not ev or not ev.get("recurrence"):
                    return not_found()
                lo, hi = query_time(q["startDateTime"]), query_time(q["endDateTime"])
                items = [i for i in instances(ev, tz_out) if read_time(i["start"]) < hi and read_time(i["end"]) > lo]
                return self.page(items, q, url)
            if len(parts) != 3:
                return not_found()
            if occ:
                master, orig = occ
                ev = EVENTS.get(master)
                if not ev or (master, orig) in CANCELLED:
                    return not_found()
                found = [i for i in instances(ev, tz_out) if i["originalStart"] == orig]
                if not found:
                    return not_found()
                if verb == "GET":
                    return 200, found[0]
                if verb == "PATCH":
                    why = empty_range(found[0], body)
                    if why:
                        return bad(why)
                    ex = EXCEPTIONS.setdefault((master, orig), {})
                    ex.update({k: body[k] for k in ("start", "end", "subject", "location", "body") if k in body})
                    return 200, [i for i in instances(ev, tz_out) if i["originalStart"] == orig][0]
                if verb == "DELETE":
                    CANCELLED.add((master, orig))
                    return 204, None
                return 405, {"error": {"code": "ErrorInvalidRequest", "message": "Method Not Allowed"}}
            ev = EVENTS.get(eid)
            if not ev:
                return not_found()
            if verb == "GET":
                return 200, shown(ev, tz_out)
            if verb == "DELETE":
                del EVENTS[eid]
                for key in [k for k in EXCEPTIONS if k[0] == eid]:
                    del EXCEPTIONS[key]
                return 204, None
            if verb == "PATCH":
                if body.get("recurrence"):
                    why = valid_recurrence(body["recurrence"])
                    if why:
                        return bad(why)
                why = empty_range(shown(ev, None), body)
                if why:
                    return bad(why)
                ev.update({k: v for k, v in body.items() if k not in ("id", "type", "calendar", "iCalUId")})
                return 200, shown(ev, tz_out)
        return not_found()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--page-size", type=int, default=3)
    a = ap.parse_args()
    STATE["page_size"] = a.page_size
    return serve(Handler, a.port, a.port_file)


if __name__ == "__main__":
    sys.exit(main())
