"""The MCP tools: name, the console role each needs, its argument schema, its handler.

Every handler calls the console API with the caller's own token, so the console is
the one authority on roles (a tool hidden from a role still reaches the console,
which refuses it with 403 and the role needed).  Handlers return a JSON object (the
tool's structured result) or raise ToolError / upstream.ConsoleError, which the
server turns into a tool error the agent can read and act on.
"""
import asyncio
import time

from . import schemas
from .call import ToolError, array, integer, may, obj, seg, text
from .playbook_tools import (get_incident, list_incidents, list_playbooks, open_incident,
                             run_playbook)
from .upstream import ConsoleError

_POLL_S = 0.5
_MAX_WAIT_S = 600
# Catalogs read to build start_diagnostics' schema: stations of one model share one.
_MAX_CATALOGS = 20


def run_finished(run):
    return run.get("status") in ("rejected", "unreachable") or run.get("verdict") is not None


# -- handlers ---------------------------------------------------------------

async def whoami(call, args):
    return {"name": call.me["name"], "role": call.me["role"],
            "tools": [t.name for t in TOOLS if may(call.me["role"], t.role) and (
                call.incidents is not None or t.name not in PLAYBOOK_TOOLS)]}


async def list_stations(call, args):
    return {"stations": array(await call.get("/api/stations"))}


async def get_station(call, args):
    sid = text(args, "station", n=48)
    out = obj(await call.get("/api/stations/" + seg(sid)))
    hist = await call.get("/api/stations/%s/health" % seg(sid))
    out["healthHistory"] = hist[-20:] if isinstance(hist, list) else []
    return out


async def get_catalog(call, args):
    sid = text(args, "station", n=48)
    cat = obj(await call.get("/api/stations/%s/catalog" % seg(sid),
                               refresh=1 if args.get("refresh") is True else None))
    tests = cat.get("tests") if isinstance(cat.get("tests"), list) else []
    cat["tests"] = [schemas.test_entry(d) for d in tests
                    if isinstance(d, dict) and isinstance(d.get("testId"), str)]
    return cat


def _tests_arg(args):
    tests = args.get("tests")
    if not isinstance(tests, list) or not 1 <= len(tests) <= 50 or not all(
            isinstance(t, dict) and isinstance(t.get("testId"), str) for t in tests):
        raise ToolError("invalid", "tests: a list of 1..50 {testId, parameters}", field="tests")
    for t in tests:
        if "parameters" in t and not isinstance(t["parameters"], dict):
            raise ToolError("invalid", "test %s: parameters must be an object {name: value}"
                            % t["testId"], field="parameters", testId=t["testId"])
    return [{"testId": t["testId"], "parameters": dict(t.get("parameters") or {})}
            for t in tests]


async def start_diagnostics(call, args):
    sid = text(args, "station", n=48)
    run = obj(await call.post("/api/stations/%s/runs" % seg(sid), {
        "tests": _tests_arg(args), "stopOnFailure": args.get("stopOnFailure") is True}))
    if run.get("status") in ("rejected", "unreachable"):
        # The station said no (or was not there): an error the agent sees, carrying
        # the station's own statusInfo.reasonCode; the run stays on record.
        info = run.get("statusInfo") if isinstance(run.get("statusInfo"), dict) else {}
        raise ToolError("station-" + run["status"], "station %s %s the run: %s %s" % (
            sid, "refused" if run["status"] == "rejected" else "could not take",
            str(info.get("reasonCode", ""))[:20], str(info.get("additionalInfo", ""))[:1024]),
            reasonCode=str(info.get("reasonCode"))[:20] if info.get("reasonCode") else None,
            run=run.get("id"))
    return run


async def wait_run(call, args):
    """Poll the run until it has a verdict (or was refused) or the time is up; the
    statuses it went through on the way are listed for the agent."""
    rid = integer(args, "run", 0, (1 << 31) - 1)
    limit = integer(args, "timeoutS", 1, _MAX_WAIT_S, 60)
    deadline = time.monotonic() + limit
    seen = []
    while True:
        run = obj(await call.get("/api/runs/%d" % rid))
        step = "%s %s/%s" % (run.get("status"), run.get("completed"), run.get("total"))
        if not seen or seen[-1] != step:
            seen.append(step)
            await call.progress(len(seen), None, "run %d: %s" % (rid, step))
        if run_finished(run) or time.monotonic() >= deadline:
            return {"finished": run_finished(run), "statuses": seen, "run": run}
        await asyncio.sleep(_POLL_S)


