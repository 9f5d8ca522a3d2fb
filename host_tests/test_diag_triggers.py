"""Triggers and bindings: schedules, start-up tests, the health check on its
interval, CustomTrigger, the DataTransfer binding (and the fallback to it),
NotifyEvent, GetLog upload of the journal."""
import json
import re

import pytest

from conftest import gv, result_checksum, sv, wait_booted
from diag_helpers import offered, results, start
from upload_server import UploadServer


MEMORY = {"name": "DiagnosticTest", "instance": "memory"}


@pytest.mark.req("DG05.FR.02", "DG05.FR.03")
def test_schedule_fires_and_persists(csms, make_agent):
    a = make_agent(csms)
    wait_booted(csms, a)
    assert sv(csms, a.station, MEMORY, "Interval", "1")["attributeStatus"] == "Accepted"
    r1, r2 = results(csms, a.station, 2, timeout=10)
    assert (r1["trigger"], r1["requestor"], r1["testId"]) == ("Scheduled", "Scheduler", "memory")
    assert "requestId" not in r1
    # The schedule survives a restart.
    a.stop()
    n = len(csms.messages())
    a.start()
    # (r2 may come once more first: at-least-once delivery, same resultId.)
    (r3,) = results(csms, a.station, 1, after=n, timeout=10, pred=lambda r: r["resultId"] > r2["resultId"])
    assert r3["trigger"] == "Scheduled"
    assert sv(csms, a.station, MEMORY, "Interval", "0")["attributeStatus"] == "Accepted"


@pytest.mark.req("DG05.FR.01")
def test_start_diagnostics_with_schedule(csms, agent):
    res = start(csms, agent.station, 5, ("noop", {"durationMs": 10}), schedule={"interval": 1})
    assert res["status"] == "Accepted"
    (r,) = results(csms, agent.station, 1, timeout=10)
    assert r["trigger"] == "Scheduled" and r["parameter"] == [
        {"name": "durationMs", "value": 10}, {"name": "outcome", "value": "Passed"}]
    v = gv(csms, agent.station, ({"name": "DiagnosticTest", "instance": "noop"}, "Interval"))
    assert v[0]["attributeValue"] == "1"
    res = start(csms, agent.station, 6, ("noop", {"durationMs": "x"}), schedule={"interval": 1})
    assert res["status"] == "Rejected" and "durationMs" in res["statusInfo"]["additionalInfo"]


@pytest.mark.req("DG05.FR.04")
@pytest.mark.parametrize("timing", ["BeforeBoot", "AfterBoot"])
def test_startup_tests(csms, make_agent, timing):
    # Three tests, more than MaxConcurrentRuns (2): one run, the tests in turn.
    a = make_agent(csms, startupTests="memory,flash,health")
    wait_booted(csms, a)
    sv(csms, a.station, "DiagnosticsCtrlr", "StartupTiming", timing)
    a.stop()
    n = len(csms.messages())
    a.start()
    rs = results(csms, a.station, 3, after=n)
    assert sorted(r["testId"] for r in rs) == ["flash", "health", "memory"]
    assert all(r["verdict"] != "Skipped" for r in rs), rs
    assert all(r["trigger"] == "StartUp" and r["requestor"] == "StartUp" for r in rs)
    log = a.log().split("agent CS001 starting")[-1]
    before_connect = log.split("connected to")[0]
    if timing == "BeforeBoot":
        # Ran while the agent was still connecting.
        assert "diag: memory Passed" in before_connect
    else:
        assert "diag: memory" not in before_connect


@pytest.mark.req("DG06.FR.01", "DG06.FR.02")
def test_health_check_on_its_interval(csms, agent):
    r = sv(csms, agent.station, "DiagnosticsCtrlr", "HealthCheckInterval", "1")
    assert r["attributeStatus"] == "Accepted"
    r1, r2 = results(csms, agent.station, 2, timeout=10)
    for r in (r1, r2):
        assert (r["testId"], r["trigger"], r["requestor"]) == ("health", "HealthCheck", "HealthCheck")
        assert r["healthStatus"] == "Healthy" and r["verdict"] == "Passed"
        names = {m["name"] for m in r["measurement"]}
        assert names == {"freeHeap", "freeFlash", "loopLag", "csmsConnected", "failedSelfTests"}
    sv(csms, agent.station, "DiagnosticsCtrlr", "HealthCheckInterval", "0")


