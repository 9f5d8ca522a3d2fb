"""Standard OCPP variable monitoring on the diagnostics variables (SPEC.md DG15):
SetVariableMonitoring / ClearVariableMonitoring / GetMonitoringReport /
SetMonitoringBase / SetMonitoringLevel, the NotifyEvents monitors raise (validated by
the reference CSMS, both OCPP versions), the built-in events as preconfigured
monitors, persistence across a restart, and hostile requests."""
import json

import pytest

from conftest import collect, gv, wait_booted
from diag_helpers import results, start
from harness import CallErrorReply, ThreadedCsms


def _dt(tid, var):
    return {"component": {"name": "DiagnosticTest", "instance": tid}, "variable": {"name": var}}


def setmon(csms, station, *items):
    """SetVariableMonitoring of (component/variable dict, type, value, severity[, id])."""
    data = []
    for it in items:
        d = dict(it[0], type=it[1], value=it[2], severity=it[3])
        if len(it) > 4:
            d["id"] = it[4]
        data.append(d)
    return csms.call(station, "SetVariableMonitoring", {"setMonitoringData": data})["setMonitoringResult"]


def report(csms, station, req_id, **filters):
    """GetMonitoringReport -> (status, [(component, variable, monitor)] of every part)."""
    res = csms.call(station, "GetMonitoringReport", dict(requestId=req_id, **filters))
    if res["status"] != "Accepted":
        return res["status"], []
    parts = collect(csms, station, "NotifyMonitoringReport", req_id)
    assert [p["seqNo"] for p in parts] == list(range(len(parts)))
    assert all(p["tbc"] for p in parts[:-1]) and not parts[-1]["tbc"]
    return "Accepted", [(md["component"], md["variable"], vm)
                        for p in parts for md in p["monitor"] for vm in md["variableMonitoring"]]


def preconfigured_id(csms, station, tid, req_id=90):
    _, mons = report(csms, station, req_id, componentVariable=[
        {"component": {"name": "DiagnosticTest", "instance": tid}}])
    (m,) = [vm for c, v, vm in mons if vm["eventNotificationType"] == "PreconfiguredMonitor"]
    return m["id"]


def event_with(csms, station, mid, after=0, timeout=15):
    """The next NotifyEvent holding an EventData of monitor `mid` -> (payload, that EventData)."""
    rec = csms.wait_for("NotifyEvent", station=station, after=after, timeout=timeout, predicate=lambda r: any(
        e.get("variableMonitoringId") == mid for e in r["payload"]["eventData"]))
    (e,) = [e for e in rec["payload"]["eventData"] if e.get("variableMonitoringId") == mid]
    return rec, e


@pytest.mark.req("DG15.FR.01", "DG15.FR.05", "DG15.FR.08")
def test_delta_monitor_on_last_verdict_raises_event(csms, agent):
    st = agent.station
    (r,) = setmon(csms, st, (_dt("noop", "LastVerdict"), "Delta", 1, 2))
    assert r["status"] == "Accepted" and r["id"] >= 1000
    assert r["component"] == {"name": "DiagnosticTest", "instance": "noop"}
    mid = r["id"]
    pre = preconfigured_id(csms, st, "noop")
    n = len(csms.messages())
    start(csms, st, 1, ("noop", {"durationMs": 0, "outcome": "Failed"}))
    results(csms, st, 1)
    rec, e = event_with(csms, st, mid, after=n)
    assert (e["trigger"], e["eventNotificationType"], e["actualValue"], e["severity"]) == (
        "Delta", "CustomMonitor", "Failed", 2)
    assert e["component"] == {"name": "DiagnosticTest", "instance": "noop"}
    assert e["variable"] == {"name": "LastVerdict"}
    # The built-in event of the same change is in the same message, with its own monitor id.
    (b,) = [x for x in rec["payload"]["eventData"] if x is not e]
    assert (b["variableMonitoringId"], b["eventNotificationType"], b["severity"]) == (
        pre, "PreconfiguredMonitor", 4)
    assert b["techCode"] == "Failed" and not b.get("cleared")
    ids = [x["eventId"] for x in rec["payload"]["eventData"]]
    assert len(set(ids)) == 2
    # Back to Passed: the custom Delta reports the change, the built-in one clears.
    n = len(csms.messages())
    start(csms, st, 2, ("noop", {"durationMs": 0}))
    results(csms, st, 1, after=n)
    rec, e = event_with(csms, st, mid, after=n)
    assert e["actualValue"] == "Passed" and not e.get("cleared")
    (b,) = [x for x in rec["payload"]["eventData"] if x is not e]
    assert b["cleared"] is True and b["actualValue"] == "Passed"
    assert min(x["eventId"] for x in rec["payload"]["eventData"]) > max(ids)


