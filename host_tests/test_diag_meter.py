"""The energy meter self test (lib/diag/tests/meter.py) against a simulated Modbus meter
(pymodbus) on a pty pair or a loopback TCP port: healthy, absent, wrong unit, Modbus
exception, corrupted CRC, implausible value, slow; Modbus TCP; the Meter component."""
import time

import pytest

from conftest import gv, sv, wait_booted
from diag_helpers import meas, results, start, wait_status
from meter_peer import free_port, meter, pty_pair  # noqa: F401 (fixtures)

METER = {"name": "Meter"}


def booted(csms, make_agent, **meter_cfg):
    a = make_agent(csms, meter=meter_cfg)
    wait_booted(csms, a)
    return a


def run_meter(csms, a, req_id, timeout=20, **params):
    assert start(csms, a.station, req_id, ("meter", params))["status"] == "Accepted"
    (r,) = results(csms, a.station, 1, timeout=timeout,
                   pred=lambda r: r.get("requestId") == req_id)
    assert r["testId"] == "meter" and r["testType"] == "SelfTest"
    return r


def values(r):
    return [m for m in r["measurement"] if m["name"] == "value"]


def test_healthy_meter_passes_with_its_value(csms, make_agent, pty_pair, meter):
    agent_end, meter_end = pty_pair
    meter(serial=meter_end)
    a = booted(csms, make_agent, device=agent_end)
    r = run_meter(csms, a, 1)
    assert r["verdict"] == "Passed", r.get("statusInfo")
    (v,) = values(r)
    assert v == {"name": "value", "value": 230.1, "unit": "V", "limit": "180..260", "withinLimit": True}
    m = meas(r)
    assert 0 < m["responseTime"]["value"] <= 500 and m["responseTime"]["withinLimit"]
    assert m["retries"]["value"] == 0 and m["crcErrors"]["value"] == 0 and m["badFrames"]["value"] == 0
    # Read input registers: 8-byte request; answer unit, fc, count, 4 data bytes, CRC.
    assert m["txBytes"]["value"] == 8 and m["rxBytes"]["value"] == 9
    assert "exceptionCode" not in m
    assert "unit 1 answered in" in r["evidence"] and ": 230.1 V within 180..260 V" in r["evidence"]
    # Defaults are in the result as run.
    ps = {p["name"]: p["value"] for p in r["parameter"]}
    assert ps["function"] == "input" and ps["decoding"] == "float32" and ps["register"] == 0


def test_absent_meter_fails_after_retries(csms, make_agent, pty_pair):
    agent_end, _ = pty_pair  # nothing listens on the other end
    a = booted(csms, make_agent, device=agent_end)
    t0 = time.monotonic()
    r = run_meter(csms, a, 2, timeoutMs=200, retries=2)
    assert r["verdict"] == "Failed"
    assert r["statusInfo"]["reasonCode"] == "NoAnswer"
    assert "no answer from unit 1 after 3 tries" in r["evidence"]
    m = meas(r)
    assert m["retries"]["value"] == 2 and m["txBytes"]["value"] == 24 and m["rxBytes"]["value"] == 0
    assert "responseTime" not in m and "value" not in m
    assert time.monotonic() - t0 >= 0.6  # three timeouts of 200 ms


def test_wrong_unit_id_set_through_device_model_gets_silence(csms, make_agent, pty_pair, meter):
    agent_end, meter_end = pty_pair
    meter(serial=meter_end, unit=1)
    a = booted(csms, make_agent, device=agent_end)
    assert sv(csms, a.station, METER, "UnitId", "7")["attributeStatus"] == "Accepted"
    assert gv(csms, a.station, (METER, "UnitId"))[0]["attributeValue"] == "7"
    r = run_meter(csms, a, 3, timeoutMs=150, retries=1)
    assert r["verdict"] == "Failed" and r["statusInfo"]["reasonCode"] == "NoAnswer"
    assert "no answer from unit 7 after 2 tries" in r["evidence"]
    # A run parameter overrides the device model.
    r = run_meter(csms, a, 4, unitId=1)
    assert r["verdict"] == "Passed" and "unit 1 answered" in r["evidence"]


def test_modbus_exception_is_named(csms, make_agent, pty_pair, meter):
    agent_end, meter_end = pty_pair
    meter(serial=meter_end)
    a = booted(csms, make_agent, device=agent_end)
    r = run_meter(csms, a, 5, register=100)
    assert r["verdict"] == "Failed" and r["statusInfo"]["reasonCode"] == "ModbusException"
    assert "exception 2 (illegal data address)" in r["evidence"]
    assert "input register 100" in r["evidence"]
    m = meas(r)
    assert m["exceptionCode"]["value"] == 2
    assert m["rxBytes"]["value"] == 5 and m["retries"]["value"] == 0  # an exception is not retried


