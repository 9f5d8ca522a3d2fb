"""The on-station reflex (SPEC DG20), on the live agent: configured through the
device model (DiagnosticsCtrlr.ReflexOnDegraded, ReflexMinIntervalS), a health
check that is not Healthy starts the listed tests once, in one run with requestor
"station:reflex", reported like any run; again within the interval (even after a
reboot) it does not; an unknown or intrusive test id is refused at SetVariables."""
import os
import shutil

import pytest

from conftest import gv, sv, wait_booted
from diag_helpers import results, start

REFLEX = "station:reflex"
RECAL = '''
TYPE = "SelfTest"
VERSION = "0.9"
DESCRIPTION = "Fixture: an intrusive calibration"
PARAMS = ()
CONSTRAINTS = (None, True, (), 10, 0, False)
MEASURES = ()
VERDICTS = ("Passed",)
OUTCOME = "Passed"
COST = (0, 0, 0, "None")


async def run(ctx):
    return "Passed"
'''


@pytest.fixture(scope="module")
def build_dir(build_dir, tmp_path_factory):
    """The session's build plus an intrusive fixture test (as source)."""
    out = str(tmp_path_factory.mktemp("build-reflex"))
    shutil.copytree(build_dir, out, dirs_exist_ok=True)
    with open(os.path.join(out, "lib", "diag", "tests", "recal.py"), "w", encoding="utf-8") as f:
        f.write(RECAL)
    for gen in ("builtin.mpy", "builtin.py"):  # offer what lib/diag/tests holds
        if os.path.exists(os.path.join(out, "lib", "diag", gen)):
            os.remove(os.path.join(out, "lib", "diag", gen))
    return out


def _one(csms, station, req_id, test, params=None):
    assert start(csms, station, req_id, (test, params or {}))["status"] == "Accepted"
    (r,) = results(csms, station, 1, timeout=60, pred=lambda x: x.get("requestId") == req_id)
    return r


def _reflexes(csms, station):
    """Result ids of reflex runs (a result repeated after a reconnect counts once)."""
    return {m["payload"]["result"]["resultId"] for m in csms.messages(
        station=station, action="NotifyDiagnosticsResult")
        if m["payload"]["result"]["requestor"] == REFLEX}


def _ctrlr(csms, station, var):
    (v,) = gv(csms, station, ("DiagnosticsCtrlr", var))
    return v.get("attributeValue")


@pytest.mark.req("DG20.FR.01", "DG20.FR.02", "DG20.FR.03", "DG20.FR.04")
def test_reflex_runs_the_listed_tests_once_per_interval_across_a_reboot(csms, make_agent):
    a = make_agent(csms)
    wait_booted(csms, a)
    st = a.station
    assert _ctrlr(csms, st, "ReflexOnDegraded") in ("", None)  # off by default
    assert _ctrlr(csms, st, "ReflexMinIntervalS") == "3600"
    # Refused: an id the station does not offer, an intrusive test (DG14).
    for value, code in (("memory,gibtsnicht", "UnknownTest"), ("memory,recal", "IntrusiveTest"),
                        ("speicher-ü", "UnknownTest")):
        res = sv(csms, st, "DiagnosticsCtrlr", "ReflexOnDegraded", value)
        assert res["attributeStatus"] == "Rejected" and \
            res["attributeStatusInfo"]["reasonCode"] == code, (value, res)
    assert _ctrlr(csms, st, "ReflexOnDegraded") in ("", None)

    # Off: a bad health verdict starts nothing (the next result id is the next run's).
    h = _one(csms, st, 1, "health", {"minFreeHeap": 16777216})
    assert h["healthStatus"] == "Unhealthy"
    assert _one(csms, st, 2, "noop", {"durationMs": 0})["resultId"] == h["resultId"] + 1

    assert sv(csms, st, "DiagnosticsCtrlr", "ReflexOnDegraded",
              "memory, meter")["attributeStatus"] == "Accepted"
    # Degraded: a self test last failed (memory, against a limit over the heap).
    assert _one(csms, st, 3, "memory", {"minFreeBytes": 16777216})["verdict"] == "Failed"
    h = _one(csms, st, 4, "health")
    assert h["healthStatus"] == "Degraded" and "memory" in h["evidence"]
    got = results(csms, st, 2, timeout=120, pred=lambda x: x["requestor"] == REFLEX)
    assert [r["testId"] for r in got] == ["memory", "meter"]
    assert all(r["trigger"] == "HealthCheck" and "requestId" not in r for r in got)
    assert [r["resultId"] for r in got] == [h["resultId"] + 1, h["resultId"] + 2]
    assert got[0]["verdict"] == "Passed"  # with its default limit the heap suffices

    # Within the interval, after a reboot: a bad health verdict starts nothing.
    a.stop()
    n = len(csms.messages())
    a.start()
    wait_booted(csms, a, after=n)
    h = _one(csms, st, 5, "health", {"minFreeHeap": 16777216})
    assert h["healthStatus"] == "Unhealthy"
    assert _one(csms, st, 6, "noop", {"durationMs": 0})["resultId"] == h["resultId"] + 1
    assert len(_reflexes(csms, st)) == 2

    # The interval is what held it back: at 0 the next bad verdict starts it again.
    # A listed test that cannot start (here: disabled in its DiagnosticTest component)
    # is recorded Skipped with the reason; the others still run.
    assert sv(csms, st, "DiagnosticsCtrlr", "ReflexMinIntervalS", "0")["attributeStatus"] == "Accepted"
    assert sv(csms, st, {"name": "DiagnosticTest", "instance": "meter"}, "Enabled",
              "false")["attributeStatus"] == "Accepted"
    h = _one(csms, st, 7, "health", {"minFreeHeap": 16777216})
    again = results(csms, st, 2, timeout=120,
                    pred=lambda x: x["requestor"] == REFLEX and x["resultId"] > h["resultId"])
    assert [r["testId"] for r in again] == ["memory", "meter"]
    assert again[0]["verdict"] == "Passed"
    assert again[1]["verdict"] == "Skipped" and again[1]["statusInfo"]["reasonCode"] == "TestDisabled", again[1]
    # Off again (empty): nothing more.
    assert sv(csms, st, "DiagnosticsCtrlr", "ReflexOnDegraded", "")["attributeStatus"] == "Accepted"
    h = _one(csms, st, 8, "health", {"minFreeHeap": 16777216})
    assert _one(csms, st, 9, "noop", {"durationMs": 0})["resultId"] == h["resultId"] + 1
    assert len(_reflexes(csms, st)) == 4