@pytest.mark.req("DG06.FR.02", "DG06.FR.03", "DG06.FR.04", "DG08.FR.01")
def test_health_degrades_after_failed_self_test(csms, agent):
    start(csms, agent.station, 1, ("noop", {"durationMs": 0, "outcome": "Failed"}))
    results(csms, agent.station, 1)
    n = len(csms.messages())
    res = csms.call(agent.station, "TriggerMessage", {"requestedMessage": "CustomTrigger",
                                                      "customTrigger": "HealthCheck"})
    assert res["status"] == "Accepted"
    (r,) = results(csms, agent.station, 1, after=n)
    assert r["trigger"] == "CustomTrigger" and r["healthStatus"] == "Degraded" and r["verdict"] == "Failed"
    assert "noop" in r["evidence"]
    ev = csms.wait_for("NotifyEvent", station=agent.station, after=n,
                       predicate=lambda e: e["payload"]["eventData"][0]["component"].get("instance") == "health")
    e = ev["payload"]["eventData"][0]
    # Health goes on LastHealth, whose values are health statuses (not on LastVerdict).
    assert (e["variable"], e["actualValue"]) == ({"name": "LastHealth"}, "Degraded")
    assert e["eventNotificationType"] == "PreconfiguredMonitor" and e["variableMonitoringId"] > 0


@pytest.mark.req("DG05.FR.05", "DG08.FR.01", "DG08.FR.02", "DG08.FR.03", "DG08.FR.04", "DG08.FR.05")
def test_custom_trigger_with_parameters(csms, agent):
    vid = "org.openchargealliance.diagnostics"
    res = csms.call(agent.station, "TriggerMessage", {
        "requestedMessage": "CustomTrigger", "customTrigger": "memory",
        "customData": {"vendorId": vid, "parameter": [{"name": "minFreeBytes", "value": 2048}]}})
    assert res["status"] == "Accepted"
    (r,) = results(csms, agent.station, 1)
    assert r["testId"] == "memory" and {"name": "minFreeBytes", "value": 2048} in r["parameter"]
    res = csms.call(agent.station, "TriggerMessage", {
        "requestedMessage": "CustomTrigger", "customTrigger": "memory",
        "customData": {"vendorId": vid, "parameter": [{"name": "minFreeBytes", "value": "x"}]}})
    assert res["status"] == "Rejected" and "minFreeBytes" in res["statusInfo"]["additionalInfo"]
    res = csms.call(agent.station, "TriggerMessage", {"requestedMessage": "CustomTrigger",
                                                      "customTrigger": "noop"})
    assert res["status"] == "Rejected" and res["statusInfo"]["reasonCode"] == "MissingParameter"
    # Parameters belong to one test, not to a group.
    res = csms.call(agent.station, "TriggerMessage", {
        "requestedMessage": "CustomTrigger", "customTrigger": "SelfTest",
        "customData": {"vendorId": vid, "parameter": [{"name": "minFreeBytes", "value": 2048}]}})
    assert res["status"] == "Rejected" and res["statusInfo"]["reasonCode"] == "AmbiguousParameters"
    res = csms.call(agent.station, "TriggerMessage", {"requestedMessage": "CustomTrigger",
                                                      "customTrigger": "TeleportTest"})
    assert res["status"] == "NotImplemented"
    got = check_selftest_trigger(csms, agent.station)
    assert got["memory"]["verdict"] == "Passed" and got["flash"]["verdict"] == "Passed"
    # No meter in this station's config: the meter test does not apply.
    assert got["meter"]["verdict"] == "Skipped"
    assert got["meter"]["statusInfo"]["reasonCode"] == "NotConfigured"
    # noop cannot run with defaults (durationMs is required): journaled as Skipped.
    assert got["noop"]["verdict"] == "Skipped"
    assert got["noop"]["statusInfo"]["reasonCode"] == "MissingParameter"


def check_selftest_trigger(csms, station, lib=None):
    """CustomTrigger "SelfTest" runs every SelfTest module once: the set comes from
    lib/diag/tests/ (this tree's, or another one's: test_adding_a_test.py)
    -> the results by testId."""
    n = len(csms.messages())
    res = csms.call(station, "TriggerMessage", {"requestedMessage": "CustomTrigger", "customTrigger": "SelfTest"})
    assert res["status"] == "Accepted"
    selftests = sorted(t for t, ty in offered(lib).items() if ty == "SelfTest")
    assert {"memory", "flash", "noop"} <= set(selftests)
    rs = results(csms, station, len(selftests), after=n)
    got = {r["testId"]: r for r in rs}
    assert sorted(got) == selftests and all(r["trigger"] == "CustomTrigger" for r in rs)
    return got