def test_corrupted_crc_is_rejected_counted_and_retried(csms, make_agent, pty_pair, meter):
    agent_end, meter_end = pty_pair
    meter(serial=meter_end, corrupt=1)
    a = booted(csms, make_agent, device=agent_end)
    r = run_meter(csms, a, 6)
    assert r["verdict"] == "Passed", r.get("statusInfo")
    m = meas(r)
    assert m["crcErrors"]["value"] == 1 and m["retries"]["value"] == 1
    assert m["txBytes"]["value"] == 16 and m["rxBytes"]["value"] == 18
    assert values(r)[0]["value"] == 230.1


def test_crc_errors_on_every_try_fail(csms, make_agent, pty_pair, meter):
    agent_end, meter_end = pty_pair
    meter(serial=meter_end, corrupt=99)
    a = booted(csms, make_agent, device=agent_end)
    r = run_meter(csms, a, 7, retries=2)
    assert r["verdict"] == "Failed" and r["statusInfo"]["reasonCode"] == "BadCrc"
    assert "no usable answer from unit 1 after 3 tries" in r["evidence"]
    assert "bad CRC (3 frames)" in r["evidence"]
    assert meas(r)["crcErrors"]["value"] == 3


def test_value_out_of_range_fails_naming_value_and_range(csms, make_agent, pty_pair, meter):
    agent_end, meter_end = pty_pair
    meter(serial=meter_end, value=412.5)
    a = booted(csms, make_agent, device=agent_end)
    r = run_meter(csms, a, 8)
    assert r["verdict"] == "Failed" and r["statusInfo"]["reasonCode"] == "OutOfRange"
    assert "value 412.5 V outside 180..260 V" in r["evidence"]
    (v,) = values(r)
    assert v["value"] == 412.5 and v["withinLimit"] is False
    # The same answer with limits that fit it (a 400 V three-phase line voltage), and
    # several values decoded from one read: V, A, W, Hz with their own (wide) range.
    r = run_meter(csms, a, 9, minValue=380, maxValue=440)
    assert r["verdict"] == "Passed"
    r = run_meter(csms, a, 10, count=8, minValue=0, maxValue=2000, unit="mixed")
    assert r["verdict"] == "Passed" and [v["value"] for v in values(r)] == [412.5, 5, 1150, 50]
    assert meas(r)["rxBytes"]["value"] == 5 + 16


@pytest.mark.req("DG02.FR.11")
def test_slow_meter_within_timeout_passes_and_ocpp_keeps_answering(csms, make_agent, pty_pair, meter):
    agent_end, meter_end = pty_pair
    meter(serial=meter_end, delay_ms=1500)
    a = booted(csms, make_agent, device=agent_end)
    assert start(csms, a.station, 11, ("meter", {"timeoutMs": 3000}))["status"] == "Accepted"
    wait_status(csms, a.station, 11, "Running")
    worst = 0
    running = 0
    for _ in range(10):
        t0 = time.perf_counter()
        v = gv(csms, a.station, ("ChargingStation", "Model"), ("DiagnosticsCtrlr", "RunningTests"))
        worst = max(worst, time.perf_counter() - t0)
        assert v[0]["attributeValue"] == "ADX-1"
        running += v[1]["attributeValue"] == "meter"
        time.sleep(0.05)
    assert running >= 5 and worst < 1.0  # answered while the meter read was under way
    # The meter is one shared bus: a second read waits its turn.
    res = start(csms, a.station, 12, ("meter",))
    assert res["status"] == "Busy" and res["statusInfo"]["reasonCode"] == "ResourceBusy"
    (r,) = results(csms, a.station, 1, pred=lambda r: r.get("requestId") == 11)
    assert r["verdict"] == "Passed", r.get("statusInfo")
    rt = meas(r)["responseTime"]
    assert 1500 <= rt["value"] <= 2500 and rt["limit"] == "<= 3000" and rt["withinLimit"]


