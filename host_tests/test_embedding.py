"""Embedding in a charger's firmware (DG17): the firmware runs the agent as a task of
its own asyncio loop (main.embed) and tells it connector states and sessions through
the API in lib/charger.py; intrusive tests and tests whose allowedStates exclude the
current state are refused with the reason. host_tests/embed_station.py is that
firmware in miniature: the test asks it to call the API over a loopback socket."""
import json
import os
import socket
import subprocess
import time

import pytest

from conftest import HEAP, MICROPYTHON, ROOT, AgentProc, base_config, collect, gv, sv, wait_booted
from diag_helpers import results, start, wait_status
from net_peers import free_port

EMBED = os.path.join(ROOT, "host_tests", "embed_station.py")
CHARGER_TESTS = os.path.join(ROOT, "host_tests", "charger_tests")


class EmbeddedAgent(AgentProc):
    """The agent inside embed_station.py instead of main.py; .api(line) calls the API."""

    def start(self):
        with open(self.cfg_path, "w") as f:
            json.dump(self.cfg, f)
        self.port = free_port()
        self.log_path = os.path.join(self.workdir, "embed-%d.log" % time.monotonic_ns())
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [MICROPYTHON, "-X", "heapsize=" + self.heap, EMBED, self.build_dir, self.cfg_path,
             str(self.port), CHARGER_TESTS],
            stdin=subprocess.PIPE, stdout=self._log, stderr=subprocess.STDOUT, cwd=self.workdir)
        self.wait_log("embed: control on port")  # a failure here: the caller kills it
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        self.rx = self.sock.makefile("rb")
        return self

    def api(self, line):
        """-> (True, value) or (False, error text)."""
        self.sock.sendall(line.encode() + b"\n")
        reply = self.rx.readline().decode().rstrip("\n")
        assert reply.startswith(("ok ", "error ")), reply
        if reply.startswith("ok "):
            return True, json.loads(reply[3:])
        return False, reply[6:]

    def ok(self, line):
        done, value = self.api(line)
        assert done, (line, value)
        return value

    def refused(self, line):
        done, text = self.api(line)
        assert not done, (line, text)
        return text

    def stop(self, sig=None, timeout=10):
        sock = getattr(self, "sock", None)
        if sock is not None:
            sock.close()
        return super().stop(sig, timeout)

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            super().kill()


@pytest.fixture
def embedded(csms, build_dir, tmp_path):
    a = EmbeddedAgent(build_dir, base_config(csms.url, str(tmp_path), stationId="CHARGER-7"), str(tmp_path),
                      heap=HEAP)
    try:
        a.start()
        wait_booted(csms, a)
    except BaseException:
        a.kill()  # never leave it running behind a failed start
        raise
    yield a
    assert a.stop() == 0
    text = a.log()
    assert "embed: agent ended: stop" in text
    assert "Traceback" not in text and "MemoryError" not in text, text[-3000:]


# An intrusive test runs only for a request that names who asked (DG14).
WHO = "Technikerin Zoë"


def _refusal(csms, station, req_id, test):
    res = start(csms, station, req_id, (test,), requestor=WHO)
    assert res["status"] == "Rejected", res
    return res["statusInfo"]["reasonCode"], res["statusInfo"]["additionalInfo"]


def _passes(csms, station, req_id, test, params=None):
    assert start(csms, station, req_id, (test, params or {}), requestor=WHO)["status"] == "Accepted"
    (r,) = results(csms, station, 1, pred=lambda r: r.get("requestId") == req_id)
    assert r["testId"] == test and r["verdict"] == "Passed", r
    return r


