"""The MCP server for AI agents against a live console and live agents (MicroPython unix
port), driven by the MCP client of the same `mcp` package: tools offered per role, a
catalog as JSON Schema, a run with parameters to its verdict and evidence with the
agent's identity as requestor, refusals (out-of-range parameter, read-only role,
no token on the HTTP endpoint), the JSONL journal."""
import httpx
import pytest

from console_peer import CONTACTOR, MEMORY, ConsoleProc
from mcp_peer import McpProc, http_client, run, stdio_client, tool_json

AGENT = "mcp:claude-ops Zoë ✓"  # the token's name: non-ASCII, it travels as requestor


@pytest.fixture(scope="module")
def shared(build_dir, tmp_path_factory):
    """One console, one agent (CS001) and one MCP HTTP server for the module: each test
    uses tokens of its own (names in the journal) and its own runs."""
    from conftest import AgentProc, base_config
    from console_peer import PASSWORD
    d = tmp_path_factory.mktemp("mcp-module")
    c = ConsoleProc(str(d)).start()
    c.add_station("CS001")
    a = AgentProc(build_dir, base_config(c.url, str(d), stationId="CS001",
                                         basicAuthPassword=PASSWORD, evses=[1]), str(d)).start()
    m = McpProc(str(d), c.api_url)
    try:
        c.wait_station("CS001")
        yield c, m
    finally:
        assert m.stop() == 0 and "Traceback" not in m.log(), m.log()
        a.stop()
        assert "Traceback" not in a.log(), a.log()[-3000:]
        assert c.stop() == 0 and "Traceback" not in c.log(), c.log()


@pytest.fixture
def console(shared):
    return shared[0]


@pytest.fixture
def mcp_http(shared):
    return shared[1]


def _runs(console):
    return [r["id"] for r in console.ok("GET", "/api/runs")]


