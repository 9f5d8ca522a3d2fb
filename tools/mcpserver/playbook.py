"""Playbooks: an anomaly -> a sequence of tests -> an incident record.

A playbook is data (playbooks/*.json), checked against playbooks/playbook.schema.json
when loaded: a trigger, steps (tests with parameters, a stop condition), rate limits,
what to collect.  Running one (by an agent's run_playbook call, or by `mcpserver watch`
when a console event matches its trigger) starts each step's tests through the
console with the caller's token, so roles, parameter checks and the run's requestor
apply as for any run, and writes an incident: trigger, every step with its run,
results and evidence, timing, outcome.  Incidents are JSON files, one per incident,
written whole (write-then-rename) so a reader never sees half of one.
"""
import asyncio
import glob
import json
import os
import re
import secrets
import time
from urllib.parse import quote

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "playbooks")
SCHEMA = os.path.join(HERE, "playbook.schema.json")
_INCIDENT_ID = re.compile(r"INC-\d{8}T\d{6}Z-[0-9a-f]{6}")
_POLL_S = 0.5
_JOURNAL_S = 120
# LogStatusNotification statuses after which nothing more comes (and GetLog's refusals)
_LOG_FINAL = ("Uploaded", "UploadFailure", "BadMessage", "NotSupportedOperation",
              "PermissionDenied", "Rejected")


class PlaybookError(Exception):
    def __init__(self, code, message, **details):
        super().__init__(message)
        self.error = dict(code=code, message=message, **details)


def _iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def load_all(extra_dir=None):
    """name -> playbook, from the shipped directory and `extra_dir`; each validated.
    A file that does not validate is refused loudly (ValueError naming it)."""
    import jsonschema
    with open(SCHEMA) as f:
        validator = jsonschema.Draft7Validator(json.load(f))
    out = {}
    for d in (HERE, extra_dir):
        for path in sorted(glob.glob(os.path.join(d, "*.json"))) if d else ():
            if path.endswith(".schema.json"):
                continue
            with open(path, encoding="utf-8") as f:
                pb = json.load(f)
            errors = sorted(validator.iter_errors(pb), key=lambda e: list(e.path))
            if errors:
                e = errors[0]
                raise ValueError("%s: %s at %s" % (path, e.message,
                                                   "/".join(map(str, e.path)) or "top"))
            out[pb["name"]] = pb
    return out


def matches(trigger, event, connects=None):
    """Does a console event (GET /api/events shape) match one trigger of a playbook?
    `connects` (Connects) counts each station's connections for reconnectStorm."""
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    kind = trigger["kind"]
    if kind == "testFailed":
        return event.get("kind") == "result" and data.get("testId") == trigger["testId"] and \
            data.get("verdict") in trigger.get("verdicts", ["Failed", "Error", "TimedOut"])
    if kind == "health":
        return event.get("kind") == "result" and data.get("healthStatus") in trigger["status"]
    if kind == "notifyEvent":
        # One eventData item of a station's NotifyEvent; a cleared one reports a problem
        # gone, which is no reason to run anything.
        sev = data.get("severity")
        return event.get("kind") == "notify-event" and data.get("cleared") is not True and \
            data.get("component") == trigger["component"] and \
            all(k not in trigger or data.get(f) == trigger[k] for k, f in (
                ("variable", "variable"), ("instance", "componentInstance"))) and \
            ("actualValues" not in trigger or data.get("actualValue") in trigger["actualValues"]) \
            and ("maxSeverity" not in trigger or (isinstance(sev, int) and
                                                  sev <= trigger["maxSeverity"]))
    if kind == "securityEvent":
        return event.get("kind") == "security-event" and \
            ("types" not in trigger or data.get("type") in trigger["types"])
    if kind == "reconnectStorm":
        return event.get("kind") == "station.connected" and connects is not None and \
            connects.count(event.get("station"), trigger["windowS"],
                           _epoch(event.get("time"))) >= trigger["count"]
    return False


def _epoch(iso):
    from datetime import datetime
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except (AttributeError, ValueError):
        return time.time()