@pytest.mark.req("DG17.FR.01", "DG17.FR.02", "DG17.FR.03", "DG17.FR.04")
def test_connector_states_from_the_charger_refuse_intrusive_and_state_bound_tests(csms, embedded):
    a, st = embedded, embedded.station
    assert a.ok("register contactor") == "contactor" and a.ok("register standby") == "standby"
    # Both built-in and charger tests are offered; intrusive and allowedStates as declared.
    assert csms.call(st, "GetDiagnosticsCatalog", {"requestId": 1, "testId": ["contactor", "standby"]}
                     )["status"] == "Accepted"
    cat = {t["testId"]: t for p in collect(csms, st, "NotifyDiagnosticsCatalog", 1) for t in p["test"]}
    assert cat["contactor"]["constraints"]["intrusive"] is True
    assert cat["standby"]["constraints"]["allowedStates"] == ["Available"]
    # Every connector Available, no session: both run.
    _passes(csms, st, 2, "contactor")
    _passes(csms, st, 3, "standby")

    # A car plugs in on EVSE 2: the CSMS hears it, intrusive and state-bound tests are refused.
    n = len(csms.messages())
    assert a.ok("set 2 1 Occupied") is None
    rec = csms.wait_for("StatusNotification", station=st, after=n)
    assert (rec["payload"]["evseId"], rec["payload"]["connectorId"], rec["payload"]["connectorStatus"]) == \
        (2, 1, "Occupied")
    assert a.ok("connector 2 1") == "Occupied"
    assert gv(csms, st, ({"name": "Connector", "evse": {"id": 2, "connectorId": 1}}, "AvailabilityState")
              )[0]["attributeValue"] == "Occupied"
    code, info = _refusal(csms, st, 4, "contactor")
    assert code == "StateNotAllowed" and "contactor" in info and "2/1 is Occupied" in info
    code, info = _refusal(csms, st, 5, "standby")
    assert code == "StateNotAllowed" and "2/1 is Occupied" in info
    # A test with no constraint on states still runs.
    _passes(csms, st, 6, "memory")
    # Faulted is a state intrusive tests accept (no car to disturb), standby does not.
    a.ok("set 2 1 Faulted")
    _passes(csms, st, 7, "contactor")
    assert _refusal(csms, st, 8, "standby")[0] == "StateNotAllowed"

    # Back to Available, but a session starts (e.g. plug-and-charge on a connector the
    # firmware has not reported yet): intrusive tests are refused, others are not.
    a.ok("set 2 1 Available")
    a.ok("session on 1")
    code, info = _refusal(csms, st, 9, "contactor")
    assert code == "SessionActive" and "contactor" in info and "session" in info
    _passes(csms, st, 10, "standby")
    # Runs the station starts itself never run an intrusive test (DG14: no accountable
    # requestor): a trigger is refused, a schedule's run ends in Skipped with the reason.
    n = len(csms.messages())
    res = csms.call(st, "TriggerMessage", {"requestedMessage": "CustomTrigger", "customTrigger": "contactor"})
    assert res["status"] == "Rejected", res
    assert sv(csms, st, {"name": "DiagnosticTest", "instance": "contactor"}, "Interval", "1"
              )["attributeStatus"] == "Accepted"
    (r,) = results(csms, st, 1, after=n)
    assert sv(csms, st, {"name": "DiagnosticTest", "instance": "contactor"}, "Interval", "0"
              )["attributeStatus"] == "Accepted"
    assert (r["testId"], r["trigger"], r["verdict"]) == ("contactor", "Scheduled", "Skipped"), r
    assert r["statusInfo"]["reasonCode"] in ("IntrusiveNotAllowed", "SessionActive"), r
    a.ok("session off 1")
    _passes(csms, st, 11, "contactor")
    # A session on the station as a whole, ended as a whole.
    a.ok("session on")
    assert _refusal(csms, st, 12, "contactor")[0] == "SessionActive"
    a.ok("session off")
    _passes(csms, st, 13, "contactor")


@pytest.mark.req("DG17.FR.05")
def test_bad_api_calls_are_refused_and_the_agent_keeps_serving(csms, embedded):
    a, st = embedded, embedded.station
    assert "no connector 1 on EVSE 9" in a.refused("set 9 1 Occupied")
    assert "no connector 3 on EVSE 2" in a.refused("set 2 3 Occupied")
    # OCPP 1.6 words are named with the 2.x one to use.
    text = a.refused("set 1 1 Charging")
    assert "'Charging' is not one of Available, Occupied" in text and "Occupied" in text
    assert "is not one of" in a.refused("set 1 1 Occupé")
    assert "True or False" in a.refused("session maybe")
    assert "no EVSE 7" in a.refused("session on 7")
    assert a.ok("connector 1 1") == "Available"
    # Nothing was sent for the refused calls; the station still answers.
    assert [r["payload"]["connectorStatus"] for r in csms.messages(station=st, action="StatusNotification")] \
        == ["Available"] * 3
    assert gv(csms, st, ("ChargingStation", "Model"))[0]["attributeValue"] == "ADX-1"


