"""The station's self tests against real peers: clock (offset and drift against the
CSMS time), security (well-known insecure settings), compliance (rules over the live
device model) and performance (a full device-model report sent for real)."""
import asyncio
import os
import time
from datetime import datetime, timedelta, timezone

import pytest

from certs import make_ca, make_server_cert, server_ssl_context
from conftest import collect, gv, wait_booted
from diag_helpers import offline_startup_result, meas, results, start
from harness import ThreadedCsms


def _iso(dt):
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- clock -------------------------------------------------------------------

def test_clock_passes_against_the_reference_csms(csms, agent):
    start(csms, agent.station, 1, ("clock",))
    (r,) = results(csms, agent.station, 1)
    assert r["verdict"] == "Passed", r
    m = meas(r)
    assert m["offset"]["unit"] == "ms" and abs(m["offset"]["value"]) <= 2000
    assert m["offset"]["limit"] == "abs <= 2000" and m["offset"]["withinLimit"] is True
    assert 0 <= m["roundTrip"]["value"] < 1000 and m["drift"]["unit"] == "ppm"
    assert m["sinceAdoption"]["value"] > 0
    assert "offset" in r["evidence"] and "since the last adoption" in r["evidence"]
    # Measured with a Heartbeat of its own; the station's clock was not changed by it
    # (the test does not adopt what it measures): DateTime is still the CSMS's.
    assert csms.messages(station=agent.station, action="Heartbeat")


def test_clock_offset_against_a_skewed_csms_fails_naming_it(csms, make_agent):
    # Boot gives the true time; the heartbeat answers two minutes ahead. The
    # station's own heartbeats are 300 s apart, so only the test's heartbeat
    # sees the skew, and the station does not adopt it.
    csms.set_boot_status("Accepted", interval=300)
    csms.add_handler("Heartbeat", lambda st, p: {
        "currentTime": _iso(datetime.now(timezone.utc) + timedelta(seconds=120))})
    a = make_agent(csms)
    wait_booted(csms, a)
    start(csms, a.station, 1, ("clock", {"maxOffsetMs": 1000}))
    (r,) = results(csms, a.station, 1)
    assert r["verdict"] == "Failed", r
    off = meas(r)["offset"]
    assert -121000 < off["value"] < -119000 and off["withinLimit"] is False and off["limit"] == "abs <= 1000"
    assert r["statusInfo"]["reasonCode"] == "ClockOffset"
    assert "offset %d ms (limit 1000 ms)" % off["value"] in r["statusInfo"]["additionalInfo"]
    # Measuring did not adopt the skew: a second run sees the same offset.
    start(csms, a.station, 2, ("clock", {"maxOffsetMs": 1000}))
    r2 = results(csms, a.station, 2)[1]
    assert r2["requestId"] == 2
    assert abs(meas(r2)["offset"]["value"] - off["value"]) < 1000


def test_clock_drift_against_a_fast_csms_fails(csms, make_agent):
    # The CSMS clock runs 5 % fast from the boot on: the station adopted the time at
    # boot, so after a second or two it is behind by ~50,000 ppm of that time.
    csms.set_boot_status("Accepted", interval=300)
    t0 = []

    def boot(st, p):
        t0.append(datetime.now(timezone.utc))
        return {"currentTime": _iso(t0[-1]), "interval": 300, "status": "Accepted"}

    def hb(st, p):
        now = datetime.now(timezone.utc)
        return {"currentTime": _iso(now + (now - t0[-1]) * 0.05)}

    csms.add_handler("BootNotification", boot)
    csms.add_handler("Heartbeat", hb)
    a = make_agent(csms)
    wait_booted(csms, a)
    time.sleep(1.5)
    start(csms, a.station, 1, ("clock",))
    (r,) = results(csms, a.station, 1)
    m = meas(r)
    assert r["verdict"] == "Failed" and r["statusInfo"]["reasonCode"] == "ClockDrift", r
    assert m["offset"]["withinLimit"] is True  # ~-75 ms: the offset alone passes
    assert -60000 < m["drift"]["value"] < -40000 and m["drift"]["withinLimit"] is False
    assert m["drift"]["limit"].startswith("abs <= 500 (measured +-")
    assert "drift %d ppm" % m["drift"]["value"] in r["statusInfo"]["additionalInfo"]