def _dt(csms, station, message_id, data, vid="org.openchargealliance.diagnostics"):
    return csms.call(station, "DataTransfer", {"vendorId": vid, "messageId": message_id, "data": data})


@pytest.mark.req("DG07.FR.01", "DG07.FR.02", "DG07.FR.03", "DG07.FR.04")
def test_data_transfer_binding(csms, agent):
    res = _dt(csms, agent.station, "GetDiagnosticsCatalog", {"requestId": 3, "testId": ["memory"]})
    assert res["status"] == "Accepted" and res["data"]["status"] == "Accepted"
    rec = csms.wait_for("DataTransfer", station=agent.station,
                        predicate=lambda r: r["payload"].get("messageId") == "NotifyDiagnosticsCatalog")
    assert rec["payload"]["data"]["test"][0]["testId"] == "memory"
    assert rec["payload"]["data"]["catalogVersion"] == res["data"]["catalogVersion"]
    res = _dt(csms, agent.station, "StartDiagnostics",
              {"requestId": 4, "test": [{"testId": "memory"}]})
    assert res["data"]["status"] == "Accepted"
    rec = csms.wait_for("DataTransfer", station=agent.station,
                        predicate=lambda r: r["payload"].get("messageId") == "NotifyDiagnosticsResult")
    r = rec["payload"]["data"]["result"]
    assert r["requestId"] == 4 and r["checksum"] == result_checksum(r)
    # Same checks as the native message.
    res = _dt(csms, agent.station, "StartDiagnostics",
              {"requestId": 5, "test": [{"testId": "memory", "parameter": [{"name": "minFreeBytes", "value": -5}]}]})
    assert res["data"]["status"] == "Rejected" and "minFreeBytes" in res["data"]["statusInfo"]["additionalInfo"]
    res = _dt(csms, agent.station, "StartDiagnostics", {"test": []})
    assert res["status"] == "Rejected" and res["statusInfo"]["reasonCode"] == "InvalidPayload"
    assert res["statusInfo"]["additionalInfo"].startswith("OccurrenceConstraintViolation")
    assert _dt(csms, agent.station, "Nope", {})["status"] == "UnknownMessageId"
    assert _dt(csms, agent.station, "StartDiagnostics", {}, vid="com.other")["status"] == "UnknownVendorId"
    # Another major version of the extension has another vendorId (SPEC.md 4.8): refused, not misread.
    assert _dt(csms, agent.station, "StartDiagnostics", {"requestId": 6, "test": [{"testId": "memory"}]},
               vid="org.openchargealliance.diagnostics.v2")["status"] == "UnknownVendorId"
    assert not csms.messages(station=agent.station, action="NotifyDiagnosticsResult")


@pytest.mark.req("DG07.FR.05")
def test_falls_back_to_data_transfer_for_a_plain_csms(csms, make_agent):
    from harness import CallErrorReply

    def refuse(station, payload):
        raise CallErrorReply("NotImplemented", "unknown action")

    for action in ("NotifyDiagnosticsResult", "NotifyDiagnosticsStatus"):
        csms.add_handler(action, refuse)
    a = make_agent(csms)
    wait_booted(csms, a)
    sv(csms, a.station, MEMORY, "Interval", "1")
    rec = csms.wait_for("DataTransfer", station=a.station, timeout=10,
                        predicate=lambda r: r["payload"].get("messageId") == "NotifyDiagnosticsResult")
    assert rec["payload"]["data"]["result"]["testId"] == "memory"
    sv(csms, a.station, MEMORY, "Interval", "0")