async def get_run(call, args):
    return obj(await call.get("/api/runs/%d" % integer(args, "run", 0, (1 << 31) - 1)))


async def list_runs(call, args):
    sid = text(args, "station", required=False, n=48)
    if sid is not None:
        return {"runs": array(await call.get("/api/stations/%s/runs" % seg(sid)))}
    return {"runs": array(await call.get("/api/runs",
                                         active=1 if args.get("active") is True else None))}


async def get_results(call, args):
    return {"results": array(await call.get(
        "/api/results", station=text(args, "station", required=False, n=48),
        test=text(args, "testId", required=False, n=50),
        verdict=text(args, "verdict", required=False, n=20),
        since=text(args, "since", required=False, n=40),
        limit=integer(args, "limit", 1, 1000, 100)))}


async def cancel_run(call, args):
    body = {}
    if args.get("station") is not None:
        body["station"] = text(args, "station", n=48)
    return obj(await call.post("/api/runs/%d/cancel" % integer(args, "run", 0, (1 << 31) - 1),
                                 body))


async def start_fleet_run(call, args):
    body = {"tests": _tests_arg(args), "stopOnFailure": args.get("stopOnFailure") is True}
    st = args.get("stations")
    if st is not None:
        if not isinstance(st, list) or not all(isinstance(s, str) for s in st):
            raise ToolError("invalid", "stations: a list of station ids", field="stations")
        body["stations"] = st
    return obj(await call.post("/api/fleet/runs", body))


async def get_fleet_run(call, args):
    return obj(await call.get("/api/fleet/runs/%d" % integer(args, "fleet", 0, (1 << 31) - 1)))


# -- the table --------------------------------------------------------------

_STATION = {"type": "string", "minLength": 1, "maxLength": 48, "description": "station id"}
_RUN = {"type": "integer", "minimum": 0, "maximum": 2147483647,
        "description": "run id (the StartDiagnostics requestId)"}


def _obj(props, required=()):
    s = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        s["required"] = list(required)
    return s


class Tool:
    def __init__(self, name, role, handler, description, schema, read_only=True):
        self.name, self.role, self.handler = name, role, handler
        self.description, self.schema, self.read_only = description, schema, read_only