def test_catalog_schema_run_verdict_and_evidence_over_http(console, mcp_http):
    token = console.token(AGENT, "run")

    async def session():
        async with http_client(mcp_http.url, token) as c:
            listed = {t.name: t for t in (await c.list_tools()).tools}
            err, me = tool_json(await c.call_tool("whoami", {}))
            err2, cat = tool_json(await c.call_tool("get_catalog", {"station": "CS001"}))
            err3, started = tool_json(await c.call_tool("start_diagnostics", {
                "station": "CS001",
                "tests": [{"testId": "memory", "parameters": {"minFreeBytes": 5000}}]}))
            assert not err3, started
            progress = []

            async def on_progress(done, total, message):
                progress.append((done, message))
            err4, waited = tool_json(await c.call_tool("wait_run", {"run": started["id"],
                                                                    "timeoutS": 120},
                                                       progress_callback=on_progress))
            err5, got = tool_json(await c.call_tool("get_run", {"run": started["id"]}))
            err6, stations = tool_json(await c.call_tool("list_stations", {}))
            return listed, (err, me), (err2, cat), started, (err4, waited), (err5, got), \
                (err6, stations), progress

    listed, me, cat, started, waited, got, stations, progress = run(session())

    # The role "run" sees what it may use; the fleet tool (run-intrusive) is not offered.
    assert {"list_stations", "get_catalog", "start_diagnostics", "wait_run", "get_run",
            "cancel_run", "get_results"} <= set(listed)
    assert "start_fleet_run" not in listed
    assert listed["get_run"].annotations.read_only_hint is True
    assert listed["start_diagnostics"].annotations.read_only_hint is False
    # start_diagnostics' schema is built from the station's live catalog.
    variants = {v["properties"]["testId"]["const"]: v for v in
                listed["start_diagnostics"].input_schema["properties"]["tests"]["items"]["oneOf"]}
    mem_params = variants["memory"]["properties"]["parameters"]
    assert mem_params["properties"]["minFreeBytes"]["maximum"] == 16777216
    assert mem_params["additionalProperties"] is False
    assert variants["noop"]["properties"]["parameters"]["required"] == ["durationMs"]
    assert variants["noop"]["x-intrusive"] is False

    assert me == (False, {"name": AGENT, "role": "run", "tools": me[1]["tools"]})
    assert "start_fleet_run" not in me[1]["tools"]

    err, cat = cat
    assert not err and cat["station"] == "CS001"
    tests = {t["testId"]: t for t in cat["tests"]}
    prop = tests["memory"]["parametersSchema"]["properties"]["minFreeBytes"]
    assert prop["type"] == "integer" and prop["maximum"] == 16777216 and "minimum" in prop
    assert prop["x-unit"] == "B" and "(unit: B)" in prop["description"]
    noop = tests["noop"]["parametersSchema"]
    assert noop["properties"]["outcome"]["enum"] == ["Passed", "Failed", "Error", "OutOfMemory"]
    assert noop["required"] == ["durationMs"]
    assert tests["noop"]["x-intrusive"] is False and tests["noop"]["x-timeoutS"] == 3

    assert started["status"] in ("accepted", "running", "done") and started["requestor"] == AGENT
    err, waited = waited
    assert not err and waited["finished"] is True and waited["statuses"]
    assert waited["run"]["verdict"] == "Passed" and waited["run"]["status"] == "done"
    # Progress notifications followed the statuses (MCP progress, as the client asked).
    assert [m for _, m in progress] == ["run %d: %s" % (started["id"], s)
                                        for s in waited["statuses"]]
    assert [n for n, _ in progress] == list(range(1, len(progress) + 1))

    err, got = got
    assert not err and got["requestor"] == AGENT
    (res,) = got["results"]
    assert res["verdict"] == "Passed" and res["checksumVerified"] is True
    payload = res["result"]
    assert payload["requestor"] == AGENT  # as the station recorded it
    assert payload["requestId"] == started["id"]
    assert {"name": "minFreeBytes", "value": 5000} in payload["parameter"]
    m = {x["name"]: x for x in payload["measurement"]}  # the evidence: measured vs limit
    assert m["freeHeap"]["withinLimit"] is True and m["freeHeap"]["unit"] == "B"

    err, stations = stations
    (s,) = [s for s in stations["stations"] if s["id"] == "CS001"]
    assert not err and s["connected"] and "health" in s

    # Every call is journaled with the agent's identity; the run start names its run.
    lines = mcp_http.audit()
    calls = [l for l in lines if l["method"] == "tools/call" and l["client"] == AGENT]
    assert [l["tool"] for l in calls] == ["whoami", "get_catalog", "start_diagnostics",
                                          "wait_run", "get_run", "list_stations"]
    assert all(l["client"] == AGENT and l["role"] == "run" and l["transport"] == "http"
               for l in calls)
    assert calls[2]["run"] == started["id"] and calls[2]["outcome"] == "ok"
    assert calls[2]["arguments"]["tests"][0]["parameters"] == {"minFreeBytes": 5000}
    # ...and the console's own record names it too.
    assert console.ok("GET", "/api/runs/%d" % started["id"])["requestor"] == AGENT


