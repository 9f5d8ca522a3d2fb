"""Playbooks end to end: a live agent (MicroPython unix port) whose energy meter (a
pymodbus peer on a pty pair) answers an implausible value; the meter test fails, the
`mcpserver watch` process sees the result on the console's event stream, runs the
meter-fault playbook within its rate limits, and the incident record (trigger, steps
with runs, results and evidence, timing, outcome) is read back through MCP tools."""
import json
import os
import signal
import socket
import subprocess
import threading
import time

import pytest

from console_peer import console, station_agent, wait_until  # noqa: F401  (fixtures)
from mcp_peer import (MCPSERVER, McpProc, http_client, mcp_http, run,  # noqa: F401
                      stdio_client, tool_json)
from meter_peer import meter, pty_pair  # noqa: F401

RUNNER = "playbook-runner ⚙"  # the watcher's token name: requestor of the playbook's runs
AGENT = "mcp:claude-ops Zoë"


def test_meter_fault_playbook_from_a_failed_test_to_its_incident(console, station_agent,
                                                                  mcp_http, pty_pair, meter,
                                                                  tmp_path):
    agent_end, meter_end = pty_pair
    bad = meter(serial=meter_end, value=412.5)  # answers, but not a plausible 230 V
    console.add_station("CS-M")
    station_agent(console, "CS-M", meter={"device": agent_end})
    console.wait_station("CS-M")
    watcher = McpProc(mcp_http.workdir, console.api_url, "watch",
                      console.token(RUNNER, "run"), name="watch")
    try:
        _meter_fault(console, mcp_http, watcher)
        # The meter recovers: a playbook run now stops at its first step as transient.
        bad.terminate()
        bad.wait(10)
        meter(serial=meter_end, value=230.1)
        _transient(console, tmp_path)
    finally:
        rc = watcher.stop()
    assert rc == 0 and "Traceback" not in watcher.log(), watcher.log()


def _probe(console, tmp_path, shipped, name, station, reason, who="mcp:sonde-ø", change=None):
    """An agent runs a copy of a shipped playbook from --playbook-dir (no per-station
    limit; `change(pb)` edits it) over stdio -> (is_error, incident)."""
    books = tmp_path / ("books-" + name)
    books.mkdir()
    with open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools",
                           "mcpserver", "playbooks", shipped + ".json"), encoding="utf-8") as f:
        pb = json.load(f)
    pb.update(name=name, rateLimit={"perStationS": 0, "fleetPerHour": 5})
    if change:
        change(pb)
    (books / (name + ".json")).write_text(json.dumps(pb, ensure_ascii=False), encoding="utf-8")
    token = console.token(who, "run")
    env = {"MCP_PLAYBOOK_DIR": str(books)}

    async def session():
        async with stdio_client(console.api_url, token, str(tmp_path / ("%s.jsonl" % name)),
                                **env) as c:
            return tool_json(await c.call_tool("run_playbook", {
                "playbook": name, "station": station, "reason": reason}))
    return run(session())


def _transient(console, tmp_path):
    who = "mcp:sonde-ø"
    err, inc = _probe(console, tmp_path, "meter-fault", "meter-probe", "CS-M", "Zähler wieder da?")
    assert err is False, inc
    assert inc["outcome"] == "transient" and [s["name"] for s in inc["steps"]] == ["confirm"]
    assert inc["steps"][0]["verdict"] == "Passed" and inc["requestedBy"] == who
    assert inc["trigger"] == {"kind": "agent", "by": who, "reason": "Zähler wieder da?"}
    assert inc["steps"][0]["results"][0]["result"]["requestor"] == who


