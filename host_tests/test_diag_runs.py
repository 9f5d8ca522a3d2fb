"""Running tests on demand: parameters, constraints, verdicts, cancel, timeout,
sequences, and the OCPP connection answering while tests run."""
import time

import pytest

from conftest import gv, sv
from diag_helpers import meas, results, start, statuses, wait_status


@pytest.mark.req("DG02.FR.07", "DG02.FR.08")
def test_memory_test_with_parameters(csms, agent):
    res = start(csms, agent.station, 1, ("memory", {"minFreeBytes": 1000, "minLargestBlock": 512}),
                requestor="operator:alice")
    assert res["status"] == "Accepted"
    (r,) = results(csms, agent.station, 1)
    assert r["verdict"] == "Passed" and r["testId"] == "memory" and r["testType"] == "SelfTest"
    assert r["requestId"] == 1 and r["requestor"] == "operator:alice" and r["trigger"] == "OnDemand"
    assert {p["name"]: p["value"] for p in r["parameter"]} == {"minFreeBytes": 1000, "minLargestBlock": 512}
    m = meas(r)
    assert m["freeHeap"]["unit"] == "B" and m["freeHeap"]["value"] > 1000 and m["freeHeap"]["withinLimit"]
    assert m["largestBlock"]["value"] >= 512 and m["largestBlock"]["limit"] == ">= 512"
    wait_status(csms, agent.station, 1, "Finished")
    assert statuses(csms, agent.station, 1) == ["Running", "Finished"]


@pytest.mark.req("DG02.FR.12")
def test_failed_verdict_raises_event_and_clears(csms, agent):
    start(csms, agent.station, 2, ("memory", {"minFreeBytes": 16777216}))
    (r,) = results(csms, agent.station, 1)
    assert r["verdict"] == "Failed" and "free" in r["evidence"]
    assert not meas(r)["freeHeap"]["withinLimit"]
    ev = csms.wait_for("NotifyEvent", station=agent.station)["payload"]["eventData"][0]
    assert ev["component"] == {"name": "DiagnosticTest", "instance": "memory"}
    assert ev["actualValue"] == "Failed" and ev["severity"] == 4 and not ev.get("cleared")
    n = len(csms.messages())
    start(csms, agent.station, 3, ("memory",))
    (r,) = results(csms, agent.station, 1, after=n)
    assert r["verdict"] == "Passed"
    ev = csms.wait_for("NotifyEvent", station=agent.station, after=n)["payload"]["eventData"][0]
    assert ev["cleared"] is True and ev["actualValue"] == "Passed"
    # The device model shows the last verdict.
    memory = {"name": "DiagnosticTest", "instance": "memory"}
    v = gv(csms, agent.station, (memory, "LastVerdict"), (memory, "LastResultId"))
    assert v[0]["attributeValue"] == "Passed"
    assert v[1]["attributeValue"] == str(r["resultId"])


@pytest.mark.req("DG02.FR.01", "DG02.FR.02", "DG02.FR.03")
@pytest.mark.parametrize("test,code,name", [
    (("memory", {"bogus": 1}), "UnknownParameter", "bogus"),
    (("memory", {"minFreeBytes": "lots"}), "InvalidParameter", "minFreeBytes"),
    (("memory", {"minFreeBytes": 1.5}), "InvalidParameter", "minFreeBytes"),
    (("memory", {"minFreeBytes": -1}), "OutOfRange", "minFreeBytes"),
    (("noop", {"outcome": "Maybe", "durationMs": 0}), "InvalidParameter", "outcome"),
    (("noop", {}), "MissingParameter", "durationMs"),
    (("warp_drive", {}), "UnknownTest", "warp_drive"),
])
def test_bad_parameters_refused_naming_them(csms, agent, test, code, name):
    res = start(csms, agent.station, 10, test)
    assert res["status"] == "Rejected"
    assert res["statusInfo"]["reasonCode"] == code
    assert name in res["statusInfo"]["additionalInfo"]
    assert "test " + test[0] in res["statusInfo"]["additionalInfo"]  # the test, then the parameter
    # Nothing ran.
    assert not csms.messages(station=agent.station, action="NotifyDiagnosticsResult")


@pytest.mark.req("DG02.FR.02", "DG02.FR.03")
def test_min_interval_constraint_refuses(csms, agent):
    assert start(csms, agent.station, 20, ("flash", {"sizeBytes": 1024}))["status"] == "Accepted"
    (r,) = results(csms, agent.station, 1)
    assert r["verdict"] == "Passed" and meas(r)["freeSpace"]["value"] > 0
    res = start(csms, agent.station, 21, ("flash",))
    assert res["status"] == "Rejected" and res["statusInfo"]["reasonCode"] == "MinInterval"
    assert "flash" in res["statusInfo"]["additionalInfo"]


@pytest.mark.req("DG02.FR.10")
def test_later_test_that_may_not_start_is_skipped_and_the_rest_runs(csms, agent):
    # flash has a minimum interval of 5 s: its second run in one request may not start.
    res = start(csms, agent.station, 22, ("flash", {"sizeBytes": 1024}), ("flash",), ("memory",),
                requestor="opérateur:zoë")
    assert res["status"] == "Accepted"
    rs = results(csms, agent.station, 3)
    assert [(r["testId"], r["verdict"]) for r in rs] == [("flash", "Passed"), ("flash", "Skipped"),
                                                        ("memory", "Passed")]
    assert rs[1]["statusInfo"]["reasonCode"] == "MinInterval"
    assert "flash" in rs[1]["statusInfo"]["additionalInfo"]
    assert all(r["requestId"] == 22 and r["requestor"] == "opérateur:zoë" for r in rs)
    wait_status(csms, agent.station, 22, "Finished")


