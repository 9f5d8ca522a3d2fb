"""What a station reports beyond the diagnostics messages, in the console: NotifyEvent
items and SecurityEventNotification as stored, streamed events; connections counted
into a reconnect storm; the playbook triggers on each (`mcpserver watch`); and the
API a playbook collects with: GetVariables (role read) and GetLog to the console's
own upload endpoint (role run; only the asked-for station's upload is accepted).
A scripted station (Python) sends exactly what each check needs."""
import json

import httpx

from console_peer import MEMORY, ScriptedStation, console, wait_until  # noqa: F401
from mcp_peer import McpProc

INFO = "Prüfsumme ungültig – Zeile 3 ✗"


def _events(console, kind, sid):
    return [e for e in console.ok("GET", "/api/events", station=sid, limit=500)
            if e["kind"] == kind]


def _incidents(proc):
    import os
    d = proc.incident_dir
    out = []
    for name in sorted(os.listdir(d)) if os.path.isdir(d) else ():
        if name.endswith(".json"):
            with open(os.path.join(d, name), encoding="utf-8") as f:
                out.append(json.load(f))
    return out


def _book(name, trigger, collect=("results",)):
    return {"name": name, "version": "1", "description": "Prüfung %s" % name,
            "trigger": [trigger],
            "steps": [{"name": "speicher", "tests": [{"testId": "memory"}], "timeoutS": 1}],
            "rateLimit": {"perStationS": 0, "fleetPerHour": 50}, "collect": list(collect),
            "outcomeIfCompleted": "fertig"}


def _station(console, sid, answers=None):
    st = ScriptedStation(console.url, sid, answers=answers).offer([MEMORY])
    assert st.connect() is None
    console.wait_station(sid)
    return st


def test_notify_and_security_events_are_stored_streamed_and_trigger_playbooks(console, tmp_path):
    books = tmp_path / "books"
    books.mkdir()
    for pb in (_book("sicherheit", {"kind": "securityEvent", "types": ["InvalidMessages"]},
                     collect=["results", {"variables": [
                         {"component": "DiagnosticsCtrlr", "variable": "Enabled"}]}]),
               _book("sturm", {"kind": "reconnectStorm", "count": 3, "windowS": 600}),
               _book("zaehler", {"kind": "notifyEvent", "component": "Meter",
                                "variable": "Voltage", "maxSeverity": 3})):
        (books / ("%s.json" % pb["name"])).write_text(json.dumps(pb, ensure_ascii=False),
                                                     encoding="utf-8")
    console.add_station("CS-E")
    watcher = McpProc(str(tmp_path), console.api_url, "watch",
                      console.token("playbook-runner", "run"), name="watch",
                      extra=["--playbook-dir", str(books)])
    # GetVariables answered with a reply that breaks the schema: the console refuses it
    # (409), and the incident records that instead of failing.
    st = _station(console, "CS-E", answers={"GetVariables": {"kaputt": True}})
    try:
        ne = {"generatedAt": "2026-01-01T00:00:00Z", "seqNo": 0, "eventData": [
            {"eventId": 7, "timestamp": "2026-01-01T00:00:00Z", "trigger": "Alerting",
             "actualValue": "412.5", "eventNotificationType": "HardWiredMonitor",
             "component": {"name": "Meter", "evse": {"id": 1}}, "variable": {"name": "Voltage"},
             "techCode": "U>", "techInfo": "Spannung zu hoch – Wandler prüfen", "severity": 2},
            {"eventId": 8, "timestamp": "2026-01-01T00:00:01Z", "trigger": "Delta",
             "actualValue": "Failed", "eventNotificationType": "PreconfiguredMonitor",
             "component": {"name": "DiagnosticTest", "instance": "memory"},
             "variable": {"name": "LastVerdict"}, "severity": 4}]}
        assert st.call("NotifyEvent", ne)[0] == 3
        assert st.call("SecurityEventNotification", {
            "type": "InvalidMessages", "timestamp": "2026-01-01T00:00:02Z",
            "techInfo": INFO})[0] == 3
        # A payload that breaks the schema is refused, not recorded.
        assert st.call("SecurityEventNotification", {"timestamp": "x"})[0] == 4

        got = _events(console, "notify-event", "CS-E")
        assert [e["data"]["eventId"] for e in got] == [7, 8]
        meter = got[0]["data"]
        assert meter["component"] == "Meter" and meter["variable"] == "Voltage"
        assert meter["evse"] == {"id": 1} and meter["severity"] == 2
        assert meter["techInfo"] == "Spannung zu hoch – Wandler prüfen"
        assert meter["trigger"] == "Alerting" and meter["actualValue"] == "412.5"
        assert got[1]["data"]["componentInstance"] == "memory"
        (sec,) = _events(console, "security-event", "CS-E")
        assert sec["data"] == {"type": "InvalidMessages", "timestamp": "2026-01-01T00:00:02Z",
                               "techInfo": INFO}

        def by(name):
            return [i for i in _incidents(watcher) if i["playbook"] == name
                    and i["outcome"] != "running"]
        wait_until(lambda: by("sicherheit") and by("zaehler"), 60,
                   lambda: watcher.log() + str(watcher.audit()))
        (s,) = by("sicherheit")
        assert s["trigger"]["kind"] == "securityEvent"
        assert s["trigger"]["event"]["data"]["techInfo"] == INFO
        assert s["deviceModel"]["error"]["code"] == "conflict"  # HTTP 409
        assert s["deviceModel"]["error"]["callError"] == "InvalidCallResult"
        (m,) = by("zaehler")
        assert m["trigger"]["event"]["data"]["eventId"] == 7  # not the severity-4 item

        # The shipped time-source-lost playbook on a clock event; a cleared one is no
        # trigger.  This station offers no ntp test: the incident says the step was
        # refused, and the garbled GetVariables answer is recorded, not fatal.
        clock = dict(ne["eventData"][0], eventId=9, component={"name": "ClockCtrlr"},
                     variable={"name": "DateTime"}, actualValue="1970-01-01T00:00:00Z",
                     techInfo="Zeitquelle verloren ⌚")
        assert st.call("NotifyEvent", dict(ne, eventData=[dict(clock, cleared=True,
                                                                eventId=10)]))[0] == 3
        assert st.call("NotifyEvent", dict(ne, eventData=[clock]))[0] == 3
        wait_until(lambda: by("time-source-lost"), 60,
                   lambda: watcher.log() + str(watcher.audit()))
        (t,) = by("time-source-lost")
        assert t["trigger"]["kind"] == "notifyEvent"
        assert t["trigger"]["event"]["data"]["eventId"] == 9
        assert t["trigger"]["event"]["data"]["techInfo"] == "Zeitquelle verloren ⌚"
        assert t["outcome"] == "aborted" and t["steps"][0]["status"] == "refused"
        assert t["steps"][0]["error"]["code"] == "invalid"  # ntp: not in this catalog
        assert t["deviceModel"]["error"]["callError"] == "InvalidCallResult"

        # Three connections within the window (the first was at the start): the third
        # is a storm, and the only one.
        st.close()
        st = _station(console, "CS-E")
        st.close()
        st = _station(console, "CS-E")
        wait_until(lambda: by("sturm"), 60, lambda: watcher.log() + str(watcher.audit()))
        conns = _events(console, "station.connected", "CS-E")
        assert len(conns) == 3
        (storm,) = by("sturm")
        assert storm["trigger"]["kind"] == "reconnectStorm"
        assert storm["trigger"]["event"]["id"] == conns[2]["id"]
    finally:
        st.close()
        rc = watcher.stop()
    assert rc == 0 and "Traceback" not in watcher.log(), watcher.log()


