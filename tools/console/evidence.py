"""Evidence reports (SPEC DG19): for a station or a fleet over a time window, every
result exactly as the station sent it (canonical payload, checksum, signature), who asked
for it, the runs with their parameters, and the incidents, as the JSON an auditor checks
offline with `console verify` (ocppdiag/evidence.py) and renders as HTML (report_html.py).

The window is on the console's receipt time. Results are filed under the station whose
authenticated connection delivered them (never a station named in a payload).
"""
import json
import time

from ocppdiag.evidence import FORMAT, seal_station  # tools/ is on the path, as for console
from sqlalchemy import and_, inspect, select

from . import db, views
from .auth import require
from .service import Invalid, NotFound


_MAX_RESULTS = 20000  # per report: a report is a file an auditor opens


def requestor_kind(name):
    """Who asked a console run, by the console's naming: a token of an AI agent is named
    "mcp:...", a schedule run "schedule:<name>", a playbook "playbook:<name>"."""
    if not name:
        return "operator"
    for prefix, kind in (("schedule:", "schedule"), ("mcp:", "ai-agent"),
                         ("playbook:", "playbook")):
        if name.startswith(prefix):
            return kind
    return "operator"


def build(console, actor, stations, since, until=None, keys=None):
    """-> the report (a dict). `stations`: ids, or None for every station."""
    require(actor, "read", "an evidence report")
    store = console.store
    until = time.time() if until is None else until
    if since is None or since >= until:
        raise Invalid("the window needs since < until", field="since")
    rows = store.stations(stations)
    if stations is not None and len(rows) != len(set(stations)):
        missing = sorted(set(stations) - {r["id"] for r in rows})
        raise NotFound("no station %s" % ", ".join(missing), stations=missing)
    total = 0
    sections = []
    for st in rows:
        section = _station(store, st, since, until, keys)
        total += section["count"]
        if total > _MAX_RESULTS:
            raise Invalid("more than %d results in the window: choose a shorter one"
                          % _MAX_RESULTS, field="since")
        sections.append(section)
    return {
        "format": FORMAT,
        "generatedAt": views.iso(time.time()),
        "generatedBy": actor.name,
        "window": {"since": views.iso(since), "until": views.iso(until)},
        "stationIds": [s["stationId"] for s in sections],
        "verification": "console verify REPORT.json --keys KEYS.json: every result's checksum "
                        "and signature, its station, and the completeness of each station's "
                        "resultIds (SPEC DG19)",
        "stations": sections,
        "incidents": _incidents(store, [r["id"] for r in rows], since, until),
    }


def _station(store, st, since, until, keys):
    t = db.results.c
    with store.engine.connect() as c:
        res = [dict(r._mapping) for r in c.execute(
            select(db.results).where(and_(t.station_id == st["id"], t.received_at >= since,
                                          t.received_at < until)).order_by(t.result_id))]
        run_ids = sorted({r["run_id"] for r in res if r["run_id"] is not None})
        runs = {r.id: dict(r._mapping) for r in c.execute(
            select(db.runs).where(db.runs.c.id.in_(run_ids)))} if run_ids else {}
    entries = []
    for r in res:
        run = runs.get(r["run_id"])
        # No console run: the station's own (start-up, health check, its schedule).
        who = run["requestor"] if run else r["payload"].get("requestor")
        entries.append({
            "resultId": r["result_id"], "runId": r["run_id"], "receivedAt": views.iso(r["received_at"]),
            "requestor": who, "requestorKind": requestor_kind(who) if run else "station",
            "checksumVerifiedOnReceipt": r["checksum_ok"],
            "result": r["payload"]})
    section = {"stationId": st["id"], "boot": st["boot"] or {},
               "signingKeys": keys.key_ids(st["id"]) if keys else [],
               "runs": [dict(views.run(runs[i]), requestorKind=requestor_kind(runs[i]["requestor"]))
                        for i in run_ids],
               "results": entries}
    return seal_station(section)


def _incidents(store, station_ids, since, until):
    """Incident records, when this console keeps them (a playbook engine adds the
    table); otherwise the report says so rather than showing an empty list."""
    if not inspect(store.engine).has_table("incidents"):
        return {"recorded": False,
                "note": "this console keeps no incident records (no incidents table)",
                "items": []}
    tbl = db.metadata.tables.get("incidents")
    from sqlalchemy import MetaData, Table
    tbl = tbl if tbl is not None else Table("incidents", MetaData(), autoload_with=store.engine)
    with store.engine.connect() as c:
        rows = [dict(r._mapping) for r in c.execute(select(tbl))]
    sid_col = next((k for k in ("station_id", "station") if k in tbl.c), None)
    time_col = next((k for k in ("created_at", "opened_at", "time", "started_at")
                     if k in tbl.c), None)
    items = []
    for r in rows:
        if sid_col and r.get(sid_col) is not None and r[sid_col] not in station_ids:
            continue
        tm = r.get(time_col) if time_col else None
        if isinstance(tm, (int, float)) and not since <= tm < until:
            continue
        items.append(json.loads(json.dumps(
            {k: (views.iso(v) if k == time_col and isinstance(v, (int, float)) else v)
             for k, v in r.items()}, default=str)))
    return {"recorded": True, "items": items}