@pytest.mark.req("DG03.FR.04")
def test_cancel_during_a_read_closes_the_port(csms, make_agent, pty_pair, meter):
    agent_end, meter_end = pty_pair
    meter(serial=meter_end, delay_ms=2000)
    a = booted(csms, make_agent, device=agent_end)
    start(csms, a.station, 13, ("meter", {"timeoutMs": 5000}))
    wait_status(csms, a.station, 13, "Running")
    time.sleep(0.3)
    assert csms.call(a.station, "CancelDiagnostics", {"requestId": 13})["status"] == "Accepted"
    (r,) = results(csms, a.station, 1, pred=lambda r: r.get("requestId") == 13)
    assert r["verdict"] == "Aborted"
    # The port was released: the next read works (the late answer is discarded).
    time.sleep(2)
    r = run_meter(csms, a, 14, timeoutMs=3000)
    assert r["verdict"] == "Passed", r.get("statusInfo")


def test_modbus_tcp_healthy(csms, make_agent, meter):
    port = free_port()
    meter(tcp=port)
    a = booted(csms, make_agent, transport="tcp", host="127.0.0.1", port=port)
    r = run_meter(csms, a, 15)
    assert r["verdict"] == "Passed", r.get("statusInfo")
    assert values(r)[0]["value"] == 230.1
    m = meas(r)
    # MBAP header (7) + PDU (5) out; MBAP + function, count, 4 bytes back.
    assert m["txBytes"]["value"] == 12 and m["rxBytes"]["value"] == 13 and m["crcErrors"]["value"] == 0
    assert "unit 1 at 127.0.0.1:%d answered" % port in r["evidence"]
    # Modbus exceptions come through TCP as well.
    r = run_meter(csms, a, 16, register=100)
    assert r["verdict"] == "Failed" and "exception 2 (illegal data address)" in r["evidence"]


def test_modbus_tcp_refused(csms, make_agent):
    port = free_port()  # nobody listens
    a = booted(csms, make_agent)  # RTU in the config; the run asks for TCP
    r = run_meter(csms, a, 17, transport="tcp", host="127.0.0.1", port=port, retries=1)
    assert r["verdict"] == "Failed" and r["statusInfo"]["reasonCode"] == "NoConnection"
    assert "no answer from unit 1 at 127.0.0.1:%d after 2 tries" % port in r["evidence"]
    assert "cannot connect to 127.0.0.1:%d" % port in r["evidence"] and "111" in r["evidence"]  # ECONNREFUSED
    assert meas(r)["txBytes"]["value"] == 0


def test_setup_problems_give_error_with_the_reason(csms, make_agent, tmp_path):
    # A regular file is not a serial line: refused before anything is written to it.
    f = tmp_path / "not-a-tty"
    f.write_bytes(b"keep")
    a = booted(csms, make_agent, device=str(f))
    r = run_meter(csms, a, 18)
    assert r["verdict"] == "Error" and r["statusInfo"]["reasonCode"] == "PortError"
    assert "not-a-tty" in r["statusInfo"]["additionalInfo"]
    assert f.read_bytes() == b"keep"
    # A device that is not there (unplugged USB adapter).
    assert sv(csms, a.station, METER, "Device", "/dev/ttyNOPE0")["attributeStatus"] == "Accepted"
    r = run_meter(csms, a, 19)
    assert r["verdict"] == "Error" and r["statusInfo"]["reasonCode"] == "PortError"
    assert "/dev/ttyNOPE0" in r["statusInfo"]["additionalInfo"]
    # Parameters the descriptor cannot express, checked by the test itself.
    r = run_meter(csms, a, 20, count=3)
    assert r["verdict"] == "Error" and r["statusInfo"]["reasonCode"] == "BadParameter"
    assert "multiple of 2" in r["statusInfo"]["additionalInfo"]


def test_no_meter_configured(csms, make_agent):
    a = make_agent(csms)
    wait_booted(csms, a)
    r = run_meter(csms, a, 23)
    # Not applicable rather than broken: the health check does not count it as failed.
    assert r["verdict"] == "Skipped" and r["statusInfo"]["reasonCode"] == "NotConfigured"
    assert "meter.device" in r["statusInfo"]["additionalInfo"]
    r = run_meter(csms, a, 24, transport="tcp")
    assert r["verdict"] == "Skipped" and "Meter.Host" in r["statusInfo"]["additionalInfo"]
    assert gv(csms, a.station, (METER, "UnitId"))[0]["attributeStatus"] == "UnknownComponent"