def test_clock_inconclusive_before_the_station_heard_the_csms_time(csms, make_agent):
    a, r = offline_startup_result(csms, make_agent, "clock")
    assert r["testId"] == "clock" and r["trigger"] == "StartUp"
    assert r["verdict"] == "Inconclusive" and r["statusInfo"]["reasonCode"] == "NeverSynced", r
    assert "never received the CSMS time" in r["evidence"]
    assert "offset" not in meas(r)


# --- security ------------------------------------------------------------------

STRONG = "k7#Qw9!zR2pL$x5M-vN8"  # 20 characters, no station id, many distinct ones


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("pki"))
    ca = make_ca(d, "Test CSMS CA")
    soon = make_ca(os.path.join(d, "soon"), "CA expiring in 4.5 days", days=4.5)
    return {"ca": ca, "good": make_server_cert(d, ca, name="good"),
            "soon": soon, "soon_srv": make_server_cert(os.path.join(d, "soon"), soon, name="srv")}


def _tls_agent(make_agent, ca, srv, **over):
    c = ThreadedCsms(ssl=server_ssl_context(srv.cert, srv.key), passwords={"CS001": STRONG}).start()
    a = make_agent(c, csmsUrl="wss://localhost:%d" % c.port, caFile=ca.der, basicAuthPassword=STRONG, **over)
    wait_booted(c, a)
    return c, a


@pytest.mark.req("DG02.FR.13")
def test_security_names_each_insecure_setting(csms, make_agent):
    # Production with plain ws://, a password holding the station id, noop offered, and
    # the journal last uploaded over plain http.
    a = make_agent(csms, production=True, basicAuthPassword="cs001-password-2026")
    wait_booted(csms, a)
    # (The upload itself fails: lib/diag/upload.py does not take user info in a URL.
    # What counts here is where the station was told to send its journal.)
    port = 9  # nothing listens there: the upload fails at once
    res = csms.call(a.station, "GetLog", {"logType": "DiagnosticsLog", "requestId": 3, "retries": 0,
                                          "log": {"remoteLocation": "http://user:pw@127.0.0.1:%d/up/x" % port}})
    assert res["status"] == "Accepted"
    csms.wait_for("LogStatusNotification", station=a.station,
                  predicate=lambda r: r["payload"]["status"] == "UploadFailure")
    start(csms, a.station, 1, ("security",))
    (r,) = results(csms, a.station, 1)
    assert r["verdict"] == "Failed" and r["statusInfo"]["reasonCode"] == "InsecureSettings", r
    m = meas(r)
    assert {k: m[k]["value"] for k in ("transport", "basicAuth", "caCertificate", "logUpload",
                                       "fabricatingTests")} == {
        "transport": 3, "basicAuth": 3, "caCertificate": 0, "logUpload": 2, "fabricatingTests": 3}
    assert m["transport"]["limit"] == "< 3 (high)" and m["transport"]["withinLimit"] is False
    assert m["logUpload"]["withinLimit"] is True  # medium: named, but below minSeverity high
    ev = r["evidence"]
    assert "high: plain ws:// (no TLS, security profile 1) in production" in ev
    assert "high: basic-auth password contains the station id" in ev
    assert "high: test noop offered in production" in ev
    assert "medium: last GetLog upload went to http://127.0.0.1:%d over plain http" % port in ev
    # Findings, not secrets: neither the password nor the upload's user info.
    assert "cs001-password" not in ev and "user:pw" not in ev
    info = r["statusInfo"]["additionalInfo"]
    assert "plain ws://" in info and "noop" in info and "medium" not in info
    # With minSeverity medium the same station fails on the medium finding too.
    start(csms, a.station, 2, ("security", {"minSeverity": "medium"}))
    r = results(csms, a.station, 2)[1]
    assert "medium: last GetLog upload" in r["statusInfo"]["additionalInfo"]