@pytest.mark.req("DG17.FR.06", "DG17.FR.07")
def test_registered_tests_are_checked_like_built_in_ones(csms, embedded):
    a, st = embedded, embedded.station
    text = a.refused("register typo")
    assert text.startswith("ValueError: test module typo: parameter minKOhm: dataType 'int' is not one of")
    assert "reserved" in a.refused("register standby HealthCheck")
    assert "already offered" in a.refused("register standby memory")
    assert "already offered" in a.refused("register typo")
    assert a.ok("register standby Standby-Prüfung") == "Standby-Prüfung"
    # The bad one is left out of the catalog and shown with its reason; the rest stays.
    assert csms.call(st, "GetDiagnosticsCatalog", {"requestId": 1})["status"] == "Accepted"
    ids = [t["testId"] for p in collect(csms, st, "NotifyDiagnosticsCatalog", 1) for t in p["test"]]
    assert "Standby-Prüfung" in ids and "memory" in ids and "typo" not in ids
    res = gv(csms, st, ({"name": "DiagnosticTest", "instance": "typo"}, "Problem"),
             ({"name": "DiagnosticTest", "instance": "typo"}, "Description"),
             ({"name": "DiagnosticTest", "instance": "Standby-Prüfung"}, "Problem"),
             ({"name": "DiagnosticTest", "instance": "Standby-Prüfung"}, "TestType"))
    assert [r["attributeValue"] for r in res] == [
        "true", res[1]["attributeValue"], "false", "SelfTest"]
    assert res[1]["attributeValue"].startswith("left out: parameter minKOhm: dataType 'int'")
    assert _refusal(csms, st, 2, "typo")[0] == "UnknownTest"
    r = _passes(csms, st, 3, "Standby-Prüfung")
    assert r["measurement"][0]["name"] == "standbyPower"
    assert "test module typo left out" in a.log()


@pytest.mark.req("DG17.FR.08", "DG17.FR.11")
def test_last_health_and_no_energy_transfer_during_an_intrusive_test(csms, embedded):
    a, st = embedded, embedded.station
    assert a.ok("health") is None
    r = _passes(csms, st, 1, "health")
    h = a.ok("health")
    assert h == {"health": r["healthStatus"], "verdict": "Passed", "time": r["endTime"], "testId": "health",
                 "resultId": r["resultId"]}
    assert h["health"] == "Healthy"
    # While the intrusive contactor test holds the contactor open, the firmware is told
    # not to start energy transfer.
    a.ok("register contactor")
    assert a.ok("may_charge") is True
    assert start(csms, st, 2, ("contactor", {"holdMs": 3000}), requestor=WHO)["status"] == "Accepted"
    wait_status(csms, st, 2, "Running")
    deadline = time.monotonic() + 10
    while a.ok("may_charge"):
        assert time.monotonic() < deadline, "contactor test never seen running"
        time.sleep(0.05)
    (r,) = results(csms, st, 1, pred=lambda r: r.get("requestId") == 2)
    assert r["verdict"] == "Passed" and "energy transfer allowed while open: False" in r["evidence"]
    assert a.ok("may_charge") is True


START_ERRORS = """
import asyncio, sys
sys.path.insert(0, sys.argv[1])
import main

async def firmware():
    # A bad configuration, then a directory another station owns: the firmware gets an
    # exception it can handle, never a process exit.
    for cfg in ({"csmsUrl": "http://x", "stationId": "S", "vendor": "V", "model": "M"},
                {"csmsUrl": "ws://127.0.0.1:1", "stationId": "Zoë", "vendor": "V", "model": "M",
                 "dataDir": sys.argv[2]}):
        try:
            main.embed(cfg)
            print("started")
        except Exception as e:
            print("refused:", type(e).__name__, e)
    print("firmware still running")

asyncio.run(firmware())
"""


@pytest.mark.req("DG17.FR.10")
def test_embedded_start_errors_reach_the_firmware_and_reset_ends_only_the_agent(csms, build_dir, tmp_path):
    owned = tmp_path / "owned"
    owned.mkdir()
    (owned / "owner").write_bytes("CS-Ω".encode())
    script = tmp_path / "start_errors.py"
    script.write_text(START_ERRORS, encoding="utf-8")
    r = subprocess.run([MICROPYTHON, str(script), build_dir, str(owned)], capture_output=True, text=True,
                       timeout=30, cwd=str(tmp_path))
    lines = r.stdout.splitlines()
    assert r.returncode == 0 and lines[-1] == "firmware still running", r.stdout + r.stderr
    assert lines[0] == "refused: ConfigError 'csmsUrl' must start with ws:// or wss://"
    assert lines[1].startswith("refused: Owned dataDir %s belongs to station 'CS-Ω', not 'Zoë'" % owned)
    assert (owned / "owner").read_bytes() == "CS-Ω".encode() and os.listdir(owned) == ["owner"]

    # A CSMS Reset ends the agent's task; on the unix port without on_reset the
    # firmware's loop goes on (embed_station.py then ends by itself).
    a = EmbeddedAgent(build_dir, base_config(csms.url, str(tmp_path), stationId="CHARGER-8"), str(tmp_path))
    try:
        a.start()
        wait_booted(csms, a)
        assert csms.call(a.station, "Reset", {"type": "Immediate"})["status"] == "Accepted"
        a.wait_log("embed: agent ended: reset")
        assert a.exit_code() == 0
    finally:
        a.stop()
    assert "Traceback" not in a.log()