def test_out_of_range_parameter_refused_with_the_reason(console, mcp_http):
    who = "mcp:prüfer"
    token = console.token(who, "run")
    runs_before = _runs(console)

    async def session():
        async with http_client(mcp_http.url, token) as c:
            out = []
            for tests in ([{"testId": "memory", "parameters": {"minFreeBytes": 99999999}}],
                          [{"testId": "noop", "parameters": {}}],
                          [{"testId": "noop", "parameters": {"durationMs": 5, "colour": "grün"}}],
                          [{"testId": "noop", "parameters": {"durationMs": 5,
                                                             "outcome": "Bestanden ✓"}}],
                          [{"testId": "kein-test-ü"}]):
                out.append(tool_json(await c.call_tool("start_diagnostics", {
                    "station": "CS001", "tests": tests})))
            return out

    too_big, missing, unknown_param, not_allowed, unknown_test = run(session())
    err, body = too_big
    assert err is True
    e = body["error"]
    assert e["httpStatus"] == 422 and e["reasonCode"] == "InvalidParameter"
    assert e["parameter"] == "minFreeBytes" and e["limit"] == "<= 16777216"
    assert e["testId"] == "memory" and "16777216" in e["message"]
    assert missing[0] and missing[1]["error"]["reasonCode"] == "MissingParameter"
    assert missing[1]["error"]["parameter"] == "durationMs"
    assert unknown_param[0] and unknown_param[1]["error"]["reasonCode"] == "UnknownParameter"
    assert unknown_param[1]["error"]["parameter"] == "colour"
    assert not_allowed[0] and not_allowed[1]["error"]["reasonCode"] == "InvalidParameter"
    assert "Bestanden ✓" in not_allowed[1]["error"]["message"]
    assert unknown_test[0] and unknown_test[1]["error"]["reasonCode"] == "UnknownTest"
    assert unknown_test[1]["error"]["testId"] == "kein-test-ü"

    # Nothing reached the station: no run was recorded.
    assert _runs(console) == runs_before
    refused = [l for l in mcp_http.audit() if l.get("tool") == "start_diagnostics"
               and l["client"] == who]
    assert len(refused) == 5 and all(l["outcome"] == "error" for l in refused)
    assert refused[0]["error"]["reasonCode"] == "InvalidParameter"


def test_read_only_credential_offered_no_run_and_refused(console, mcp_http):
    token = console.token("mcp:lecteur-ø", "read")
    runs_before = _runs(console)

    async def session():
        async with http_client(mcp_http.url, token) as c:
            names = {t.name for t in (await c.list_tools()).tools}
            start = tool_json(await c.call_tool("start_diagnostics", {
                "station": "CS001", "tests": [{"testId": "noop",
                                               "parameters": {"durationMs": 5}}]}))
            fleet = tool_json(await c.call_tool("start_fleet_run", {
                "tests": [{"testId": "health"}]}))
            cat = tool_json(await c.call_tool("get_catalog", {"station": "CS001"}))
            return names, start, fleet, cat

    names, start, fleet, cat = run(session())
    assert "get_catalog" in names and "wait_run" in names
    assert not names & {"start_diagnostics", "cancel_run", "start_fleet_run"}
    # Called anyway: the console refuses with 403 and the role needed, passed through.
    assert start[0] is True and start[1]["error"]["httpStatus"] == 403
    assert start[1]["error"]["role"] == "run" and start[1]["error"]["code"] == "forbidden"
    assert fleet[0] is True and fleet[1]["error"]["role"] == "run-intrusive"
    assert cat[0] is False  # what the role may do still works
    assert _runs(console) == runs_before
    refused = [l for l in mcp_http.audit() if l.get("tool") in ("start_diagnostics",
                                                                 "start_fleet_run")
               and l["client"] == "mcp:lecteur-ø"]
    assert [l["outcome"] for l in refused] == ["error", "error"]
    assert all(l["role"] == "read" and l["error"]["httpStatus"] == 403 for l in refused)