def test_security_passes_with_tls_good_ca_and_strong_password(pki, make_agent):
    c, a = _tls_agent(make_agent, pki["ca"], pki["good"], production=True, diagTests=["clock", "security"])
    try:
        start(c, a.station, 1, ("security", {"minSeverity": "low"}))
        (r,) = results(c, a.station, 1)
        assert r["verdict"] == "Passed" and r["evidence"] == "no finding", r
        m = meas(r)
        assert all(m[k]["value"] == 0 and m[k]["withinLimit"] for k in
                   ("transport", "basicAuth", "caCertificate", "logUpload", "fabricatingTests"))
        assert m["caValidDays"]["unit"] == "d" and 363 <= m["caValidDays"]["value"] <= 365
        assert c.violations == []
    finally:
        c.stop()


def test_security_names_a_ca_expiring_soon(pki, make_agent):
    c, a = _tls_agent(make_agent, pki["soon"], pki["soon_srv"])
    try:
        start(c, a.station, 1, ("security",))
        start(c, a.station, 2, ("security", {"minSeverity": "medium", "caWarnDays": 10}))
        r1, r2 = results(c, a.station, 2)
        for r in (r1, r2):
            m = meas(r)
            assert m["caCertificate"]["value"] == 2 and m["caValidDays"]["value"] == 4, r
            assert "medium: CSMS CA certificate expires in 4 days" in r["evidence"]
        # The default (high) passes with the finding named; medium fails on it.
        assert r1["verdict"] == "Passed" and m["caValidDays"]["withinLimit"] is False
        assert meas(r1)["caValidDays"]["limit"] == ">= 30"
        assert r2["verdict"] == "Failed" and "expires in 4 days" in r2["statusInfo"]["additionalInfo"]
        assert c.violations == []
    finally:
        c.stop()


# --- compliance ------------------------------------------------------------------

def test_compliance_rules_that_hold(csms, agent):
    rules = ("OCPPCommCtrlr.HeartbeatInterval <= 600; SecurityCtrlr.SecurityProfile >= 1;"
             " ChargingStation.Model == ADX-1 ; DiagnosticTest.memory.Enabled == true;"
             "OCPPCommCtrlr.MessageTimeout[Default]<30")
    start(csms, agent.station, 1, ("compliance", {"rules": rules}))
    (r,) = results(csms, agent.station, 1)
    assert r["verdict"] == "Passed", r
    m = meas(r)
    # HeartbeatInterval is the interval of the reference CSMS's boot response (10 s).
    assert m["OCPPCommCtrlr.HeartbeatInterval"] == {
        "name": "OCPPCommCtrlr.HeartbeatInterval", "value": 10, "unit": "s", "limit": "<= 600", "withinLimit": True}
    assert m["SecurityCtrlr.SecurityProfile"]["value"] == 1
    assert m["ChargingStation.Model"]["value"] == 1 and m["ChargingStation.Model"]["limit"] == "== ADX-1"
    assert m["DiagnosticTest.memory.Enabled"]["value"] == 1
    assert m["OCPPCommCtrlr.MessageTimeout[Default]"]["value"] == 5
    assert r["evidence"] == "5 of 5 rules hold"


def test_compliance_failing_rules_are_named(csms, agent):
    rules = "OCPPCommCtrlr.HeartbeatInterval <= 5; SecurityCtrlr.SecurityProfile >= 2; ChargingStation.Model != ADX-1"
    start(csms, agent.station, 1, ("compliance", {"rules": rules}))
    (r,) = results(csms, agent.station, 1)
    assert r["verdict"] == "Failed" and r["statusInfo"]["reasonCode"] == "NonCompliant", r
    m = meas(r)
    assert (m["OCPPCommCtrlr.HeartbeatInterval"]["value"], m["OCPPCommCtrlr.HeartbeatInterval"]["withinLimit"]) == (10, False)
    assert (m["SecurityCtrlr.SecurityProfile"]["value"], m["SecurityCtrlr.SecurityProfile"]["limit"]) == (1, ">= 2")
    assert m["ChargingStation.Model"]["value"] == 0
    info = r["statusInfo"]["additionalInfo"]
    assert "OCPPCommCtrlr.HeartbeatInterval = 10, not <= 5" in info
    assert "SecurityCtrlr.SecurityProfile = 1, not >= 2" in info
    assert "ChargingStation.Model = ADX-1, not != ADX-1" in info
    assert r["evidence"].startswith("0 of 3 rules hold; ")