@pytest.mark.req("DG09.FR.01", "DG09.FR.02", "DG09.FR.03", "DG09.FR.04")
def test_get_log_uploads_the_journal(csms, agent):
    srv = UploadServer().start()
    try:
        start(csms, agent.station, 1, ("memory",), ("noop", {"durationMs": 0}))
        sent = results(csms, agent.station, 2)
        res = csms.call(agent.station, "GetLog", {"logType": "DiagnosticsLog", "requestId": 9,
                                                  "log": {"remoteLocation": srv.url + "/upload/cs1"}})
        assert res["status"] == "Accepted" and res["filename"].endswith(".ndjson")
        up = srv.wait(1)
        lines = [json.loads(l) for l in up["body"].decode().splitlines()]
        assert [l["resultId"] for l in lines] == [r["resultId"] for r in sent]
        assert all(l["checksum"] == result_checksum(l) for l in lines)
        assert up["headers"]["Content-Type"] == "application/x-ndjson"
        # What tells a CSMS that only knows OCPP's log types what it got (SPEC.md 10.3).
        assert re.fullmatch(r"diagnostics-CS001-\d{8}T\d{6}Z\.ndjson", res["filename"]), res
        assert up["headers"]["Content-Disposition"] == 'attachment; filename="%s"' % res["filename"]
        st = [r["payload"]["status"] for r in csms.messages(station=agent.station, action="LogStatusNotification")]
        csms.wait_for("LogStatusNotification", station=agent.station,
                      predicate=lambda r: r["payload"]["status"] == "Uploaded" and r["payload"].get("requestId") == 9)
        assert st[0] == "Uploading"
        n = len(csms.messages())
        res = csms.call(agent.station, "TriggerMessage", {"requestedMessage": "LogStatusNotification"})
        assert res["status"] == "Accepted"
        rec = csms.wait_for("LogStatusNotification", station=agent.station, after=n)
        assert rec["payload"] == {"status": "Idle"}
        res = csms.call(agent.station, "GetLog", {"logType": "SecurityLog", "requestId": 10,
                                                  "log": {"remoteLocation": srv.url}})
        assert res["status"] == "Rejected" and res["statusInfo"]["reasonCode"] == "UnsupportedLogType"
        res = csms.call(agent.station, "GetLog", {"logType": "DiagnosticsLog", "requestId": 10,
                                                  "log": {"remoteLocation": "ftp://127.0.0.1/journal"}})
        assert res["status"] == "Rejected" and res["statusInfo"]["reasonCode"] == "UnsupportedProtocol"
        # Upload refused by the server: retried, then UploadFailure.
        srv.status = 500
        res = csms.call(agent.station, "GetLog", {"logType": "DiagnosticsLog", "requestId": 11, "retries": 1,
                                                  "retryInterval": 1, "log": {"remoteLocation": srv.url}})
        assert res["status"] == "Accepted"
        rec = csms.wait_for("LogStatusNotification", station=agent.station, timeout=15,
                            predicate=lambda r: r["payload"].get("requestId") == 11
                            and r["payload"]["status"] == "UploadFailure")
        # The server's 500 (or, when it closes first, the connection reset) is the reason.
        info = rec["payload"]["statusInfo"]["additionalInfo"]
        assert "500" in info or "ECONNRESET" in info, info
        assert srv.attempts >= 3  # the first upload, then two tries of the failing one
    finally:
        srv.stop()


@pytest.mark.req("DG09.FR.05")
def test_new_get_log_replaces_an_upload_under_way(csms, agent):
    srv = UploadServer().start()
    try:
        srv.status = 503  # the first upload fails and waits a minute before its next attempt
        res = csms.call(agent.station, "GetLog", {"logType": "DiagnosticsLog", "requestId": 20, "retries": 3,
                                                  "retryInterval": 60, "log": {"remoteLocation": srv.url + "/a"}})
        assert res["status"] == "Accepted"
        with srv.cond:
            assert srv.cond.wait_for(lambda: srv.attempts >= 1, 15)
        srv.status = 200
        res = csms.call(agent.station, "GetLog", {"logType": "DiagnosticsLog", "requestId": 21,
                                                  "log": {"remoteLocation": srv.url + "/b"}})
        assert res["status"] == "AcceptedCanceled"
        csms.wait_for("LogStatusNotification", station=agent.station,
                      predicate=lambda r: r["payload"] == {"status": "Uploaded", "requestId": 21})
        assert srv.wait(1)["path"] == "/b"
        # The replaced upload ends there: no further attempt, no Uploaded, no UploadFailure.
        old = [r["payload"]["status"] for r in csms.messages(station=agent.station, action="LogStatusNotification")
               if r["payload"].get("requestId") == 20]
        assert old == ["Uploading"]
        assert srv.attempts == 2
    finally:
        srv.stop()