def test_http_endpoint_refuses_requests_without_a_valid_token(console, mcp_http):
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"}}}
    hdr = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    for auth in (None, "Bearer cdt_not-a-token", "Basic dXNlcjpwYXNz"):
        h = dict(hdr, Authorization=auth) if auth else hdr
        r = httpx.post(mcp_http.url, json=init, headers=h, timeout=30)
        assert r.status_code == 401, (auth, r.status_code, r.text)
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert r.json()["error"]["code"] == "unauthorized"
    # A valid console token opens it.
    ok = httpx.post(mcp_http.url, json=init, timeout=30,
                    headers=dict(hdr, Authorization="Bearer " + console.token("mcp:x", "read")))
    assert ok.status_code == 200, ok.text

    # The MCP client with a revoked token cannot use it either.
    token = console.token("mcp:revoked", "run")
    console.ok("DELETE", "/api/tokens/mcp:revoked")

    async def attempt():
        try:
            async with http_client(mcp_http.url, token) as c:
                await c.list_tools()
        except Exception as e:  # the client reports the 401 its own way
            return e
        return None

    assert run(attempt()) is not None
    refused = [l for l in mcp_http.audit() if l["outcome"] == "refused"]
    assert len(refused) >= 4 and all(l["client"] is None and l["httpStatus"] == 401
                                     for l in refused)
    assert not [l for l in mcp_http.audit() if l.get("client") == "mcp:revoked"]


def test_stdio_transport_runs_and_cancels_as_its_token(console, tmp_path):
    token = console.token("mcp:stdio-agent ✓", "run")
    audit = str(tmp_path / "stdio-audit.jsonl")

    async def session():
        async with stdio_client(console.api_url, token, audit) as c:
            me = tool_json(await c.call_tool("whoami", {}))
            started = tool_json(await c.call_tool("start_diagnostics", {
                "station": "CS001", "tests": [{"testId": "noop",
                                               "parameters": {"durationMs": 4000}},
                                              {"testId": "memory"}]}))
            cancelled = tool_json(await c.call_tool("cancel_run", {"run": started[1]["id"],
                                                                   "station": "CS001"}))
            waited = tool_json(await c.call_tool("wait_run", {"run": started[1]["id"],
                                                              "timeoutS": 120}))
            bad = tool_json(await c.call_tool("wait_run", {"run": "sieben"}))
            return me, started, cancelled, waited, bad

    me, started, cancelled, waited, bad = run(session())
    assert me[1]["name"] == "mcp:stdio-agent ✓"
    assert started[0] is False and started[1]["requestor"] == "mcp:stdio-agent ✓"
    assert cancelled[0] is False and cancelled[1]["status"] in ("cancelling", "cancelled")
    w = waited[1]
    assert w["finished"] and w["run"]["status"] == "cancelled"
    assert sorted(r["verdict"] for r in w["run"]["results"]) == ["Aborted", "Skipped"]
    assert all(r["result"]["requestor"] == "mcp:stdio-agent ✓" for r in w["run"]["results"])
    assert bad[0] is True and bad[1]["error"]["field"] == "run"

    import json
    with open(audit, encoding="utf-8") as f:
        lines = [json.loads(line) for line in f]
    calls = [l for l in lines if l["method"] == "tools/call"]
    assert [l["tool"] for l in calls] == ["whoami", "start_diagnostics", "cancel_run",
                                          "wait_run", "wait_run"]
    assert all(l["client"] == "mcp:stdio-agent ✓" and l["transport"] == "stdio" for l in calls)
    assert calls[2]["run"] == started[1]["id"]


def _scripted(console, sid):
    """A Python station offering an intrusive test (the MicroPython agent has none) and
    refusing memory runs with its own reasonCode."""
    from console_peer import ScriptedStation
    st = ScriptedStation(console.url, sid).offer([MEMORY, CONTACTOR])

    def start(req):
        if req["test"][0]["testId"] == "memory":
            return {"status": "Rejected", "statusInfo": {"reasonCode": "Busy",
                                                         "additionalInfo": "Prüfung läuft"}}
        return {"status": "Accepted"}
    st.answers["StartDiagnostics"] = start
    return st