class Connects:
    """Each station's recent connections, from the event stream (event times, so a
    replayed stream counts the same), for the reconnectStorm trigger."""
    KEEP_S, MAX = 86400, 1000

    def __init__(self):
        self.seen = {}  # station -> [event times]

    def note(self, event):
        sid = event.get("station")
        if event.get("kind") != "station.connected" or not isinstance(sid, str):
            return
        if len(self.seen) > 10000:  # many stations: forget the quiet ones first
            self.seen.clear()
        t = _epoch(event.get("time"))
        times = [x for x in self.seen.get(sid, ()) if x > t - self.KEEP_S][-self.MAX:]
        self.seen[sid] = times + [t]

    def count(self, sid, window, at):
        return sum(1 for x in self.seen.get(sid, ()) if at - window < x <= at)


class Incidents:
    """The incident records: one JSON file each in `directory`."""

    def __init__(self, directory):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)

    def _path(self, iid):
        if not isinstance(iid, str) or not _INCIDENT_ID.fullmatch(iid):
            raise PlaybookError("invalid", "incident id: INC-YYYYMMDDTHHMMSSZ-xxxxxx",
                                field="incident")
        return os.path.join(self.dir, iid + ".json")

    def new_id(self):
        return "INC-%s-%s" % (time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
                              secrets.token_hex(3))

    def save(self, inc):
        path = self._path(inc["id"])
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            json.dump(inc, f, ensure_ascii=False, indent=1)
        os.replace(path + ".tmp", path)

    def get(self, iid):
        try:
            with open(self._path(iid), encoding="utf-8") as f:
                return json.load(f)
        except FileNotFoundError:
            raise PlaybookError("notfound", "no incident %s" % iid, incident=iid)

    def list(self, station=None, playbook=None, since=None, limit=100):
        out = []
        for path in sorted(glob.glob(os.path.join(self.dir, "INC-*.json")), reverse=True):
            try:
                with open(path, encoding="utf-8") as f:
                    inc = json.load(f)
            except (OSError, ValueError):
                continue
            if (station and inc.get("station") != station) or \
                    (playbook and inc.get("playbook") != playbook) or \
                    (since and inc.get("openedAtS", 0) < since):
                continue
            out.append(inc)
            if len(out) >= limit:
                break
        return out

    def check_rate(self, pb, station, now=None):
        """Refuse a run the playbook's rate limits forbid (a storm of failures must not
        become a storm of tests on the station or the fleet)."""
        now = now or time.time()
        lim = pb["rateLimit"]
        recent = self.list(playbook=pb["name"], since=now - max(lim["perStationS"], 3600),
                           limit=10000)
        if any(i.get("station") == station and i.get("openedAtS", 0) >= now - lim["perStationS"]
               and i.get("trigger", {}).get("kind") != "manual-incident" for i in recent):
            raise PlaybookError("rate-limited", "playbook %s ran on %s less than %d s ago" % (
                pb["name"], station, lim["perStationS"]), playbook=pb["name"], station=station)
        if sum(1 for i in recent if i.get("openedAtS", 0) >= now - 3600) >= lim["fleetPerHour"]:
            raise PlaybookError("rate-limited", "playbook %s ran %d times in the fleet this "
                                "hour" % (pb["name"], lim["fleetPerHour"]), playbook=pb["name"])

    def open_manual(self, who, station, summary):
        t = time.time()
        inc = {"id": self.new_id(), "playbook": None, "station": station,
               "trigger": {"kind": "manual-incident", "summary": summary},
               "requestedBy": who, "openedAt": _iso(t), "openedAtS": t, "steps": [],
               "outcome": "open", "closedAt": None}
        self.save(inc)
        return inc


