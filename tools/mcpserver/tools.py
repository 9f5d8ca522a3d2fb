"""The MCP tools: name, the console role each needs, its argument schema, its handler.

Every handler calls the console API with the caller's own token, so the console is
the one authority on roles (a tool hidden from a role still reaches the console,
which refuses it with 403 and the role needed).  Handlers return a JSON object (the
tool's structured result) or raise ToolError / upstream.ConsoleError, which the
server turns into a tool error the agent can read and act on.
"""
import asyncio
import time
from urllib.parse import quote

from . import schemas
from .upstream import ConsoleError

ROLES = ("read", "run", "run-intrusive", "admin")
_POLL_S = 0.5
_MAX_WAIT_S = 600
# Catalogs read to build start_diagnostics' schema: stations of one model share one.
_MAX_CATALOGS = 20


class ToolError(Exception):
    """A refusal decided here (bad arguments), shaped like the console's errors."""

    def __init__(self, code, message, **details):
        super().__init__(message)
        self.error = dict(code=code, message=message, **details)


class Call:
    """One tool call: who asks (token, identity), the console to ask, and the
    playbooks and incident records this server holds (None: not configured)."""

    def __init__(self, upstream, token, identity, playbooks=None, incidents=None):
        self.up, self.token, self.me = upstream, token, identity
        self.playbooks, self.incidents = playbooks, incidents

    async def get(self, path, **params):
        return await self.up.get(self.token, path, **params)

    async def post(self, path, body):
        return await self.up.post(self.token, path, body)


def may(role, needed):
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


def _seg(sid):
    return quote(sid, safe="")


def _str(args, name, required=True, n=100):
    v = args.get(name)
    if v is None and not required:
        return None
    if not isinstance(v, str) or not 1 <= len(v) <= n:
        raise ToolError("invalid", "%s: text of 1..%d characters" % (name, n), field=name)
    return v


def _int(args, name, lo, hi, default=None):
    v = args.get(name, default)
    if v is None and default is None and name not in args:
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise ToolError("invalid", "%s: an integer %d..%d" % (name, lo, hi), field=name)
    return v


def _dict(x):
    """A console reply that must be an object (the console's replies are input too)."""
    if not isinstance(x, dict):
        raise ConsoleError(502, {"code": "bad-reply", "message": "console answered %s where "
                                 "an object was expected" % type(x).__name__})
    return x


def _list(x):
    if not isinstance(x, list):
        raise ConsoleError(502, {"code": "bad-reply", "message": "console answered %s where "
                                 "a list was expected" % type(x).__name__})
    return x


def run_finished(run):
    return run.get("status") in ("rejected", "unreachable") or run.get("verdict") is not None


# -- handlers ---------------------------------------------------------------

async def whoami(call, args):
    return {"name": call.me["name"], "role": call.me["role"],
            "tools": [t.name for t in TOOLS if may(call.me["role"], t.role) and (
                call.incidents is not None or t.name not in PLAYBOOK_TOOLS)]}


async def list_stations(call, args):
    return {"stations": _list(await call.get("/api/stations"))}


async def get_station(call, args):
    sid = _str(args, "station", n=48)
    out = _dict(await call.get("/api/stations/" + _seg(sid)))
    hist = await call.get("/api/stations/%s/health" % _seg(sid))
    out["healthHistory"] = hist[-20:] if isinstance(hist, list) else []
    return out