def _meter_fault(console, mcp_http, watcher):
    ops = console.token("ops", "run")
    agent = console.token(AGENT, "run")
    reader = console.token("mcp:nur-lesen", "read")

    first = console.ok("POST", "/api/stations/CS-M/runs", token=ops,
                       json_body={"tests": [{"testId": "meter"}]})
    done = console.wait_run(first["id"], lambda r: r["verdict"] is not None, timeout=120)
    assert done["verdict"] == "Failed"
    assert done["results"][0]["result"]["statusInfo"]["reasonCode"] == "OutOfRange"

    def closed_incident():
        incs = _incidents(mcp_http)
        return incs and all(i["outcome"] not in ("running",) for i in incs)
    wait_until(closed_incident, 240, lambda: "incident: %s\n%s" % (_incidents(mcp_http),
                                                                   watcher.log()))
    (inc,) = _incidents(mcp_http)

    async def read(token):
        async with http_client(mcp_http.url, token) as c:
            listed = tool_json(await c.call_tool("list_incidents", {"station": "CS-M"}))
            got = tool_json(await c.call_tool("get_incident", {"incident": inc["id"]}))
            books = tool_json(await c.call_tool("list_playbooks", {}))
            again = tool_json(await c.call_tool("run_playbook", {
                "playbook": "meter-fault", "station": "CS-M", "reason": "noch einmal prüfen"}))
            return listed, got, books, again

    listed, got, books, again = run(read(agent))
    assert listed[0] is False and [i["id"] for i in listed[1]["incidents"]] == [inc["id"]]
    assert got[0] is False
    inc = got[1]
    assert inc["playbook"] == "meter-fault" and inc["station"] == "CS-M"
    assert inc["requestedBy"] == RUNNER
    assert inc["trigger"]["kind"] == "testFailed" and inc["trigger"]["event"]["run"] == first["id"]
    assert inc["outcome"] == "meter-fault-confirmed"
    assert [s["name"] for s in inc["steps"]] == ["confirm", "patient-read", "station-health"]
    assert [s["verdict"] for s in inc["steps"]] == ["Failed", "Failed", "Failed"]
    confirm, patient, health = inc["steps"]
    ev = confirm["results"][0]["result"]
    assert "value 412.5 V outside 180..260 V" in ev["evidence"]  # the evidence travels
    assert ev["requestor"] == RUNNER and confirm["results"][0]["checksumVerified"] is True
    params = {p["name"]: p["value"] for p in patient["results"][0]["result"]["parameter"]}
    assert params["timeoutMs"] == 2000 and params["retries"] == 3
    h = health["results"][0]["result"]  # the station itself names the meter as the cause
    assert h["testId"] == "health" and h["healthStatus"] == "Degraded"
    assert "self tests last failed: meter" in h["evidence"]
    assert all(s["durationS"] >= 0 and s["startedAt"] for s in inc["steps"])
    assert inc["closedAt"] and inc["durationS"] >= 0 and inc["stationHealth"]
    assert inc["stationState"]["id"] == "CS-M"
    # The console records the playbook's runs with the runner as requestor.
    assert console.ok("GET", "/api/runs/%d" % confirm["run"])["requestor"] == RUNNER

    assert books[0] is False and [b["name"] for b in books[1]["playbooks"]] == [
        "memory-pressure", "meter-fault", "time-source-lost"]
    # Rate limit: the meter-fault playbook ran on CS-M within the hour.
    assert again[0] is True and again[1]["error"]["code"] == "rate-limited"

    # A second failure within the hour opens no second incident: the watcher says why.
    second = console.ok("POST", "/api/stations/CS-M/runs", token=ops,
                        json_body={"tests": [{"testId": "meter"}]})
    console.wait_run(second["id"], lambda r: r["verdict"] is not None, timeout=120)

    def refused():
        return [l for l in watcher.audit() if l.get("event") and l["outcome"] == "refused"]
    wait_until(refused, 60, lambda: watcher.audit())
    assert refused()[-1]["error"]["code"] == "rate-limited"
    assert len(_incidents(mcp_http)) == 1
    # The playbook's own failing runs never re-triggered it: only operator runs did.
    triggered = [l for l in watcher.audit() if l.get("method") == "playbook"]
    assert {l["outcome"] for l in triggered} == {"ok", "refused"}
    assert sum(l["outcome"] == "ok" for l in triggered) == 1

    # A read-only credential neither runs a playbook nor opens an incident.
    async def as_reader():
        async with http_client(mcp_http.url, reader) as c:
            names = {t.name for t in (await c.list_tools()).tools}
            return names, tool_json(await c.call_tool("run_playbook", {
                "playbook": "meter-fault", "station": "CS-M"})), tool_json(
                await c.call_tool("open_incident", {"station": "CS-M", "summary": "x"}))
    names, ran, opened = run(as_reader())
    assert "get_incident" in names and not names & {"run_playbook", "open_incident"}
    assert ran[0] and ran[1]["error"]["role"] == "run"
    assert opened[0] and opened[1]["error"]["role"] == "run"
    assert len(_incidents(mcp_http)) == 1

    # An agent records an incident without running anything; no limit applies to that.
    async def note():
        async with http_client(mcp_http.url, agent) as c:
            opened = tool_json(await c.call_tool("open_incident", {
                "station": "CS-M", "summary": "Zähler zeigt 412,5 V – Spannungswandler prüfen"}))
            missing = tool_json(await c.call_tool("open_incident", {
                "station": "CS-NIRGENDS", "summary": "x"}))
            return opened, missing, tool_json(await c.call_tool("list_incidents", {}))
    opened, missing, listed = run(note())
    assert opened[0] is False and opened[1]["outcome"] == "open"
    assert opened[1]["requestedBy"] == AGENT and opened[1]["trigger"]["summary"].startswith("Zähler")
    assert missing[0] is True and missing[1]["error"]["httpStatus"] == 404
    assert [i["id"] for i in listed[1]["incidents"]][0] == opened[1]["id"]
    assert len(listed[1]["incidents"]) == 2