@pytest.mark.req("DG15.FR.09", "DG15.FR.10")
def test_health_event_goes_on_last_health(csms, agent):
    st = agent.station
    pre = preconfigured_id(csms, st, "health")
    start(csms, st, 1, ("noop", {"durationMs": 0, "outcome": "Failed"}))
    results(csms, st, 1)
    n = len(csms.messages())
    res = csms.call(st, "TriggerMessage", {"requestedMessage": "CustomTrigger", "customTrigger": "HealthCheck"})
    assert res["status"] == "Accepted"
    (r,) = results(csms, st, 1, after=n)
    assert (r["verdict"], r["healthStatus"]) == ("Failed", "Degraded")
    _, e = event_with(csms, st, pre, after=n)
    assert e["variable"] == {"name": "LastHealth"} and e["actualValue"] == "Degraded"
    assert e["component"] == {"name": "DiagnosticTest", "instance": "health"}
    # No event of the health check puts a health status on LastVerdict.
    for rec in csms.messages(station=st, action="NotifyEvent"):
        for x in rec["payload"]["eventData"]:
            if x["variable"]["name"] == "LastVerdict":
                assert x["actualValue"] not in ("Healthy", "Degraded", "Unhealthy"), x
    health = {"name": "DiagnosticTest", "instance": "health"}
    v = gv(csms, st, (health, "LastHealth"), (health, "LastVerdict"))
    assert [x["attributeValue"] for x in v] == ["Degraded", "Failed"]


@pytest.mark.req("DG15.FR.02", "DG15.FR.03")
def test_hostile_set_variable_monitoring_statuses(csms, agent):
    st = agent.station
    hb = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
    first = setmon(csms, st, (_dt("memory", "LastVerdict"), "Delta", 1, 1))[0]
    assert first["status"] == "Accepted"
    cases = [
        (_dt("mémoire", "LastVerdict"), "Delta", 1, 1, None, "UnknownComponent"),
        (_dt("memory", "DernièreVerdict"), "Delta", 1, 1, None, "UnknownVariable"),
        (_dt("memory", "LastVerdict"), "UpperThreshold", 1, 1, None, "UnsupportedMonitorType"),
        (_dt("memory", "LastVerdict"), "TargetDelta", 60, 1, None, "UnsupportedMonitorType"),
        ({"component": {"name": "ChargingStation"}, "variable": {"name": "Model"}}, "Delta", 1, 1, None,
         "UnsupportedMonitorType"),
        ({"component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"}}, "Delta", 1, 1,
         None, "UnsupportedMonitorType"),
        (_dt("memory", "LastVerdict"), "Delta", 1, 10, None, "Rejected"),
        (hb, "Delta", -5, 1, None, "Rejected"),
        (hb, "UpperThreshold", 1e6, 1, None, "Rejected"),
        (hb, "LowerThreshold", 0, 1, None, "Rejected"),
        (hb, "Periodic", 2.5, 1, None, "Rejected"),  # an interval is whole seconds, 5..86400
        (_dt("memory", "LastVerdict"), "Delta", 1, 3, 424242, "Rejected"),
        (_dt("memory", "LastVerdict"), "Delta", 1, 1, None, "Duplicate"),
        (_dt("memory", "LastVerdict"), "Delta", 1, 4, None, "Duplicate"),  # the built-in one
        (_dt("noop", "LastVerdict"), "Delta", 1, 3, first["id"], "Rejected"),  # another variable
    ]
    items = [c[:4] + ((c[4],) if c[4] is not None else ()) for c in cases]
    res = setmon(csms, st, *items[:7]) + setmon(csms, st, *items[7:])  # ItemsPerMessage is 8
    assert [r["status"] for r in res] == [c[5] for c in cases], res
    assert res[0]["component"]["instance"] == "mémoire"  # echoed as sent
    assert res[1]["variable"]["name"] == "DernièreVerdict"
    assert all("id" not in r for r in res[:10])
    for r in res[2:]:
        assert r["statusInfo"]["reasonCode"], r
    # A schema breach is a CALLERROR; so is a request over ItemsPerMessage / BytesPerMessage.
    reply = csms.send_raw(st, json.dumps([2, "m-1", "SetVariableMonitoring", {"setMonitoringData": [
        dict(_dt("memory", "LastVerdict"), type="Delta", value="beaucoup", severity=1)]}]))
    assert json.loads(reply)[:3] == [4, "m-1", "TypeConstraintViolation"]
    # 1e999 is a JSON number that parses as infinity: refused, never stored or echoed.
    reply = csms.send_raw(st, json.dumps([2, "m-2", "SetVariableMonitoring", {"setMonitoringData": [
        dict(hb, type="Delta", value=12345, severity=1)]}]).replace("12345", "1e999"))
    r = json.loads(reply)
    assert r[:2] == [3, "m-2"] and r[2]["setMonitoringResult"][0]["status"] == "Rejected", r
    assert r[2]["setMonitoringResult"][0]["statusInfo"]["reasonCode"] == "InvalidValue", r
    limit = int(gv(csms, st, ("MonitoringCtrlr", {"name": "ItemsPerMessage",
                                                  "instance": "SetVariableMonitoring"}))[0]["attributeValue"])
    with pytest.raises(CallErrorReply) as e:
        setmon(csms, st, *[(_dt("memory", "LastVerdict"), "Delta", 1, 1)] * (limit + 1))
    assert e.value.code == "OccurrenceConstraintViolation"
    # About 5.7 KB (each "é" is sent as a 6-byte escape): over BytesPerMessage 4096.
    big = [(dict(_dt("memory", "LastVerdict"), customData={"vendorId": "é" * 100}), "Delta", 1, 1)] * limit
    with pytest.raises(CallErrorReply) as e:
        setmon(csms, st, *big)
    assert e.value.code == "FormatViolation"
    # Bounded in number: 16 custom monitors, the 17th is refused.
    more = ([(_dt("memory", "LastRunTime"), "Delta", 1, sev) for sev in range(10)] +
            [(_dt("memory", "LastResultId"), "Delta", 1, sev) for sev in range(5)])
    res = setmon(csms, st, *more[:8]) + setmon(csms, st, *more[8:])
    assert [r["status"] for r in res] == ["Accepted"] * 15
    (r,) = setmon(csms, st, (_dt("memory", "LastResultId"), "Delta", 1, 9))
    assert r["status"] == "Rejected" and r["statusInfo"]["reasonCode"] == "TooManyMonitors"
    # Still serving.
    assert gv(csms, st, ("ChargingStation", "Model"))[0]["attributeValue"] == "ADX-1"