async def get_catalog(call, args):
    sid = _str(args, "station", n=48)
    cat = _dict(await call.get("/api/stations/%s/catalog" % _seg(sid),
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
    sid = _str(args, "station", n=48)
    run = _dict(await call.post("/api/stations/%s/runs" % _seg(sid), {
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
    rid = _int(args, "run", 0, (1 << 31) - 1)
    limit = _int(args, "timeoutS", 1, _MAX_WAIT_S, 60)
    deadline = time.monotonic() + limit
    seen = []
    while True:
        run = _dict(await call.get("/api/runs/%d" % rid))
        step = "%s %s/%s" % (run.get("status"), run.get("completed"), run.get("total"))
        if not seen or seen[-1] != step:
            seen.append(step)
        if run_finished(run) or time.monotonic() >= deadline:
            return {"finished": run_finished(run), "statuses": seen, "run": run}
        await asyncio.sleep(_POLL_S)


async def get_run(call, args):
    return _dict(await call.get("/api/runs/%d" % _int(args, "run", 0, (1 << 31) - 1)))


async def list_runs(call, args):
    sid = _str(args, "station", required=False, n=48)
    if sid is not None:
        return {"runs": _list(await call.get("/api/stations/%s/runs" % _seg(sid)))}
    return {"runs": _list(await call.get("/api/runs",
                                         active=1 if args.get("active") is True else None))}


async def get_results(call, args):
    return {"results": _list(await call.get(
        "/api/results", station=_str(args, "station", required=False, n=48),
        test=_str(args, "testId", required=False, n=50),
        verdict=_str(args, "verdict", required=False, n=20),
        since=_str(args, "since", required=False, n=40),
        limit=_int(args, "limit", 1, 1000, 100)))}


async def cancel_run(call, args):
    body = {}
    if args.get("station") is not None:
        body["station"] = _str(args, "station", n=48)
    return _dict(await call.post("/api/runs/%d/cancel" % _int(args, "run", 0, (1 << 31) - 1),
                                 body))


async def start_fleet_run(call, args):
    body = {"tests": _tests_arg(args), "stopOnFailure": args.get("stopOnFailure") is True}
    st = args.get("stations")
    if st is not None:
        if not isinstance(st, list) or not all(isinstance(s, str) for s in st):
            raise ToolError("invalid", "stations: a list of station ids", field="stations")
        body["stations"] = st
    return _dict(await call.post("/api/fleet/runs", body))


async def get_fleet_run(call, args):
    return _dict(await call.get("/api/fleet/runs/%d" % _int(args, "fleet", 0, (1 << 31) - 1)))


# -- playbooks and incidents ------------------------------------------------

def _books(call):
    if call.playbooks is None or call.incidents is None:
        raise ToolError("not-configured", "this MCP server runs no playbooks (--incident-dir)")
    return call.playbooks, call.incidents


async def list_playbooks(call, args):
    books, _ = _books(call)
    return {"playbooks": list(books.values())}


async def run_playbook(call, args):
    from . import playbook
    books, incidents = _books(call)
    if not may(call.me["role"], "run"):  # the incident record is ours to guard
        raise ToolError("forbidden", "running a playbook needs role 'run'", role="run")
    name = _str(args, "playbook", n=48)
    if name not in books:
        raise ToolError("notfound", "no playbook %r" % name, playbook=name)
    sid = _str(args, "station", n=48)
    reason = _str(args, "reason", required=False, n=500)
    try:
        return await playbook.run(books[name], sid, {"kind": "agent", "by": call.me["name"],
                                                     "reason": reason}, call, incidents,
                                  call.me["name"])
    except playbook.PlaybookError as e:
        raise ToolError(**e.error)


async def open_incident(call, args):
    _, incidents = _books(call)
    if not may(call.me["role"], "run"):
        raise ToolError("forbidden", "opening an incident needs role 'run'", role="run")
    sid = _str(args, "station", n=48)
    await call.get("/api/stations/" + _seg(sid))  # it exists, and this token may see it
    return incidents.open_manual(call.me["name"], sid, _str(args, "summary", n=1000))


async def list_incidents(call, args):
    _, incidents = _books(call)
    out = incidents.list(_str(args, "station", required=False, n=48),
                         _str(args, "playbook", required=False, n=48),
                         limit=_int(args, "limit", 1, 500, 50))
    return {"incidents": [{k: i.get(k) for k in ("id", "playbook", "station", "outcome",
                                                  "openedAt", "closedAt", "requestedBy")}
                          for i in out]}


async def get_incident(call, args):
    from . import playbook
    _, incidents = _books(call)
    try:
        return incidents.get(_str(args, "incident", n=40))
    except playbook.PlaybookError as e:
        raise ToolError(**e.error)


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
            cat = await call.get("/api/stations/%s/catalog" % _seg(s["id"]))
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