TOOLS = [
    Tool("whoami", "read", whoami, "This credential's identity (the requestor stations record "
         "for runs started here), its role and the tools it may use.", _obj({})),
    Tool("list_stations", "read", list_stations, "Stations with connection state, last health "
         "status (Healthy/Degraded/Unhealthy) and catalog version.", _obj({})),
    Tool("get_station", "read", get_station, "One station: boot data, health, its last runs "
         "and recent health history.", _obj({"station": _STATION}, ["station"])),
    Tool("get_catalog", "read", get_catalog, "The tests a station offers, each with its "
         "parameters as JSON Schema (types, units, min/max, allowed values, required), "
         "whether it is intrusive, its timeout and expected outcome. Read it before "
         "start_diagnostics.", _obj({"station": _STATION, "refresh": {
             "type": "boolean", "description": "ask the station again instead of the "
             "console's stored copy"}}, ["station"])),
    Tool("start_diagnostics", "run", start_diagnostics, "Start tests on one station. "
         "Parameters are checked against the station's catalog first; a refusal names the "
         "parameter, its limit and the station's reasonCode. Returns the run; follow it "
         "with wait_run.", None, read_only=False),
    Tool("wait_run", "read", wait_run, "Wait (up to timeoutS) for a run to finish; returns "
         "whether it finished, the statuses seen and the run with its verdict.",
         _obj({"run": _RUN, "timeoutS": {"type": "integer", "minimum": 1,
                                         "maximum": _MAX_WAIT_S, "default": 60}}, ["run"])),
    Tool("get_run", "read", get_run, "A run with every result: verdict, measurements "
         "against limits, evidence, requestor, checksum check.", _obj({"run": _RUN}, ["run"])),
    Tool("list_runs", "read", list_runs, "Recent runs, of one station or all (active only).",
         _obj({"station": _STATION, "active": {"type": "boolean"}})),
    Tool("get_results", "read", get_results, "Stored results with evidence, filtered.",
         _obj({"station": _STATION, "testId": {"type": "string", "maxLength": 50},
               "verdict": {"type": "string", "enum": ["Passed", "Failed", "Error",
                                                      "TimedOut", "Aborted", "Skipped"]},
               "since": {"type": "string", "description": "RFC 3339 time"},
               "limit": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}})),
    Tool("cancel_run", "run", cancel_run, "Ask the station to cancel a run that has not "
         "finished.", _obj({"run": _RUN, "station": _STATION}, ["run"]), read_only=False),
    Tool("start_fleet_run", "run-intrusive", start_fleet_run, "The same tests on every "
         "station (or those listed) at once; needs role run-intrusive. Parameters are "
         "checked per station against its own catalog.", None, read_only=False),
    Tool("list_playbooks", "read", list_playbooks, "Playbooks this server runs: trigger, "
         "steps (tests, parameters, stop condition), rate limits, what is collected.",
         _obj({})),
    Tool("run_playbook", "run", run_playbook, "Run a playbook on one station now (its rate "
         "limits apply); returns the incident record: every step with its run, results and "
         "evidence, timing, outcome.", _obj({
             "playbook": {"type": "string", "maxLength": 48}, "station": _STATION,
             "reason": {"type": "string", "maxLength": 500,
                        "description": "why: kept in the incident's trigger"}},
             ["playbook", "station"]), read_only=False),
    Tool("open_incident", "run", open_incident, "Open an incident record for a station "
         "without running tests (e.g. an anomaly seen elsewhere).", _obj({
             "station": _STATION, "summary": {"type": "string", "minLength": 1,
                                              "maxLength": 1000}}, ["station", "summary"]),
         read_only=False),
    Tool("list_incidents", "read", list_incidents, "Incident records, newest first.",
         _obj({"station": _STATION, "playbook": {"type": "string", "maxLength": 48},
               "limit": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}})),
    Tool("get_incident", "read", get_incident, "One incident record in full.",
         _obj({"incident": {"type": "string", "maxLength": 40}}, ["incident"])),
    Tool("get_fleet_run", "read", get_fleet_run, "A fleet run's summary and its runs.",
         _obj({"fleet": {"type": "integer", "minimum": 0, "maximum": 2147483647}},
              ["fleet"])),
]
BY_NAME = {t.name: t for t in TOOLS}
PLAYBOOK_TOOLS = {"list_playbooks", "run_playbook", "open_incident", "list_incidents",
                  "get_incident"}


async def live_descriptors(call):
    """Test descriptors from the stations' stored catalogs (one per model and catalog
    version), for start_diagnostics' schema.  A station without one is skipped."""
    seen, out = set(), []
    try:
        stations = await call.get("/api/stations")
    except ConsoleError:
        return out
    for s in stations if isinstance(stations, list) else ():
        if not isinstance(s, dict) or not s.get("catalogFetchedAt") or len(seen) >= _MAX_CATALOGS:
            continue
        boot = s.get("boot") if isinstance(s.get("boot"), dict) else {}
        # Without a catalogVersion (optional) every such station counts as its own.
        key = (boot.get("vendorName"), boot.get("model"), s.get("catalogVersion") or s.get("id"))
        if key in seen:
            continue
        seen.add(key)
        if not isinstance(s.get("id"), str):
            continue
        try:
            cat = await call.get("/api/stations/%s/catalog" % seg(s["id"]))
        except ConsoleError:
            continue
        tests = cat.get("tests") if isinstance(cat, dict) else None
        if isinstance(tests, list):
            out.extend(d for d in tests if isinstance(d, dict))
    return out


async def input_schema(tool, call, descriptors):
    if tool.name == "start_diagnostics":
        return _obj({"station": _STATION,
                     "tests": schemas.tests_schema(descriptors, may(call.me["role"],
                                                                    "run-intrusive")),
                     "stopOnFailure": {"type": "boolean", "default": False}},
                    ["station", "tests"])
    if tool.name == "start_fleet_run":
        return _obj({"tests": schemas.tests_schema(descriptors),
                     "stations": {"type": "array", "items": _STATION,
                                  "description": "station ids; absent: every station"},
                     "stopOnFailure": {"type": "boolean", "default": False}}, ["tests"])
    return tool.schema