@pytest.mark.req("DG15.FR.01", "DG15.FR.02", "DG15.FR.12", "DG15.FR.16")
def test_periodic_monitors_send_the_value_every_interval(csms, agent):
    st = agent.station
    hb = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
    res = setmon(csms, st, (hb, "Periodic", 5, 6), (_dt("memory", "LastVerdict"), "PeriodicClockAligned", 5, 6),
                 (hb, "Periodic", 4, 7), (hb, "PeriodicClockAligned", 86401, 7), (hb, "Periodic", 7.5, 7))
    assert [r["status"] for r in res] == ["Accepted", "Accepted", "Rejected", "Rejected", "Rejected"], res
    assert {r["statusInfo"]["reasonCode"] for r in res[2:]} == {"InvalidInterval"}
    every, aligned = res[0]["id"], res[1]["id"]
    status, mons = report(csms, st, 20, monitoringCriteria=["PeriodicMonitoring"])
    assert sorted((vm["id"], vm["type"], vm["value"]) for c, v, vm in mons) == [
        (every, "Periodic", 5), (aligned, "PeriodicClockAligned", 5)]
    # The value now, each interval, as a Periodic EventData of a custom monitor.
    n = len(csms.messages())
    value = gv(csms, st, ("OCPPCommCtrlr", "HeartbeatInterval"))[0]["attributeValue"]
    ids = []
    for _ in range(2):
        rec, e = event_with(csms, st, every, after=n)
        assert (e["trigger"], e["actualValue"], e["eventNotificationType"], e["severity"]) == (
            "Periodic", value, "CustomMonitor", 6)
        ids.append(e["eventId"])
        n = csms.messages().index(rec) + 1
    assert ids[0] < ids[1]
    _, e = event_with(csms, st, aligned)
    assert e["trigger"] == "Periodic" and e["component"] == {"name": "DiagnosticTest", "instance": "memory"}
    # Cleared: gone.
    res = csms.call(st, "ClearVariableMonitoring", {"id": [every, aligned]})["clearMonitoringResult"]
    assert [r["status"] for r in res] == ["Accepted", "Accepted"]
    assert report(csms, st, 21, monitoringCriteria=["PeriodicMonitoring"])[0] == "EmptyResultSet"