def test_get_variables_and_get_log_upload_with_their_checks(console):
    import hashlib
    console.add_station("CS-V")
    console.add_station("CS-W")
    asked = {}

    def get_log(req):
        asked["req"] = req
        return {"status": "Accepted", "filename": "diagnostics-CS-V-x.ndjson"}

    def get_variables(req):
        return {"getVariableResult": [
            {"attributeStatus": "Accepted", "attributeValue": "Prüfstand ✓",
             "component": req["getVariableData"][0]["component"],
             "variable": req["getVariableData"][0]["variable"]},
            {"attributeStatus": "UnknownVariable",
             "component": req["getVariableData"][1]["component"],
             "variable": req["getVariableData"][1]["variable"]}]}
    st = _station(console, "CS-V", answers={"GetLog": get_log, "GetVariables": get_variables})
    other = _station(console, "CS-W")
    reader, runner = console.token("leser-ä", "read"), console.token("läufer", "run")
    try:
        r = console.ok("POST", "/api/stations/CS-V/variables", token=reader, json_body={
            "variables": [{"component": "DiagnosticsCtrlr", "variable": "Enabled"},
                          {"component": {"name": "DiagnosticTest", "instance": "memory"},
                           "variable": "Gibtsnicht"}]})
        assert [v["attributeStatus"] for v in r["variables"]] == ["Accepted", "UnknownVariable"]
        assert r["variables"][0]["attributeValue"] == "Prüfstand ✓"
        assert st.calls[-1][1]["getVariableData"][1]["component"] == {
            "name": "DiagnosticTest", "instance": "memory"}
        bad = console.api("POST", "/api/stations/CS-V/variables", token=reader,
                          json_body={"variables": [{"component": "x" * 51, "variable": "A"}]})
        assert bad.status_code == 422 and bad.json()["error"]["field"].endswith("component.name")
        assert console.api("POST", "/api/stations/CS-V/variables", token="",
                           json_body={"variables": []}).status_code == 401

        # GetLog starts an upload: role run.
        refused = console.api("POST", "/api/stations/CS-V/logs", token=reader, json_body={})
        assert refused.status_code == 403 and refused.json()["error"]["role"] == "run"
        started = console.ok("POST", "/api/stations/CS-V/logs", token=runner, json_body={})
        req = asked["req"]
        assert req["logType"] == "DiagnosticsLog" and req["requestId"] == started["requestId"]
        assert started["accepted"] == "Accepted" and started["status"] == "Requested"
        url = req["log"]["remoteLocation"]
        assert url.startswith(console.api_url + "/api/uploads/")

        r1 = {"resultId": 4711, "requestId": 1, "testId": "memory", "testType": "SelfTest",
              "requestor": "ops", "trigger": "OnDemand", "startTime": "2026-01-01T00:00:00Z",
              "endTime": "2026-01-01T00:00:01Z", "verdict": "Passed", "evidence": "frei: 90 KB ✓"}
        text = json.dumps(r1, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        r1["checksum"] = hashlib.sha256(text.encode()).hexdigest()
        r2 = dict(r1, resultId=4712, checksum="0" * 64)
        body = (json.dumps(r1, ensure_ascii=False) + "\n" + json.dumps(r2) + "\n{kaputt\n").encode()

        def up(u, name):
            return httpx.post(u, content=body, timeout=30, headers={
                "Content-Type": "application/x-ndjson",
                "Content-Disposition": 'attachment; filename="%s"' % name})
        # Another station's file name on this ticket, or no ticket: refused, nothing stored.
        assert up(url, "diagnostics-CS-W-20260101T000000Z.ndjson").status_code == 403
        assert up(console.api_url + "/api/uploads/up_erfunden", "diagnostics-CS-V-1.ndjson"
                  ).status_code == 403
        assert console.ok("GET", "/api/stations/CS-V/logs/%d" % req["requestId"])["upload"] is None
        ok = up(url, "diagnostics-CS-V-20260101T000000Z.ndjson")
        assert ok.status_code == 200, ok.text
        assert up(url, "diagnostics-CS-V-20260101T000001Z.ndjson").status_code == 403  # once
        assert st.call("LogStatusNotification", {"status": "Uploaded",
                                                 "requestId": req["requestId"]})[0] == 3
        # Another station cannot report on this request.
        assert other.call("LogStatusNotification", {"status": "UploadFailure",
                                                    "requestId": req["requestId"]})[0] == 3
        state = console.ok("GET", "/api/stations/CS-V/logs/%d" % req["requestId"], token=reader)
        assert state["status"] == "Uploaded" and state["by"] == "läufer"
        u = state["upload"]
        assert (u["lines"], u["invalid"], u["checksumFailed"], u["new"]) == (3, 1, 1, 2)
        assert u["resultIds"] == [4711, 4712] and u["sha256"] == hashlib.sha256(body).hexdigest()
        stored = {r["resultId"]: r for r in console.ok("GET", "/api/results", station="CS-V")}
        assert stored[4711]["checksumVerified"] is True and stored[4712]["checksumVerified"] is False
        assert stored[4711]["result"]["evidence"] == "frei: 90 KB ✓" and stored[4711]["run"] is None
        assert console.api("GET", "/api/stations/CS-W/logs/%d" % req["requestId"]
                           ).status_code == 404
        kinds = [e["kind"] for e in console.ok("GET", "/api/events", station="CS-V")]
        assert "log.requested" in kinds and "log.uploaded" in kinds and "log.status" in kinds
    finally:
        st.close()
        other.close()


def test_a_station_flooding_events_is_held_to_its_limit(console):
    """A station that sends 60 items in one NotifyEvent, then keeps sending: the console
    stores 50 of the message and a count of the rest, then at most 300 events a minute
    and one notice, answers every message, and keeps recording the next station."""
    console.add_station("CS-F")
    console.add_station("CS-G")
    st, calm = _station(console, "CS-F"), _station(console, "CS-G")
    try:
        def items(n, first):
            return {"generatedAt": "2026-01-01T00:00:00Z", "seqNo": 0, "eventData": [
                {"eventId": first + i, "timestamp": "2026-01-01T00:00:00Z",
                 "trigger": "Alerting", "actualValue": "ü" * 2500,
                 "eventNotificationType": "HardWiredNotification",
                 "component": {"name": "Flut"}, "variable": {"name": "Pegel"}}
                for i in range(n)]}
        assert st.call("NotifyEvent", items(60, 0))[0] == 3
        assert [e["data"]["items"] for e in _events(console, "notify-event.dropped", "CS-F")] == [10]
        for k in range(6):
            assert st.call("NotifyEvent", items(50, 100 + 50 * k))[0] == 3
        assert st.call("SecurityEventNotification", {
            "type": "InvalidMessages", "timestamp": "2026-01-01T00:00:02Z"})[0] == 3
        stored = console.ok("GET", "/api/events", station="CS-F", limit=1000)
        flood = [e for e in stored if e["kind"] in ("notify-event", "notify-event.dropped",
                                                      "security-event")]
        assert len(flood) == 300 and flood[0]["data"]["actualValue"] == "ü" * 2500
        assert len([e for e in stored if e["kind"] == "station-events.limited"]) == 1
        assert calm.call("SecurityEventNotification", {
            "type": "FirmwareUpdated", "timestamp": "2026-01-01T00:00:03Z",
            "techInfo": "ruhig"})[0] == 3
        assert [e["data"]["techInfo"] for e in _events(console, "security-event", "CS-G")] == [
            "ruhig"]
    finally:
        st.close()
        calm.close()
