"""Helpers for the diagnostics host tests."""
import os
import re

from conftest import ROOT, result_checksum, sv, wait_booted


def offered(lib=None):
    """testId -> TYPE of every module in lib/diag/tests/ (what the registry lists), read
    from the sources so that tests follow the set of modules instead of hard-coding it.
    lib: another source tree's lib/ (test_adding_a_test.py adds a module to a copy)."""
    d = os.path.join(lib or os.path.join(ROOT, "lib"), "diag", "tests")
    out = {}
    for n in sorted(os.listdir(d)):
        if n.endswith(".py") and not n.startswith("_"):
            with open(os.path.join(d, n), encoding="utf-8") as f:
                out[n[:-3]] = re.search(r'^TYPE = "(\w+)"', f.read(), re.M).group(1)
    return out


def start(csms, station, req_id, *tests, **kw):
    body = {"requestId": req_id, "test": [
        {"testId": t[0], **({"parameter": [{"name": k, "value": v} for k, v in t[1].items()]}
                            if len(t) > 1 and t[1] else {})} for t in tests]}
    body.update(kw)
    return csms.call(station, "StartDiagnostics", body)


def results(csms, station, n, after=0, timeout=20, action="NotifyDiagnosticsResult", pred=None):
    """The next n results (checksums verified), in arrival order."""
    out = []
    while len(out) < n:
        rec = csms.wait_for(action, station=station, after=after, timeout=timeout,
                            predicate=(lambda r: pred(r["payload"]["result"])) if pred else None)
        after = rec["index"] + 1
        r = rec["payload"]["result"]
        assert r["checksum"] == result_checksum(r), r
        out.append(r)
    return out


def statuses(csms, station, req_id):
    return [r["payload"]["status"] for r in csms.messages(station=station, action="NotifyDiagnosticsStatus")
            if r["payload"]["requestId"] == req_id]


def wait_status(csms, station, req_id, status, timeout=15):
    return csms.wait_for("NotifyDiagnosticsStatus", station=station, timeout=timeout,
                         predicate=lambda r: r["payload"]["requestId"] == req_id
                         and r["payload"]["status"] == status)


def meas(result):
    return {m["name"]: m for m in result.get("measurement", [])}


def offline_startup_result(csms, make_agent, tid):
    """The result of test `tid` run at start-up before the station is connected
    (StartupTiming BeforeBoot, set on a first start; the run is on the second)."""
    a = make_agent(csms, startupTests=tid)
    wait_booted(csms, a)
    sv(csms, a.station, "DiagnosticsCtrlr", "StartupTiming", "BeforeBoot")
    a.stop()
    n = len(csms.messages())
    a.start()
    (r,) = results(csms, a.station, 1, after=n)
    return a, r