@pytest.mark.parametrize("rules,says", [
    ("OCPPCommCtrlr.HeartbeatInterval ~ 600", "rule 1 'OCPPCommCtrlr.HeartbeatInterval ~ 600': expected"),
    ("ChargingStation.Model == ADX-1; OCPPCommCtrlr.HeartbeatInterval = 600", "rule 2"),
    ("OCPPCommCtrlr.HeartbeatInterval <= ten", "<= needs a number"),
    ("HeartbeatInterval <= 10", "left side must be Component[.instance].Variable"),
    ("A.B.C.D == 1", "left side"),
    ("OCPPCommCtrlr.HeartbeatInterval <=", "rule 1"),
    (";".join(["ChargingStation.Model == x"] * 21), "more than 20 rules"),
    ("ChargingStation.Model == " + "x" * 1000, "at most 1000"),
])
def test_compliance_bad_syntax_is_an_error_before_any_rule(csms, agent, rules, says):
    start(csms, agent.station, 1, ("compliance", {"rules": rules}))
    (r,) = results(csms, agent.station, 1)
    assert r["verdict"] == "Error" and r["statusInfo"]["reasonCode"] == "BadRule", r
    assert says in r["statusInfo"]["additionalInfo"]
    assert "measurement" not in r


# lib/ocpp/ws.py frames a text message with len(str), the number of characters, not
# of UTF-8 bytes: any non-ASCII text the station sends is cut short and the CSMS reads
# broken JSON (fix: send text.encode()). Until then the station's side is checked
# through the device model, and end-to-end delivery is an expected failure.
NON_ASCII_RULES = ("ChargingStation.Model == Wallbox-Ü; Café.HeartbeatInterval <= 600;"
                   " OCPPCommCtrlr.Délai <= 1; SecurityCtrlr.BasicAuthPassword == x;"
                   " OCPPCommCtrlr.HeartbeatInterval <= 600")


def test_compliance_non_ascii_rules_judged_without_crash(make_agent):
    c = ThreadedCsms().start()  # not the fixture: its deliveries break on the bug above
    try:
        a = make_agent(c, complianceRules=NON_ASCII_RULES)
        wait_booted(c, a)
        start(c, a.station, 1, ("compliance",))
        a.wait_log("diag: compliance Failed in \\d+ ms")
        ct = {"name": "DiagnosticTest", "instance": "compliance"}
        v = gv(c, a.station, (ct, "LastVerdict"), ("DiagnosticsCtrlr", "RunningTests"))
        assert [x["attributeValue"] for x in v] == ["Failed", ""]
        assert a.proc.poll() is None
    finally:
        c.stop()


def test_compliance_non_ascii_rules_reported_intact(make_agent):
    c = ThreadedCsms().start()
    try:
        # Rules from the config (no parameter).
        a = make_agent(c, complianceRules=NON_ASCII_RULES)
        wait_booted(c, a)
        start(c, a.station, 1, ("compliance",))
        c.wait_for("NotifyDiagnosticsStatus", station=a.station,
                   predicate=lambda r: r["payload"]["status"] == "Finished")
        assert c.violations == []
        (r,) = results(c, a.station, 1, timeout=3)
        assert r["verdict"] == "Failed", r
        m = meas(r)
        assert m["Café.HeartbeatInterval"] == {"name": "Café.HeartbeatInterval", "value": 0,
                                               "limit": "<= 600", "withinLimit": False}
        assert m["ChargingStation.Model"]["limit"] == "== Wallbox-Ü"
        info = r["statusInfo"]["additionalInfo"]
        assert "ChargingStation.Model = ADX-1, not == Wallbox-Ü" in info
        assert "Café.HeartbeatInterval: unknown component Café" in info
        assert "OCPPCommCtrlr.Délai: unknown variable Délai" in info
        assert "SecurityCtrlr.BasicAuthPassword: write-only: cannot be read" in info
        assert r["evidence"].startswith("1 of 5 rules hold; ")
    finally:
        c.stop()


def test_compliance_without_rules_is_inconclusive(csms, agent):
    start(csms, agent.station, 1, ("compliance",))
    (r,) = results(csms, agent.station, 1)
    assert r["verdict"] == "Inconclusive" and r["statusInfo"]["reasonCode"] == "NoRules", r
    assert "complianceRules" in r["statusInfo"]["additionalInfo"]


