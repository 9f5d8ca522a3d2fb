"""Boot: Accepted / Pending / Rejected semantics, heartbeats, connector status,
OCPP version negotiation, configuration errors."""
import os
import subprocess
import sys

from conftest import MICROPYTHON, ROOT, collect, gv, wait_booted
from harness import CallErrorReply


def test_boot_accepted_then_status_and_heartbeat(csms, make_agent):
    csms.set_boot_status("Accepted", interval=2)
    a = make_agent(csms)
    boot = csms.wait_for("BootNotification", station=a.station)
    assert boot["payload"] == {"chargingStation": {"model": "ADX-1", "vendorName": "Acme"},
                               "reason": "PowerUp"}
    # One StatusNotification per connector: evses [1, 2] -> (1,1), (2,1), (2,2).
    seen = set()
    for _ in range(3):
        rec = csms.wait_for("StatusNotification", station=a.station,
                            predicate=lambda r: (r["payload"]["evseId"], r["payload"]["connectorId"]) not in seen)
        seen.add((rec["payload"]["evseId"], rec["payload"]["connectorId"]))
        assert rec["payload"]["connectorStatus"] == "Available"
    assert seen == {(1, 1), (2, 1), (2, 2)}
    # Heartbeats at the interval the CSMS gave (2 s), not the configured 300 s.
    h1 = csms.wait_for("Heartbeat", station=a.station, timeout=6)
    h2 = csms.wait_for("Heartbeat", station=a.station, timeout=6, after=h1["index"] + 1)
    gap = h2["time"] - h1["time"]
    assert 1.5 <= gap <= 3.5, gap
    assert gv(csms, a.station, ("OCPPCommCtrlr", "HeartbeatInterval"))[0]["attributeValue"] == "2"


def test_boot_pending_serves_csms_and_retries(csms, make_agent):
    csms.set_boot_status("Pending", interval=1)
    a = make_agent(csms)
    b1 = csms.wait_for("BootNotification", station=a.station)
    # While Pending the CSMS may configure the station (B02).
    assert gv(csms, a.station, ("ChargingStation", "Model"))[0]["attributeValue"] == "ADX-1"
    b2 = csms.wait_for("BootNotification", station=a.station, after=b1["index"] + 1, timeout=5)
    assert b2["time"] - b1["time"] >= 0.9
    # No other CALL from the station while Pending.
    assert not csms.messages(station=a.station, action="StatusNotification")
    csms.set_boot_status("Accepted")
    csms.wait_for("StatusNotification", station=a.station, timeout=5)


def test_boot_pending_trigger_boot(csms, make_agent):
    csms.set_boot_status("Pending", interval=60)
    a = make_agent(csms)
    a.wait_log("boot Pending")
    csms.set_boot_status("Accepted")
    res = csms.call(a.station, "TriggerMessage", {"requestedMessage": "BootNotification"})
    assert res["status"] == "Accepted"
    b = csms.wait_for("BootNotification", station=a.station, predicate=lambda r: r["payload"]["reason"] == "Triggered")
    assert b
    csms.wait_for("StatusNotification", station=a.station)


def test_boot_rejected_refuses_csms_and_retries(csms, make_agent):
    csms.set_boot_status("Rejected", interval=1)
    a = make_agent(csms)
    b1 = csms.wait_for("BootNotification", station=a.station)
    a.wait_log("boot Rejected")
    try:
        gv(csms, a.station, ("ChargingStation", "Model"))
        raise AssertionError("a Rejected station must not serve the CSMS")
    except CallErrorReply as e:
        assert e.code == "SecurityError"
    csms.wait_for("BootNotification", station=a.station, after=b1["index"] + 1, timeout=5)
    csms.set_boot_status("Accepted")
    csms.wait_for("StatusNotification", station=a.station, timeout=5)