@pytest.mark.req("DG15.FR.04", "DG15.FR.06")
def test_monitors_survive_restart_and_thresholds_alert(csms, make_agent):
    a = make_agent(csms)
    wait_booted(csms, a)
    st = a.station
    stored = int(gv(csms, st, ("DiagnosticsCtrlr", "ResultsStored"))[0]["attributeValue"])
    res = setmon(csms, st, (_dt("memory", "LastVerdict"), "Delta", 1, 5),
                 ({"component": {"name": "DiagnosticsCtrlr"}, "variable": {"name": "ResultsStored"}},
                  "UpperThreshold", stored + 1, 3))
    assert [r["status"] for r in res] == ["Accepted", "Accepted"]
    delta, upper = res[0]["id"], res[1]["id"]
    _, before = report(csms, st, 1, monitoringCriteria=["DeltaMonitoring", "ThresholdMonitoring"])
    assert a.stop() == 0
    n = len(csms.messages())
    a.start()
    wait_booted(csms, a, after=n)
    _, after = report(csms, st, 2, monitoringCriteria=["DeltaMonitoring", "ThresholdMonitoring"])
    assert after == before
    mine = {vm["id"]: vm for c, v, vm in after if vm["eventNotificationType"] == "CustomMonitor"}
    assert mine[upper]["type"] == "UpperThreshold" and mine[upper]["value"] == stored + 1
    assert mine[delta]["severity"] == 5 and mine[delta]["transaction"] is False
    # Two results: the count goes over the threshold (Alerting), the verdict changes (Delta).
    n = len(csms.messages())
    start(csms, st, 1, ("memory", {"minFreeBytes": 16777216}), ("memory",))
    results(csms, st, 2, after=n)
    _, e = event_with(csms, st, upper, after=n)
    assert e["trigger"] == "Alerting" and int(e["actualValue"]) > stored + 1 and not e.get("cleared")
    assert e["component"] == {"name": "DiagnosticsCtrlr"}
    _, e = event_with(csms, st, delta, after=n)
    assert e["actualValue"] in ("Failed", "Passed") and e["eventNotificationType"] == "CustomMonitor"
    # A new monitor never takes an id used before the restart.
    (r,) = setmon(csms, st, (_dt("flash", "LastVerdict"), "Delta", 1, 5))
    assert r["id"] > max(delta, upper)


@pytest.mark.req("DG15.FR.07", "DG15.FR.11")
def test_clear_and_monitoring_base(csms, agent):
    st = agent.station
    pre = preconfigured_id(csms, st, "memory")
    (r,) = setmon(csms, st, (_dt("memory", "LastVerdict"), "Delta", 1, 6))
    res = csms.call(st, "ClearVariableMonitoring", {"id": [r["id"], r["id"], 987654, pre]})
    assert [(x["id"], x["status"]) for x in res["clearMonitoringResult"]] == [
        (r["id"], "Accepted"), (r["id"], "NotFound"), (987654, "NotFound"), (pre, "Accepted")]
    status, mons = report(csms, st, 3, componentVariable=[{"component": {"name": "DiagnosticTest",
                                                                         "instance": "memory"}}])
    assert status == "EmptyResultSet" and mons == []
    # The cleared built-in monitor raises nothing: the only NotifyEvent of this change
    # is the one of a monitor set afterwards.
    (probe,) = setmon(csms, st, (_dt("memory", "LastVerdict"), "Delta", 1, 7))
    n = len(csms.messages())
    start(csms, st, 1, ("memory", {"minFreeBytes": 16777216}))
    results(csms, st, 1, after=n)
    rec, e = event_with(csms, st, probe["id"], after=n)
    assert [x["variableMonitoringId"] for x in rec["payload"]["eventData"]] == [probe["id"]]
    # All: built-in monitors back, custom ones kept.
    assert csms.call(st, "SetMonitoringBase", {"monitoringBase": "All"})["status"] == "Accepted"
    _, mons = report(csms, st, 4, componentVariable=[{"component": {"name": "DiagnosticTest",
                                                                    "instance": "memory"}}])
    assert sorted(vm["id"] for c, v, vm in mons) == sorted([pre, probe["id"]])
    # HardWiredOnly: nothing left (this station has no hard-wired monitors).
    assert csms.call(st, "SetMonitoringBase", {"monitoringBase": "HardWiredOnly"})["status"] == "Accepted"
    assert report(csms, st, 5)[0] == "EmptyResultSet"
    v = gv(csms, st, ("MonitoringCtrlr", "ActiveMonitoringBase"), ("MonitoringCtrlr", "MonitoringBase"))
    assert [x["attributeValue"] for x in v] == ["HardWiredOnly", "HardWiredOnly"]
    # FactoryDefault: the built-in ones as built.
    assert csms.call(st, "SetMonitoringBase", {"monitoringBase": "FactoryDefault"})["status"] == "Accepted"
    _, mons = report(csms, st, 6)
    assert mons and all(vm["eventNotificationType"] == "PreconfiguredMonitor" for c, v, vm in mons)
    assert pre in [vm["id"] for c, v, vm in mons]