def test_meter_component_read_write_and_persisted(csms, make_agent, pty_pair):
    agent_end, _ = pty_pair
    a = booted(csms, make_agent, device=agent_end, unitId=3)
    got = gv(csms, a.station, (METER, "Transport"), (METER, "Device"), (METER, "UnitId"), (METER, "Baud"),
             (METER, "Parity"), (METER, "StopBits"), (METER, "Port"))
    assert [g["attributeValue"] for g in got] == ["rtu", agent_end, "3", "9600", "N", "1", "502"]
    ok = [("Baud", "19200"), ("Parity", "E"), ("Device", "/dev/ttyUSB1"), ("Host", "192.0.2.7")]
    for var, val in ok:
        assert sv(csms, a.station, METER, var, val)["attributeStatus"] == "Accepted", var
    bad = [("Baud", "12345", "ValueNotInList"), ("Baud", "fast", "InvalidValue"),
           ("UnitId", "248", "ValueOutOfRange"), ("Parity", "X", "ValueNotInList"),
           ("Host", "mètre.example", "InvalidValue"), ("Device", "/dev/ttyÜSB0", "InvalidValue"),
           ("Device", "/dev/../etc/passwd", "InvalidValue"), ("Transport", "udp", "ValueNotInList"),
           ("Device", "日本語", "InvalidValue")]
    for var, val, why in bad:
        res = sv(csms, a.station, METER, var, val)
        assert res["attributeStatus"] == "Rejected" and res["attributeStatusInfo"]["reasonCode"] == why, \
            (var, val, res)
    # Written values survive a restart; refused ones left nothing behind.
    a.stop()
    n = len(csms.messages())
    a.start()
    wait_booted(csms, a, after=n)
    got = gv(csms, a.station, (METER, "Baud"), (METER, "Parity"), (METER, "Device"), (METER, "Host"),
             (METER, "UnitId"))
    assert [g["attributeValue"] for g in got] == ["19200", "E", "/dev/ttyUSB1", "192.0.2.7", "3"]


@pytest.mark.req("DG01.FR.02")
def test_catalog_describes_the_meter_test(csms, make_agent, pty_pair):
    from conftest import collect
    a = booted(csms, make_agent, device=pty_pair[0])
    assert csms.call(a.station, "GetDiagnosticsCatalog", {"requestId": 21, "testId": ["meter"]})[
        "status"] == "Accepted"
    (t,) = [t for p in collect(csms, a.station, "NotifyDiagnosticsCatalog", 21) for t in p["test"]]
    assert t["testId"] == "meter" and t["constraints"]["exclusiveResources"] == ["meter"]
    ps = {p["name"]: p for p in t["parameter"]}
    assert ps["transport"]["allowedValues"] == ["rtu", "tcp"] and "defaultValue" not in ps["transport"]
    assert "Meter component" in ps["unitId"]["description"]
    assert ps["decoding"]["defaultValue"] == "float32" and ps["function"]["defaultValue"] == "input"
    assert (ps["minValue"]["defaultValue"], ps["maxValue"]["defaultValue"]) == (180, 260)
    names = {m["name"] for m in t["expectedOutcome"]["measurement"]}
    assert names >= {"responseTime", "retries", "crcErrors", "exceptionCode", "txBytes", "rxBytes", "value"}
    # Parameters the descriptor refuses never start a run.
    res = start(csms, a.station, 22, ("meter", {"parity": "M"}))
    assert res["status"] == "Rejected" and "parity" in res["statusInfo"]["additionalInfo"]


def test_meter_config_mistakes_stop_the_agent_with_one_line(tmp_path):
    import json
    import os
    import subprocess
    from conftest import MICROPYTHON, ROOT
    base = {"csmsUrl": "ws://127.0.0.1:1", "stationId": "S", "vendor": "V", "model": "M"}
    cases = [("/dev/ttyUSB0", "'meter' must be an object"),
             ({"parity": "X"}, "'meter.parity' must be one of N, E, O"),
             ({"baud": 12345}, "'meter.baud' must be one of 1200"),
             ({"unitId": 0}, "'meter.unitId' must be an integer 1..247"),
             ({"de": "4"}, "'meter.de' must be an integer"),
             ({"transport": "udp"}, "'meter.transport' must be one of rtu, tcp"),
             ({"device": ""}, "'meter.device' must be a string"),
             ({"devcie": "/dev/ttyUSB0"}, "'meter.devcie' is not a meter setting")]
    for i, (m, expect) in enumerate(cases):
        p = tmp_path / ("c%d.json" % i)
        p.write_text(json.dumps(dict(base, meter=m)))
        r = subprocess.run([MICROPYTHON, os.path.join(ROOT, "main.py"), str(p)], capture_output=True,
                           text=True, timeout=20, cwd=str(tmp_path))
        out = (r.stdout + r.stderr).strip()
        assert r.returncode == 2 and len(out.splitlines()) == 1 and out.startswith("config error:"), out
        assert expect in out, (expect, out)