# --- performance -----------------------------------------------------------------

def _own_report(csms, station):
    """The NotifyReport parts of the test's own report (negative requestId)."""
    first = csms.wait_for("NotifyReport", station=station, predicate=lambda r: r["payload"]["requestId"] < 0)
    return collect(csms, station, "NotifyReport", first["payload"]["requestId"])


def test_performance_reports_the_whole_device_model_for_real(csms, agent):
    start(csms, agent.station, 1, ("performance",))
    (r,) = results(csms, agent.station, 1)
    assert r["verdict"] == "Passed", r
    m = meas(r)
    parts = _own_report(csms, agent.station)
    items = [d for p in parts for d in p["reportData"]]
    assert [p["seqNo"] for p in parts] == list(range(len(parts))) and not parts[-1]["tbc"]
    assert m["reportParts"]["value"] == len(parts) and m["reportItems"]["value"] == len(items)
    # The entire device model: as many variables as a FullInventory GetBaseReport gives.
    assert csms.call(agent.station, "GetBaseReport", {"requestId": 7, "reportBase": "FullInventory"})["status"] == "Accepted"
    full = [d for p in collect(csms, agent.station, "NotifyReport", 7) for d in p["reportData"]]
    assert len(full) == len(items) > 50
    assert {(d["component"]["name"], d["variable"]["name"]) for d in full} == \
        {(d["component"]["name"], d["variable"]["name"]) for d in items}
    assert m["reportTime"]["unit"] == "ms" and 0 < m["reportTime"]["value"] <= 10000
    assert m["reportTime"]["limit"] == "<= 10000" and m["reportTime"]["withinLimit"] is True
    assert m["heapUsed"]["unit"] == "B" and 0 < m["heapUsed"]["value"] <= 65536
    assert m["heapAllocated"]["value"] >= m["heapUsed"]["value"] // 2
    assert 0 <= m["roundTrip"]["value"] < 2000 and m["roundTrip"]["unit"] == "ms"
    assert "report %d: %d variables in %d parts" % (parts[0]["requestId"], len(items), len(parts)) in r["evidence"]


def test_performance_fails_over_tiny_limits(csms, agent):
    start(csms, agent.station, 1, ("performance", {"maxReportMs": 1, "maxHeapBytes": 1}))
    (r,) = results(csms, agent.station, 1)
    assert r["verdict"] == "Failed" and r["statusInfo"]["reasonCode"] == "OverLimit", r
    m = meas(r)
    assert m["reportTime"]["withinLimit"] is False and m["heapUsed"]["withinLimit"] is False
    assert m["roundTrip"]["withinLimit"] is True
    info = r["statusInfo"]["additionalInfo"]
    assert "full report %d ms (limit 1 ms)" % m["reportTime"]["value"] in info
    assert "heap used %d B (limit 1 B)" % m["heapUsed"]["value"] in info


def test_performance_report_leaves_ocpp_answering(csms, make_agent):
    # A CSMS that takes 50 ms to acknowledge each part: the report lasts a second or
    # more, and GetVariables must be answered in the meantime.
    async def slow(station, payload):
        await asyncio.sleep(0.05)
        return {}

    csms.add_handler("NotifyReport", slow)
    a = make_agent(csms)
    wait_booted(csms, a)
    start(csms, a.station, 1, ("performance",))
    first = csms.wait_for("NotifyReport", station=a.station, predicate=lambda r: r["payload"]["requestId"] < 0)
    worst = 0
    for _ in range(10):
        t0 = time.perf_counter()
        assert gv(csms, a.station, ("ChargingStation", "Model"))[0]["attributeValue"] == "ADX-1"
        worst = max(worst, time.perf_counter() - t0)
    answered = len(csms.messages())
    parts = collect(csms, a.station, "NotifyReport", first["payload"]["requestId"])
    last = csms.wait_for("NotifyReport", station=a.station, predicate=lambda r: r["payload"] is parts[-1])
    assert answered < last["index"], "GetVariables answered only after the report"
    assert worst < 1.0
    (r,) = results(csms, a.station, 1)
    m = meas(r)
    assert r["verdict"] == "Passed" and m["reportTime"]["value"] >= 50 * len(parts), r