@pytest.mark.req("DG15.FR.12")
def test_monitoring_report_in_parts_and_filters(csms, agent):
    st = agent.station
    status, mons = report(csms, st, 7)
    tests = {c["instance"] for c, v, vm in mons}
    assert len(tests) == len(mons) > 8  # one built-in monitor per test, more than one part
    for c, v, vm in mons:
        assert c["name"] == "DiagnosticTest" and vm["type"] == "Delta" and vm["severity"] == 4
        assert v["name"] == ("LastHealth" if c["instance"] == "health" else "LastVerdict")
    parts = [r for r in csms.messages(station=st, action="NotifyMonitoringReport")
             if r["payload"]["requestId"] == 7]
    assert len(parts) >= 2 and max(len(p["payload"]["monitor"]) for p in parts) <= 8
    (r,) = setmon(csms, st, ({"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}},
                             "UpperThreshold", 3600, 8))
    assert r["status"] == "Accepted"
    status, mons = report(csms, st, 8, monitoringCriteria=["ThresholdMonitoring"])
    assert [(c["name"], vm["id"], vm["type"]) for c, v, vm in mons] == [
        ("OCPPCommCtrlr", r["id"], "UpperThreshold")]
    assert csms.call(st, "GetMonitoringReport", {"requestId": 9, "monitoringCriteria": [
        "PeriodicMonitoring"]})["status"] == "EmptyResultSet"  # none set yet
    status, mons = report(csms, st, 10, componentVariable=[
        {"component": {"name": "DiagnosticTest"}, "variable": {"name": "LastHealth"}}])
    assert [c["instance"] for c, v, vm in mons] == ["health"]
    assert report(csms, st, 11, componentVariable=[{"component": {"name": "Compteur-é"}}])[0] == "EmptyResultSet"


@pytest.mark.req("DG15.FR.13", "DG15.FR.14")
def test_monitoring_level_filters_events(csms, agent):
    st = agent.station
    res = csms.call(st, "SetMonitoringLevel", {"severity": 10})
    assert res["status"] == "Rejected"
    assert csms.call(st, "SetMonitoringLevel", {"severity": 3})["status"] == "Accepted"
    assert gv(csms, st, ("MonitoringCtrlr", "ActiveMonitoringLevel"))[0]["attributeValue"] == "3"
    (r,) = setmon(csms, st, (_dt("memory", "LastVerdict"), "Delta", 1, 3))
    n = len(csms.messages())
    start(csms, st, 1, ("memory", {"minFreeBytes": 16777216}))
    results(csms, st, 1, after=n)
    # The built-in monitor (severity 4) is above the level: only the custom one reports.
    rec, e = event_with(csms, st, r["id"], after=n)
    assert [x["variableMonitoringId"] for x in rec["payload"]["eventData"]] == [r["id"]]
    # MonitoringCtrlr is in the device model, with the variables OCPP names.
    res = csms.call(st, "GetReport", {"requestId": 12, "componentVariable": [
        {"component": {"name": "MonitoringCtrlr"}}, {"component": {"name": "DiagnosticTest", "instance": "memory"}}]})
    assert res["status"] == "Accepted"
    items = [d for p in collect(csms, st, "NotifyReport", 12) for d in p["reportData"]]
    names = {(d["variable"]["name"], d["variable"].get("instance")) for d in items
             if d["component"]["name"] == "MonitoringCtrlr"}
    assert names >= {("Enabled", None), ("ItemsPerMessage", "SetVariableMonitoring"),
                     ("BytesPerMessage", "SetVariableMonitoring"), ("OfflineQueuingSeverity", None),
                     ("ActiveMonitoringBase", None), ("ActiveMonitoringLevel", None)}
    sm = {d["variable"]["name"]: d["variableCharacteristics"]["supportsMonitoring"] for d in items
          if d["component"]["name"] == "DiagnosticTest"}
    assert sm["LastVerdict"] and sm["LastHealth"] and not sm["TestType"]


@pytest.mark.req("DG15.FR.08")
def test_events_and_reports_over_ocpp_201(make_agent):
    c = ThreadedCsms(subprotocols=["ocpp2.0.1"]).start()
    a = make_agent(c)
    try:
        wait_booted(c, a)
        (r,) = setmon(c, a.station, (_dt("memory", "LastVerdict"), "Delta", 1, 2))
        n = len(c.messages())
        start(c, a.station, 1, ("memory", {"minFreeBytes": 16777216}))
        _, e = event_with(c, a.station, r["id"], after=n)
        assert "severity" not in e  # EventData.severity is OCPP 2.1 only
        _, mons = report(c, a.station, 1, monitoringCriteria=["DeltaMonitoring"])
        assert mons and all("eventNotificationType" not in vm for cc, v, vm in mons)
        assert c.violations == []
    finally:
        a.stop()
        c.stop()


@pytest.mark.req("DG15.FR.09", "DG15.FR.11")
def test_replacing_a_builtin_monitor_makes_it_custom(csms, agent):
    st = agent.station
    pre = preconfigured_id(csms, st, "noop")
    (r,) = setmon(csms, st, (_dt("noop", "LastVerdict"), "Delta", 1, 6, pre))
    assert (r["status"], r["id"]) == ("Accepted", pre)
    _, mons = report(csms, st, 20, componentVariable=[{"component": {"name": "DiagnosticTest",
                                                                     "instance": "noop"}}])
    assert [(vm["id"], vm["severity"], vm["eventNotificationType"]) for c, v, vm in mons] == [
        (pre, 6, "CustomMonitor")]
    # Plain Delta now: a first Passed is a change too, reported once, as CustomMonitor.
    n = len(csms.messages())
    start(csms, st, 1, ("noop", {"durationMs": 0}))
    results(csms, st, 1, after=n)
    rec, e = event_with(csms, st, pre, after=n)
    assert (e["eventNotificationType"], e["actualValue"], e["severity"]) == ("CustomMonitor", "Passed", 6)
    assert len(rec["payload"]["eventData"]) == 1
    # All keeps the replacement; FactoryDefault brings the built-in one back.
    csms.call(st, "SetMonitoringBase", {"monitoringBase": "All"})
    _, mons = report(csms, st, 21, componentVariable=[{"component": {"name": "DiagnosticTest",
                                                                     "instance": "noop"}}])
    assert [vm["eventNotificationType"] for c, v, vm in mons] == ["CustomMonitor"]
    csms.call(st, "SetMonitoringBase", {"monitoringBase": "FactoryDefault"})
    _, mons = report(csms, st, 22, componentVariable=[{"component": {"name": "DiagnosticTest",
                                                                     "instance": "noop"}}])
    assert [(vm["id"], vm["severity"], vm["eventNotificationType"]) for c, v, vm in mons] == [
        (pre, 4, "PreconfiguredMonitor")]


@pytest.mark.req("DG15.FR.15")
def test_only_an_accepting_csms_may_set_monitors(csms, make_agent):
    # Who may do this: the CSMS the station authenticated to and that accepted its
    # boot. Until then every monitoring request is refused and nothing is stored.
    csms.set_boot_status("Rejected", interval=1)
    a = make_agent(csms)
    a.wait_log("boot Rejected")
    for action, payload in (
            ("SetVariableMonitoring", {"setMonitoringData": [
                dict(_dt("memory", "LastVerdict"), type="Delta", value=1, severity=0)]}),
            ("ClearVariableMonitoring", {"id": [1]}),
            ("SetMonitoringBase", {"monitoringBase": "HardWiredOnly"}),
            ("SetMonitoringLevel", {"severity": 0}),
            ("GetMonitoringReport", {"requestId": 1})):
        with pytest.raises(CallErrorReply) as e:
            csms.call(a.station, action, payload)
        assert e.value.code == "SecurityError", action
    csms.set_boot_status("Accepted")
    csms.wait_for("StatusNotification", station=a.station, timeout=10)
    _, mons = report(csms, a.station, 2)
    assert mons and all(vm["eventNotificationType"] == "PreconfiguredMonitor" for c, v, vm in mons)
    assert gv(csms, a.station, ("MonitoringCtrlr", "ActiveMonitoringLevel"))[0]["attributeValue"] == "9"