def _incidents(proc):
    d = proc.incident_dir
    if not os.path.isdir(d):
        return []
    out = []
    for name in sorted(os.listdir(d)):
        if name.endswith(".json"):
            with open(os.path.join(d, name), encoding="utf-8") as f:
                out.append(json.load(f))
    return out


@pytest.mark.parametrize("change, where", [
    ({"steps": [{"name": "leer", "tests": []}]}, "steps/0/tests"),
    ({"trigger": [{"kind": "reconnectStorm", "count": 1, "windowS": 60}]}, "trigger/0"),
    ({"trigger": [{"kind": "securityEvent", "types": []}]}, "trigger/0"),
    ({"collect": [{"variables": [{"component": "DiagnosticsCtrlr"}]}]}, "collect/0"),
    ({"collect": ["journal", "tagebuch"]}, "collect/1"),
])
def test_a_playbook_that_breaks_its_schema_is_refused_at_start(tmp_path, change, where):
    bad = tmp_path / "books"
    bad.mkdir()
    pb = {"name": "kaputt", "version": "1", "description": "Schritte ohne Tests",
          "trigger": [{"kind": "health", "status": ["Degraded"]}],
          "steps": [{"name": "eins", "tests": [{"testId": "memory"}]}],
          "rateLimit": {"perStationS": 60, "fleetPerHour": 1}, "collect": [],
          "outcomeIfCompleted": "done"}
    pb.update(change)
    (bad / "kaputt.json").write_text(json.dumps(pb), encoding="utf-8")
    p = subprocess.run(MCPSERVER + ["stdio", "--token", "x", "--playbook-dir", str(bad),
                                    "--audit-log", str(tmp_path / "a.jsonl"),
                                    "--incident-dir", str(tmp_path / "inc")],
                       capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    assert p.returncode == 2
    err = p.stderr.decode()
    assert "kaputt.json" in err and where in err, err


METER = {"testId": "meter", "testType": "SelfTest", "version": "1.0",
         "description": "Energy meter", "constraints": {"intrusive": False, "timeout": 10,
                                                       "minInterval": 0, "needsNetwork": False},
         "expectedOutcome": {"verdicts": ["Passed", "Failed"]}}


def _failed_result(run_id, result_id):
    import hashlib
    r = {"resultId": result_id, "requestId": run_id, "testId": "meter", "testType": "SelfTest",
         "requestor": "ops", "trigger": "OnDemand", "startTime": "2026-01-01T00:00:00Z",
         "endTime": "2026-01-01T00:00:01Z", "verdict": "Failed",
         "evidence": "Zähler stumm"}
    text = json.dumps(r, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    r["checksum"] = hashlib.sha256(text.encode()).hexdigest()
    return r


def test_watcher_follows_again_after_the_console_restarts(console, tmp_path):
    """A scripted station (answers runs, reports what the test tells it): the watcher
    loses its stream when the console restarts, follows again, and a failure reported
    after the restart still opens an incident."""
    from console_peer import ScriptedStation
    books = tmp_path / "books"
    books.mkdir()
    (books / "meter-kurz.json").write_text(json.dumps({
        "name": "meter-kurz", "version": "1", "description": "ein Schritt, kurze Geduld",
        "trigger": [{"kind": "testFailed", "testId": "meter"}],
        "steps": [{"name": "nochmal", "tests": [{"testId": "meter"}], "timeoutS": 1}],
        "rateLimit": {"perStationS": 0, "fleetPerHour": 10}, "collect": ["results"],
        "outcomeIfCompleted": "bestätigt"}, ensure_ascii=False), encoding="utf-8")
    watcher = McpProc(str(tmp_path), console.api_url, "watch",
                      console.token("playbook-runner", "run"), name="watch",
                      extra=["--playbook-dir", str(books)])
    console.add_station("CS-S")

    def station():
        st = ScriptedStation(console.url, "CS-S").offer([METER])
        assert st.connect() is None
        console.wait_station("CS-S")
        return st

    st = station()
    try:
        console.stop()
        st.close()
        console.start()
        st = station()
        run_id = console.ok("POST", "/api/stations/CS-S/runs",
                            json_body={"tests": [{"testId": "meter"}]})["id"]
        assert st.call("NotifyDiagnosticsResult", {"result": _failed_result(run_id, 1)})[0] == 3

        def short():
            return [i for i in _incidents(watcher) if i["playbook"] == "meter-kurz"
                    and i["outcome"] != "running"]
        wait_until(short, 60, lambda: watcher.log() + str(watcher.audit()))
        (inc,) = short()
        assert inc["trigger"]["event"]["run"] == run_id
        # The station never reports the playbook's own run: the step ends at its timeout.
        assert inc["outcome"] == "aborted" and inc["steps"][0]["verdict"] is None
        assert inc["steps"][0]["status"] == "accepted"
    finally:
        st.close()
        rc = watcher.stop()
    assert rc == 0 and "Traceback" not in watcher.log(), watcher.log()
    # The shipped meter-fault playbook matched the same failure; its first step was still
    # waiting (the station never answers) when the watcher stopped: recorded as such.
    (full,) = [i for i in _incidents(watcher) if i["playbook"] == "meter-fault"]
    assert full["trigger"]["event"]["run"] == run_id
    assert full["outcome"] == "interrupted" and full["closedAt"]


def _closed(proc, name):
    return [i for i in _incidents(proc) if i["playbook"] == name and i["outcome"] != "running"]


def _step(inc, name):
    (s,) = [s for s in inc["steps"] if s["name"] == name]
    return s


def test_time_source_lost_playbook_when_the_time_server_stops(console, station_agent, mcp_http,
                                                              tmp_path):
    """Real peers (chronyd with NTS-KE, dnsmasq): the ntp test passes; chronyd stops;
    the next ntp test fails and the watcher runs time-source-lost: NTP stays silent,
    the names resolve, the NTS-KE port is closed -> the time server's host is down.
    With the resolver stopped too, a copy of the playbook finds DNS broken."""
    from net_peers import HealthyPeers
    hp = HealthyPeers(str(tmp_path / "peers")).__enter__()
    watcher = None
    try:
        targets = dict(hp.targets, tcpEndpoints=["127.0.0.1:%d" % hp.chrony.nts_port])
        console.add_station("CS-T")
        station_agent(console, "CS-T", diagTargets=targets)
        console.wait_station("CS-T")
        watcher = McpProc(mcp_http.workdir, console.api_url, "watch",
                          console.token(RUNNER, "run"), name="watch")
        ops = console.token("ops", "run")

        def ntp():
            r = console.ok("POST", "/api/stations/CS-T/runs", token=ops,
                           json_body={"tests": [{"testId": "ntp"}]})
            return console.wait_run(r["id"], lambda x: x["verdict"] is not None, timeout=120)
        assert ntp()["verdict"] == "Passed"
        hp.chrony.stop()  # the time source is lost
        failed = ntp()
        assert failed["verdict"] == "Failed"
        wait_until(lambda: _closed(mcp_http, "time-source-lost"), 300,
                   lambda: "%s\n%s" % (_incidents(mcp_http), watcher.log()))
        (inc,) = _closed(mcp_http, "time-source-lost")
        # The passing run opened nothing: the incident is the failed run's.
        assert inc["trigger"]["kind"] == "testFailed" and inc["trigger"]["testId"] == "ntp"
        assert inc["trigger"]["event"]["run"] == failed["id"]
        assert inc["requestedBy"] == RUNNER
        assert [s["name"] for s in inc["steps"]] == ["ntp-again", "dns", "nts-ke-port"]
        assert [s["verdict"] for s in inc["steps"]] == ["Failed", "Passed", "Failed"]
        assert inc["outcome"] == "time-server-host-unreachable"
        port = _step(inc, "nts-ke-port")["results"][0]["result"]
        assert "127.0.0.1:%d" % hp.chrony.nts_port in port["evidence"]
        assert _step(inc, "ntp-again")["results"][0]["result"]["requestor"] == RUNNER
        dm = {(v["component"].get("instance"), v["variable"]["name"]): v
              for v in inc["deviceModel"]["variables"]}
        assert dm[("ntp", "LastVerdict")]["attributeValue"] == "Failed"
        assert dm[(None, "NtpServerUri")]["attributeStatus"]  # whatever the station answered
        assert inc["stationState"]["id"] == "CS-T"

        hp.dns.stop()  # and now the names do not resolve either
        err, probe = _probe(console, tmp_path, "time-source-lost", "time-probe", "CS-T",
                            "Zeitquelle weg – DNS?")
        assert err is False, probe
        assert [s["name"] for s in probe["steps"]] == ["ntp-again", "dns"]
        assert probe["outcome"] == "dns-broken"
        assert _step(probe, "dns")["results"][0]["result"]["verdict"] == "Failed"
    finally:
        rc = watcher.stop() if watcher else 0
        hp.__exit__(None, None, None)
    assert rc == 0 and "Traceback" not in watcher.log(), watcher.log()


class _Hung:
    """chronyd frozen (SIGSTOP) as a hung time daemon is: the kernel still completes
    TCP handshakes on its NTS-KE port (the listen backlog), its NTP socket takes
    queries that nobody answers. SIGCONT on exit, so that its stop() can end it."""

    def __init__(self, chrony):
        self.pid = chrony.proc.pid

    def __enter__(self):
        os.kill(self.pid, signal.SIGSTOP)
        return self

    def __exit__(self, *exc):
        os.kill(self.pid, signal.SIGCONT)


def _ntp_station(console, station_agent, hp, sid, **over):
    """A station whose time server is chronyd and whose TCP endpoint is chronyd's
    NTS-KE port (what the nts-ke-port step connects to)."""
    targets = dict(hp.targets, tcpEndpoints=["127.0.0.1:%d" % hp.chrony.nts_port])
    console.add_station(sid)
    station_agent(console, sid, diagTargets=targets, **over)
    console.wait_station(sid)


def _silent_time_service(probe, hp):
    """ntp-again Failed, naming the server; dns, the NTS-KE port, csms as given."""
    ntp = _step(probe, "ntp-again")["results"][0]["result"]
    assert ntp["verdict"] == "Failed" and ntp["statusInfo"]["reasonCode"] == "NoReply", ntp
    assert "127.0.0.1:%d" % hp.chrony.port in ntp["evidence"]
    port = _step(probe, "nts-ke-port")["results"][0]["result"]
    assert port["verdict"] == "Passed" and "127.0.0.1:%d open" % hp.chrony.nts_port in port[
        "evidence"], port
    assert _step(probe, "dns")["results"][0]["result"]["verdict"] == "Passed"


def test_time_source_lost_playbook_when_the_time_service_itself_fails(console, station_agent,
                                                                      tmp_path):
    """Copies of time-source-lost run by an agent against real peers (chronyd with
    NTS-KE, dnsmasq). chronyd stopped fails an ntp run; back on the same port before
    the probe, ntp-again passes -> transient (no race: start() returns once chronyd
    answers). chronyd hung: NTP silent while the names resolve, its NTS-KE port
    accepts and the CSMS answers -> the time service itself."""
    from net_peers import HealthyPeers, sntp_query
    with HealthyPeers(str(tmp_path / "peers")) as hp:
        _ntp_station(console, station_agent, hp, "CS-U")
        ops = console.token("ops", "run")
        hp.chrony.stop()
        r = console.ok("POST", "/api/stations/CS-U/runs", token=ops,
                       json_body={"tests": [{"testId": "ntp"}]})
        failed = console.wait_run(r["id"], lambda x: x["verdict"] is not None, timeout=120)
        assert failed["verdict"] == "Failed"
        hp.chrony.start()
        err, back = _probe(console, tmp_path, "time-source-lost", "time-back", "CS-U",
                           "Uhr wieder erreichbar? ⏱")
        assert err is False, back
        assert back["outcome"] == "transient" and [s["name"] for s in back["steps"]] == [
            "ntp-again"]
        assert back["steps"][0]["verdict"] == "Passed"
        assert back["trigger"]["reason"] == "Uhr wieder erreichbar? ⏱"

        with _Hung(hp.chrony):
            assert sntp_query(hp.chrony.port, timeout=0.5) is None  # frozen indeed
            err, probe = _probe(console, tmp_path, "time-source-lost", "time-hung", "CS-U",
                                "Zeitdienst hängt – wer ist schuld?", who="mcp:sonde-Ω")
        assert err is False, probe
        assert [(s["name"], s["verdict"]) for s in probe["steps"]] == [
            ("ntp-again", "Failed"), ("dns", "Passed"), ("nts-ke-port", "Passed"),
            ("csms-latency", "Passed")]
        assert probe["outcome"] == "time-source-unreachable"
        _silent_time_service(probe, hp)


class _SlowLink:
    """A TCP relay between a station and the console's OCPP port that holds each
    chunk from the console for `delay` s: every CSMS answer (the Heartbeat's too)
    comes at least that late whatever the machine's load, so a round-trip limit
    under it fails for certain, as over a congested uplink."""

    def __init__(self, url, delay):
        hostport = url.split("://", 1)[1].split("/", 1)[0]
        self.to = (hostport.rsplit(":", 1)[0], int(hostport.rsplit(":", 1)[1]))
        self.delay = delay
        self.srv = socket.create_server(("127.0.0.1", 0))
        self.url = "ws://127.0.0.1:%d" % self.srv.getsockname()[1]
        self.socks = [self.srv]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.srv.accept()
                u = socket.create_connection(self.to, 10)
            except OSError:
                return
            self.socks += [c, u]
            threading.Thread(target=self._pipe, args=(c, u, 0), daemon=True).start()
            threading.Thread(target=self._pipe, args=(u, c, self.delay), daemon=True).start()

    @staticmethod
    def _pipe(a, b, delay):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                time.sleep(delay)
                b.sendall(data)
            b.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the other side closed: the relay ends with it

    def close(self):
        for s in self.socks:
            s.close()


def test_time_source_lost_playbook_when_the_csms_link_is_slow_too(console, station_agent,
                                                                  tmp_path):
    """The station reaches the console through a link that holds every answer 300 ms;
    a copy of time-source-lost whose csms step allows 100 ms (time service hung as
    above): ntp silent, names and the NTS-KE port fine, the Heartbeat round trip
    over the limit -> network-down."""
    from net_peers import HealthyPeers
    link = _SlowLink(console.url, 0.3)
    try:
        with HealthyPeers(str(tmp_path / "peers")) as hp:
            _ntp_station(console, station_agent, hp, "CS-L", csmsUrl=link.url)

            def tight(pb):
                (csms,) = [s for s in pb["steps"] if s["name"] == "csms-latency"]
                csms["tests"][0]["parameters"] = {"maxRttMs": 100}
            with _Hung(hp.chrony):
                err, probe = _probe(console, tmp_path, "time-source-lost", "time-slow", "CS-L",
                                    "Netz langsam? Ωmega-Leitung", change=tight)
    finally:
        link.close()
    assert err is False, probe
    assert [(s["name"], s["verdict"]) for s in probe["steps"]] == [
        ("ntp-again", "Failed"), ("dns", "Passed"), ("nts-ke-port", "Passed"),
        ("csms-latency", "Failed")]
    assert probe["outcome"] == "network-down"
    _silent_time_service(probe, hp)
    csms = _step(probe, "csms-latency")["results"][0]["result"]
    assert csms["statusInfo"]["reasonCode"] == "SlowCsms", csms
    (rtt,) = [m for m in csms["measurement"] if m["name"] == "heartbeatRtt"]
    assert rtt["value"] >= 300 and rtt["limit"] == "<= 100", rtt


def test_memory_pressure_playbook_from_an_unhealthy_check(console, station_agent, mcp_http,
                                                          tmp_path):
    """A health check made Unhealthy by its limit (minFreeHeap over the heap): the
    watcher runs memory-pressure (memory, health again, flash) and collects the
    device-model values and the results journal (GetLog, uploaded to the console).
    A copy whose memory limit the heap cannot meet stops at its first step."""
    console.add_station("CS-P")
    station_agent(console, "CS-P")
    console.wait_station("CS-P")
    watcher = McpProc(mcp_http.workdir, console.api_url, "watch",
                      console.token(RUNNER, "run"), name="watch")
    try:
        ops = console.token("ops", "run")
        r = console.ok("POST", "/api/stations/CS-P/runs", token=ops, json_body={
            "tests": [{"testId": "health", "parameters": {"minFreeHeap": 16777216}}]})
        bad = console.wait_run(r["id"], lambda x: x["verdict"] is not None, timeout=120)
        assert bad["results"][0]["healthStatus"] == "Unhealthy"
        wait_until(lambda: _closed(mcp_http, "memory-pressure"), 300,
                   lambda: "%s\n%s" % (_incidents(mcp_http), watcher.log()))
        (inc,) = _closed(mcp_http, "memory-pressure")
        assert inc["trigger"]["kind"] == "health" and inc["trigger"]["event"]["run"] == bad["id"]
        names = [s["name"] for s in inc["steps"]]
        assert names[0] == "memory" and inc["steps"][0]["verdict"] == "Passed"
        again = _step(inc, "health-again")
        if again["verdict"] == "Passed":  # the limit was the peak: nothing else is wrong
            assert inc["outcome"] == "transient" and names == ["memory", "health-again"]
        else:  # loop lag on a busy machine: the flash is checked too
            assert names == ["memory", "health-again", "flash"]
            assert inc["outcome"] in ("degraded-other-cause", "flash-exhausted")
        mem = inc["steps"][0]["results"][0]["result"]
        assert {m["name"] for m in mem["measurement"]} >= {"freeHeap", "largestBlock"}, mem
        # The journal: uploaded by the station to the console, every line verified.
        j = inc["journal"]
        assert j["accepted"] == "Accepted" and j["status"] == "Uploaded", j
        up = j["upload"]
        assert up["invalid"] == 0 and up["checksumFailed"] == 0 and up["lines"] >= 3
        assert bad["results"][0]["resultId"] in up["resultIds"]
        assert up["filename"].startswith("diagnostics-CS-P-")
        dm = {(v["component"]["name"], v["component"].get("instance"), v["variable"]["name"]): v
              for v in inc["deviceModel"]["variables"]}
        assert dm[("DiagnosticTest", "memory", "LastVerdict")]["attributeValue"] == "Passed"
        assert dm[("DiagnosticTest", "health", "LastHealth")]["attributeValue"] in (
            "Healthy", "Degraded")
        assert int(dm[("DiagnosticsCtrlr", None, "ResultsStored")]["attributeValue"]) >= 3
        # The console's health history (newest first): the trigger, then health-again.
        assert [h["status"] for h in inc["stationHealth"]][:2] == [again["results"][0][
            "result"]["healthStatus"], "Unhealthy"]

        def starve(pb):
            pb["steps"][0]["tests"][0]["parameters"] = {"minFreeBytes": 16777216}
        err, probe = _probe(console, tmp_path, "memory-pressure", "memory-probe", "CS-P",
                            "Speicher knapp?", change=starve)
        assert err is False, probe
        assert [s["name"] for s in probe["steps"]] == ["memory"]
        assert probe["outcome"] == "memory-exhausted"
        assert probe["steps"][0]["results"][0]["result"]["verdict"] == "Failed"
    finally:
        rc = watcher.stop()
    assert rc == 0 and "Traceback" not in watcher.log(), watcher.log()