def test_falls_back_to_ocpp201(make_agent):
    from harness import ThreadedCsms
    c = ThreadedCsms(subprotocols=["ocpp2.0.1"]).start()
    try:
        a = make_agent(c)
        con = c.wait_for(type="CONNECT", station=a.station)
        assert con["subprotocol"] == "ocpp2.0.1"
        c.wait_for("BootNotification", station=a.station)
        assert gv(c, a.station, ("SecurityCtrlr", "Identity"))[0]["attributeValue"] == "CS001"
        assert c.violations == []
    finally:
        c.stop()


def test_prefers_configured_version_order(csms, make_agent):
    a = make_agent(csms, ocppVersions=["2.0.1", "2.1"])
    con = csms.wait_for(type="CONNECT", station=a.station)
    # The CSMS offers both; the offer order is ours, its pick is its own list order.
    assert "ocpp2.0.1, ocpp2.1" in con["headers"].get("Sec-WebSocket-Protocol", "")


def _run_with(tmp_path, cfg_text, name="c.json"):
    p = tmp_path / name
    if cfg_text is not None:
        p.write_text(cfg_text)
    return subprocess.run([MICROPYTHON, os.path.join(ROOT, "main.py"), str(p)],
                          capture_output=True, text=True, timeout=20, cwd=str(tmp_path))


def test_config_errors_give_one_line_and_exit_2(tmp_path):
    good = '{"csmsUrl": "ws://127.0.0.1:1", "stationId": "S", "vendor": "V", "model": "M"%s}'
    cases = [
        (None, "cannot read"),
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"stationId": "S", "vendor": "V", "model": "M"}', "'csmsUrl'"),
        (good % ', "csmsUrl": "http://x"', "must start with ws://"),
        (good % ', "ocppVersions": ["1.6"]', "'ocppVersions'"),
        (good % ', "basicAuthPassword": "short"', "'basicAuthPassword'"),
        (good % ', "evses": [0]', "'evses'"),
        (good.replace("ws://", "wss://") % "", "'caFile'"),
        (good % ', "extensions": ["nope"]', "'extensions'"),
        (good % ', "production": "yes"', "'production'"),
        (good % ', "allowIntrusive": 0', "'allowIntrusive'"),
        (good % ', "complianceRules": 5', "'complianceRules'"),
        (good % ', "diagTargets": {"ntpServers": "a,b"}', "'diagTargets.ntpServers' must be a list"),
        (good % ', "diagTargets": {"ntp": []}', "'diagTargets' has no key 'ntp'"),
        (good % ', "diagTargets": {"dnsResolver": 53}', "'diagTargets.dnsResolver' must be a string"),
    ]
    for i, (text, expect) in enumerate(cases):
        r = _run_with(tmp_path, text, "c%d.json" % i)
        out = (r.stdout + r.stderr).strip()
        assert r.returncode == 2, (text, out)
        assert len(out.splitlines()) == 1 and out.startswith("config error:"), out
        assert expect in out, (expect, out)


def test_bare_ocpp_station_without_extensions(csms, make_agent):
    # "extensions": [] is the OCPP core alone: no diagnostics messages, no
    # diagnostics components in the device model.
    a = make_agent(csms, extensions=[])
    wait_booted(csms, a)
    try:
        csms.call(a.station, "GetDiagnosticsCatalog", {"requestId": 1})
        raise AssertionError("GetDiagnosticsCatalog answered")
    except CallErrorReply as e:
        assert e.code == "NotImplemented", e
    assert csms.call(a.station, "GetBaseReport", {"requestId": 2, "reportBase": "FullInventory"})[
        "status"] == "Accepted"
    names = {d["component"]["name"] for p in collect(csms, a.station, "NotifyReport", 2)
             for d in p["reportData"]}
    assert "OCPPCommCtrlr" in names and not names & {"DiagnosticsCtrlr", "DiagnosticTest"}, names


def test_station_id_with_non_ascii_and_url_characters_connects(csms, make_agent):
    # The id travels as one percent-encoded path segment (UTF-8), and as itself in the
    # Basic auth user name and the messages.
    sid = "Ladesäule 7 #Ω?%"  # (the config refuses "/" and ":")
    a = make_agent(csms, stationId=sid)
    assert a.station == sid
    wait_booted(csms, a)
    assert csms.station(sid) is not None