def test_intrusive_test_marked_and_refused_below_its_role_station_reason_passed(console,
                                                                               mcp_http):
    console.add_station("CS-I")
    st = _scripted(console, "CS-I")
    try:
        assert st.connect() is None
        console.wait_station("CS-I")
        runner = console.token("mcp:läufer", "run")
        intrusive = console.token("mcp:eingriff", "run-intrusive")

        async def session(token):
            async with http_client(mcp_http.url, token) as c:
                tools = {t.name: t for t in (await c.list_tools()).tools}
                contactor = tool_json(await c.call_tool("start_diagnostics", {
                    "station": "CS-I", "tests": [{"testId": "contactor"}]}))
                memory = tool_json(await c.call_tool("start_diagnostics", {
                    "station": "CS-I", "tests": [{"testId": "memory"}]}))
                return tools, contactor, memory

        tools, contactor, memory = run(session(runner))
        items = tools["start_diagnostics"].input_schema["properties"]["tests"]["items"]["oneOf"]
        by_id = {v["properties"]["testId"]["const"]: v for v in items}
        assert by_id["contactor"]["x-intrusive"] is True
        assert by_id["contactor"]["x-requiresRole"] == "run-intrusive"
        assert "INTRUSIVE" in by_id["contactor"]["description"]
        assert "x-requiresRole" not in by_id["memory"]
        assert contactor[0] is True and contactor[1]["error"]["httpStatus"] == 403
        assert contactor[1]["error"]["role"] == "run-intrusive"
        # The station refused the memory run: its own reasonCode reaches the agent.
        assert memory[0] is True and memory[1]["error"]["code"] == "station-rejected"
        assert memory[1]["error"]["reasonCode"] == "Busy"
        assert "Prüfung läuft" in memory[1]["error"]["message"]

        tools, contactor, _ = run(session(intrusive))
        by_id = {v["properties"]["testId"]["const"]: v for v in
                 tools["start_diagnostics"].input_schema["properties"]["tests"]["items"]["oneOf"]}
        assert "x-requiresRole" not in by_id["contactor"] and "start_fleet_run" in tools
        assert contactor[0] is False and contactor[1]["status"] == "accepted"
        sent = [c[1] for c in st.calls if c[0] == "StartDiagnostics"]
        assert [(s["test"][0]["testId"], s["requestor"]) for s in sent] == [
            ("memory", "mcp:läufer"), ("contactor", "mcp:eingriff"), ("memory", "mcp:eingriff")]
    finally:
        st.close()


def test_fleet_run_with_the_higher_role_to_its_summary(console, mcp_http):
    ops = console.token("mcp:flotte-ø", "run-intrusive")

    async def session():
        async with http_client(mcp_http.url, ops) as c:
            started = tool_json(await c.call_tool("start_fleet_run", {
                "stations": ["CS001"], "tests": [{"testId": "health", "parameters": {
                    "maxLoopLagMs": 10000, "minFreeHeap": 0, "minFreeFlash": 0}}]}))
            assert started[0] is False, started
            (r,) = started[1]["runs"]
            waited = tool_json(await c.call_tool("wait_run", {"run": r["id"], "timeoutS": 120}))
            fleet = tool_json(await c.call_tool("get_fleet_run", {"fleet": started[1]["id"]}))
            unknown = tool_json(await c.call_tool("start_fleet_run", {
                "stations": ["CS-GIBT-ES-NICHT"], "tests": [{"testId": "health"}]}))
            return started[1], waited[1], fleet, unknown

    started, waited, fleet, unknown = run(session())
    assert started["requestor"] == "mcp:flotte-ø"
    assert waited["run"]["verdict"] == "Passed" and waited["run"]["fleet"] == started["id"]
    assert waited["run"]["results"][0]["result"]["requestor"] == "mcp:flotte-ø"
    assert fleet[0] is False and fleet[1]["done"] and fleet[1]["summary"]["Passed"] == 1
    assert unknown[0] is True and unknown[1]["error"]["httpStatus"] == 404
    (line,) = [l for l in mcp_http.audit() if l.get("client") == "mcp:flotte-ø"
               and l.get("tool") == "start_fleet_run" and l["outcome"] == "ok"]
    assert line["fleet"] == started["id"]