async def run(pb, station, trigger, call, incidents, who, own_runs=None):
    """Run playbook `pb` on `station` through the console (`call`: tools.Call) and
    return the incident record, saved after every step (a crash leaves what was done)."""
    incidents.check_rate(pb, station)
    t = time.time()
    inc = {"id": incidents.new_id(), "playbook": pb["name"], "playbookVersion": pb["version"],
           "station": station, "trigger": trigger, "requestedBy": who, "openedAt": _iso(t),
           "openedAtS": t, "steps": [], "outcome": "running", "closedAt": None}
    incidents.save(inc)
    seg = quote(station, safe="")
    outcome = None  # stays None if the run is interrupted (cancelled, crashed)
    try:
        for step in pb["steps"]:
            s0 = time.time()
            rec = {"name": step["name"], "why": step.get("why"), "startedAt": _iso(s0)}
            inc["steps"].append(rec)
            try:
                r = await call.post("/api/stations/%s/runs" % seg, {
                    "tests": [dict(t, parameters=t.get("parameters", {})) for t in step["tests"]]})
                if own_runs is not None:
                    own_runs.add(r["id"])  # its results must not trigger the playbook again
                r = await _wait(call, r, step.get("timeoutS", 300))
            except Exception as e:  # noqa: BLE001 -- ConsoleError, recorded as the step's end
                rec.update(status="refused", error=getattr(e, "error", {"message": str(e)}),
                           durationS=round(time.time() - s0, 3))
                outcome = "aborted"
                break
            rec.update(run=r["id"], status=r["status"], statusInfo=r.get("statusInfo"),
                       verdict=r.get("verdict"), durationS=round(time.time() - s0, 3))
            if "results" in pb["collect"]:
                rec["results"] = [{"testId": x["testId"], "verdict": x["verdict"],
                                   "checksumVerified": x.get("checksumVerified"),
                                   "result": x.get("result")} for x in r.get("results") or ()]
            if r["status"] in ("rejected", "unreachable") or r.get("verdict") is None:
                outcome = "aborted"
                break
            stop = step.get("stopWhen")
            if stop and r["verdict"] in stop["verdicts"]:
                outcome = stop["outcome"]
                break
            incidents.save(inc)
        else:
            outcome = pb["outcomeIfCompleted"]
        if "stationHealth" in pb["collect"]:
            inc["stationHealth"] = (await _quiet(call.get("/api/stations/%s/health" % seg)) or
                                    [])[-20:]
        if "station" in pb["collect"]:
            inc["stationState"] = await _quiet(call.get("/api/stations/" + seg))
        for item in pb["collect"]:
            if isinstance(item, dict) and "variables" in item:
                inc["deviceModel"] = await _variables(call, seg, item["variables"])
        if "journal" in pb["collect"]:
            inc["journal"] = await _journal(call, seg)
    finally:
        t1 = time.time()
        inc.update(outcome=outcome or "interrupted", closedAt=_iso(t1),
                   durationS=round(t1 - t, 3))
        incidents.save(inc)
    return inc


async def _wait(call, run, timeout):
    deadline = time.monotonic() + timeout
    while run.get("status") not in ("rejected", "unreachable") and run.get("verdict") is None:
        if time.monotonic() >= deadline:
            return run
        await asyncio.sleep(_POLL_S)
        run = await call.get("/api/runs/%d" % run["id"])
    if "results" not in run:
        run = await call.get("/api/runs/%d" % run["id"])
    return run


async def _variables(call, seg, wanted):
    """Device-model values (GetVariables through the console): each as the station
    answered it (attributeStatus Rejected/UnknownVariable... included); a station's
    CALLERROR or a refusal is the record's `error`, not the end of the incident."""
    try:
        r = await call.post("/api/stations/%s/variables" % seg, {"variables": [
            {"component": dict({"name": w["component"]}, **(
                {"instance": w["instance"]} if "instance" in w else {})),
             "variable": w["variable"]} for w in wanted]})
        return {"variables": r.get("variables") if isinstance(r, dict) else None}
    except Exception as e:  # noqa: BLE001 -- ConsoleError: recorded, collection goes on
        return {"error": getattr(e, "error", {"message": str(e)})}


async def _journal(call, seg, timeout=_JOURNAL_S):
    """The results journal (GetLog DiagnosticsLog, uploaded to the console): the final
    LogStatusNotification status and what the upload held (lines, checksums, sha256,
    results the console did not have)."""
    try:
        r = await call.post("/api/stations/%s/logs" % seg, {})
        deadline = time.monotonic() + timeout
        while r.get("status") not in _LOG_FINAL or (r["status"] == "Uploaded" and
                                                    r.get("upload") is None):
            if r.get("accepted") not in (None, "Accepted", "AcceptedCanceled") or \
                    time.monotonic() >= deadline:
                break
            await asyncio.sleep(_POLL_S)
            r = dict(await call.get("/api/stations/%s/logs/%d" % (seg, r["requestId"])),
                     accepted=r.get("accepted"))
        return {k: r.get(k) for k in ("requestId", "accepted", "status", "statusInfo", "upload")}
    except Exception as e:  # noqa: BLE001 -- recorded, as for _variables
        return {"error": getattr(e, "error", {"message": str(e)})}


async def _quiet(coro):
    try:
        return await coro
    except Exception:  # noqa: BLE001 -- collection is best effort; the steps are the record
        return None