@pytest.mark.req("DG02.FR.02")
def test_concurrency_limit_gives_busy(csms, agent):
    sv(csms, agent.station, "DiagnosticsCtrlr", "MaxConcurrentRuns", "1")
    assert start(csms, agent.station, 30, ("noop", {"durationMs": 1500}))["status"] == "Accepted"
    wait_status(csms, agent.station, 30, "Running")
    res = start(csms, agent.station, 31, ("memory",))
    assert res["status"] == "Busy" and res["statusInfo"]["reasonCode"] == "MaxConcurrent"
    wait_status(csms, agent.station, 30, "Finished")
    assert start(csms, agent.station, 32, ("memory",))["status"] == "Accepted"


@pytest.mark.req("DG02.FR.06")
def test_timeout_gives_timed_out(csms, agent):
    start(csms, agent.station, 40, ("noop", {"durationMs": 10000}))
    (r,) = results(csms, agent.station, 1, timeout=10)
    assert r["verdict"] == "TimedOut" and r["statusInfo"]["reasonCode"] == "Timeout"


@pytest.mark.req("DG02.FR.06")
def test_exception_gives_error_and_agent_stays_up(csms, agent):
    start(csms, agent.station, 41, ("noop", {"durationMs": 0, "outcome": "Error"}))
    (r,) = results(csms, agent.station, 1)
    assert r["verdict"] == "Error" and "requested error" in r["statusInfo"]["additionalInfo"]
    assert start(csms, agent.station, 42, ("memory",))["status"] == "Accepted"
    assert results(csms, agent.station, 2)[1]["verdict"] == "Passed"


@pytest.mark.req("DG02.FR.06")
def test_memory_error_inside_a_test_gives_error(csms, agent):
    start(csms, agent.station, 43, ("noop", {"durationMs": 0, "outcome": "OutOfMemory"}))
    (r,) = results(csms, agent.station, 1)
    assert r["verdict"] == "Error" and r["statusInfo"]["reasonCode"] == "OutOfMemory"
    # The heap came back: the station goes on serving and testing.
    start(csms, agent.station, 44, ("memory",))
    assert results(csms, agent.station, 2)[1]["verdict"] == "Passed"
    assert gv(csms, agent.station, ("ChargingStation", "Model"))


def wait_running(csms, station, tid, timeout=5):
    deadline = time.monotonic() + timeout
    while True:
        v = gv(csms, station, ("DiagnosticsCtrlr", "RunningTests"))
        if tid in v[0]["attributeValue"].split(","):
            return
        assert time.monotonic() < deadline, "%s never ran" % tid
        time.sleep(0.02)


@pytest.mark.req("DG03.FR.01", "DG03.FR.02", "DG03.FR.03")
def test_cancel_aborts_running_and_skips_rest(csms, agent):
    start(csms, agent.station, 50, ("noop", {"durationMs": 2500}), ("memory",))
    wait_status(csms, agent.station, 50, "Running")
    # Cancel once the test is under way (a cancel before it starts gives Skipped).
    wait_running(csms, agent.station, "noop")
    assert csms.call(agent.station, "CancelDiagnostics", {"requestId": 50})["status"] == "Accepted"
    a, b = results(csms, agent.station, 2)
    assert (a["testId"], a["verdict"]) == ("noop", "Aborted")
    assert (b["testId"], b["verdict"], b["statusInfo"]["reasonCode"]) == ("memory", "Skipped", "Cancelled")
    wait_status(csms, agent.station, 50, "Cancelled")
    res = csms.call(agent.station, "CancelDiagnostics", {"requestId": 50})
    assert res["status"] == "Rejected"


@pytest.mark.req("DG02.FR.06", "DG02.FR.09", "DG04.FR.03")
def test_sequence_stop_on_failure(csms, agent):
    start(csms, agent.station, 60, ("noop", {"durationMs": 0, "outcome": "Failed"}), ("memory",),
          ("noop", {"durationMs": 0}), stopOnFailure=True)
    rs = results(csms, agent.station, 3)
    assert [(r["testId"], r["verdict"]) for r in rs] == [("noop", "Failed"), ("memory", "Skipped"),
                                                        ("noop", "Skipped")]
    assert rs[1]["statusInfo"]["reasonCode"] == "StopOnFailure"
    ids = [r["resultId"] for r in rs]
    assert len(set(ids)) == 3 and ids == sorted(ids)
    wait_status(csms, agent.station, 60, "Finished")
    # Without stopOnFailure every test runs.
    n = len(csms.messages())
    start(csms, agent.station, 61, ("noop", {"durationMs": 0, "outcome": "Failed"}), ("memory",))
    assert [r["verdict"] for r in results(csms, agent.station, 2, after=n)] == ["Failed", "Passed"]


@pytest.mark.req("DG02.FR.11")
def test_ocpp_keeps_answering_while_tests_run(csms, agent):
    start(csms, agent.station, 70, ("noop", {"durationMs": 2000}), ("flash", {"sizeBytes": 65536}))
    wait_status(csms, agent.station, 70, "Running")
    worst = 0
    for _ in range(20):
        t0 = time.perf_counter()
        r = gv(csms, agent.station, ("ChargingStation", "Model"))
        worst = max(worst, time.perf_counter() - t0)
        assert r[0]["attributeValue"] == "ADX-1"
    # Answered while the run was still going on.
    assert "Finished" not in statuses(csms, agent.station, 70)
    assert worst < 1.0
    assert [r["verdict"] for r in results(csms, agent.station, 2)] == ["Passed", "Passed"]
