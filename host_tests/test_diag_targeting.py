"""Tests aimed at an EVSE or connector (DG10), the catalog version (DG11), test classes
(DG12), planning figures (DG13), the runtime guards of intrusive tests (DG14), and the
order of results and final status on the wire.

No reference test interrupts charging or runs per connector (the station has one meter
and one flash), so this file adds fixture test modules to a copy of the build: an
intrusive per-connector test, a per-EVSE test, an intrusive station-wide test that
writes flash, a module claiming a class it does not implement, and `plug`, which sets
a connector's state the way the charger firmware does."""
import os
import re
import shutil
import time

import pytest

from conftest import ROOT, collect, gv, result_checksum, sv, wait_booted
from diag_helpers import meas, offered, results, start, wait_status

REQUESTOR = "técnico:zoë/Überprüfung"

FIXTURES = {
    "contactor": '''
TYPE = "IntegrationTest"
VERSION = "0.9"
DESCRIPTION = "Fixture: closes and opens one connector's contactor (Schütz)"
PARAMS = (("durationMs", "integer", "ms", 0, 60000, None, 0, False, "how long the run takes"),)
CONSTRAINTS = (("Available",), True, (), 30, 0, False)
MEASURES = (("durationMs", "ms", None),)
VERDICTS = ("Passed", "Aborted")
OUTCOME = "Passed after durationMs"
SCOPE = "connector"
COST = (0, 0, 0, "None")


async def run(ctx):
    import asyncio
    await asyncio.sleep_ms(ctx.p["durationMs"])
    ctx.measure("durationMs", ctx.p["durationMs"], "ms")
    return "Passed"
''',
    "evsescan": '''
TYPE = "IntegrationTest"
VERSION = "0.9"
DESCRIPTION = "Fixture: a non-intrusive check of one EVSE"
PARAMS = ()
CONSTRAINTS = (("Available", "Unavailable"), False, (), 10, 0, False)
MEASURES = ()
VERDICTS = ("Passed",)
OUTCOME = "Passed"
SCOPE = "evse"
COST = (0, 0, 0, "Local")


async def run(ctx):
    return "Passed"
''',
    "recal": '''
TYPE = "SelfTest"
VERSION = "0.9"
DESCRIPTION = "Fixture: an intrusive station-wide calibration that writes 1000 B of flash"
PARAMS = ()
CONSTRAINTS = (None, True, (), 10, 0, False)
MEASURES = ()
VERDICTS = ("Passed",)
OUTCOME = "Passed"
COST = (0, 1, 1000, "None")


async def run(ctx):
    return "Passed"
''',
    "plug": '''
TYPE = "SelfTest"
VERSION = "0.9"
DESCRIPTION = "Fixture: sets a connector's state as the charger firmware does"
PARAMS = (("evse", "integer", None, 1, 9, None, None, True, None),
          ("connector", "integer", None, 1, 9, None, None, True, None),
          ("status", "enum", None, None, None, ("Available", "Occupied", "Faulted"), None, True, None))
CONSTRAINTS = (None, False, (), 5, 0, False)
MEASURES = ()
VERDICTS = ("Passed",)
OUTCOME = "Passed"


async def run(ctx):
    ctx.agent.set_connector_status(ctx.p["evse"], ctx.p["connector"], ctx.p["status"])
    return "Passed"
''',
    "badclass": '''
TYPE = "SelfTest"
VERSION = "0.9"
DESCRIPTION = "Fixture: claims MemoryHeadroom but measures only free heap"
PARAMS = ()
CONSTRAINTS = (None, False, (), 5, 0, False)
MEASURES = (("freeHeap", "B", None),)
VERDICTS = ("Passed",)
OUTCOME = "Passed"
CLASSES = ("MemoryHeadroom",)


async def run(ctx):
    return "Passed"
''',
}


@pytest.fixture(scope="module")
def build_dir(build_dir, tmp_path_factory):
    """The session's build plus the fixture test modules (as sources: the registry
    lists .py and .mpy alike)."""
    out = str(tmp_path_factory.mktemp("build-targeting"))
    shutil.copytree(build_dir, out, dirs_exist_ok=True)
    for name, src in FIXTURES.items():
        with open(os.path.join(out, "lib", "diag", "tests", name + ".py"), "w", encoding="utf-8") as f:
            f.write(src)
    # A built tree offers exactly its build's list (diag/builtin): without it, the
    # registry offers what lib/diag/tests holds, fixtures included.
    for gen in ("builtin.mpy", "builtin.py"):
        if os.path.exists(os.path.join(out, "lib", "diag", gen)):
            os.remove(os.path.join(out, "lib", "diag", gen))
    return out


def plug(csms, station, req_id, evse, connector, status):
    start(csms, station, req_id, ("plug", {"evse": evse, "connector": connector, "status": status}))
    (r,) = results(csms, station, 1, pred=lambda r: r.get("requestId") == req_id)
    assert r["verdict"] == "Passed"
    csms.wait_for("StatusNotification", station=station,
                  predicate=lambda r: r["payload"]["connectorStatus"] == status
                  and (r["payload"]["evseId"], r["payload"]["connectorId"]) == (evse, connector))


def aimed(csms, station, req_id, tid, evse, requestor=REQUESTOR, **kw):
    return csms.call(station, "StartDiagnostics", {
        "requestId": req_id, "requestor": requestor,
        "test": [dict({"testId": tid}, **({"evse": evse} if evse is not None else {}))], **kw})


def refused(res, code, *words, status="Rejected"):
    assert res["status"] == status and res["statusInfo"]["reasonCode"] == code, res
    for w in words:
        assert w in res["statusInfo"]["additionalInfo"], (w, res)


# ------------------------------------------------------------------ DG10 targeting

@pytest.mark.req("DG10.FR.02", "DG10.FR.06", "DG10.FR.07")
def test_a_targeted_test_is_judged_on_its_connector_and_records_it(csms, agent):
    plug(csms, agent.station, 1, 1, 1, "Occupied")
    # Connector 1/1 is in a session: a test aimed at it may not start...
    refused(aimed(csms, agent.station, 2, "contactor", {"id": 1, "connectorId": 1}), "StateNotAllowed", "1/1")
    # ...one aimed at 2/1 may: the other connectors do not count.
    n = len(csms.messages())
    res = aimed(csms, agent.station, 3, "contactor", {"id": 2, "connectorId": 1})
    assert res["status"] == "Accepted", res
    (r,) = results(csms, agent.station, 1, after=n)
    assert r["verdict"] == "Passed" and r["evse"] == {"id": 2, "connectorId": 1}
    assert r["requestor"] == REQUESTOR and r["checksum"] == result_checksum(r)
    # The target is under the checksum.
    assert result_checksum(dict(r, evse={"id": 2, "connectorId": 2})) != r["checksum"]
    running = wait_status(csms, agent.station, 3, "Running")["payload"]
    assert running["evse"] == {"id": 2, "connectorId": 1} and running["testId"] == "contactor"
    # A per-EVSE test: only EVSE 2's connectors count, and 1/1 is still Occupied.
    refused(aimed(csms, agent.station, 4, "evsescan", {"id": 1}), "StateNotAllowed")
    n = len(csms.messages())
    assert aimed(csms, agent.station, 5, "evsescan", {"id": 2})["status"] == "Accepted"
    (r,) = results(csms, agent.station, 1, after=n)
    assert r["evse"] == {"id": 2} and r["verdict"] == "Passed"
    # A station-wide test's result names no target.
    n = len(csms.messages())
    start(csms, agent.station, 6, ("memory",))
    (r,) = results(csms, agent.station, 1, after=n)
    assert "evse" not in r


@pytest.mark.req("DG10.FR.03", "DG10.FR.04", "DG10.FR.05")
@pytest.mark.parametrize("tid,evse,code,words", [
    ("contactor", None, "TargetRequired", ("contactor", "connectorId")),
    ("contactor", {"id": 2}, "TargetRequired", ("connectorId",)),
    ("contactor", {"id": 3, "connectorId": 1}, "UnknownTarget", ("EVSE 3",)),
    ("contactor", {"id": 2, "connectorId": 3}, "UnknownTarget", ("connector 3",)),
    ("contactor", {"id": 0, "connectorId": 1}, "UnknownTarget", ("EVSE 0",)),
    ("evsescan", None, "TargetRequired", ("evse.id",)),
    ("evsescan", {"id": 1, "connectorId": 1}, "TargetNotAllowed", ("per EVSE",)),
    ("memory", {"id": 1}, "TargetNotAllowed", ("memory", "whole station")),
])
def test_a_wrong_target_is_refused_before_anything_runs(csms, agent, tid, evse, code, words):
    refused(aimed(csms, agent.station, 10, tid, evse), code, *words)
    assert not csms.messages(station=agent.station, action="NotifyDiagnosticsResult")


@pytest.mark.req("DG10.FR.03", "DG10.FR.08")
def test_targets_through_data_transfer_and_in_schedules(csms, agent):
    vid = "org.openchargealliance.diagnostics"
    res = csms.call(agent.station, "DataTransfer", {"vendorId": vid, "messageId": "StartDiagnostics", "data": {
        "requestId": 20, "test": [{"testId": "evsescan"}]}})
    refused(res["data"], "TargetRequired", "evsescan")
    res = csms.call(agent.station, "DataTransfer", {"vendorId": vid, "messageId": "StartDiagnostics", "data": {
        "requestId": 21, "test": [{"testId": "evsescan", "evse": {"id": 1}}]}})
    assert res["data"]["status"] == "Accepted"
    rec = csms.wait_for("DataTransfer", station=agent.station,
                        predicate=lambda r: r["payload"].get("messageId") == "NotifyDiagnosticsResult")
    assert rec["payload"]["data"]["result"]["evse"] == {"id": 1}
    # A schedule keeps the target: each scheduled run is aimed at it.
    n = len(csms.messages())
    assert aimed(csms, agent.station, 22, "evsescan", {"id": 2},
                 schedule={"interval": 1})["status"] == "Accepted"
    (r,) = results(csms, agent.station, 1, after=n, pred=lambda r: r["trigger"] == "Scheduled")
    assert r["testId"] == "evsescan" and r["evse"] == {"id": 2}
    assert aimed(csms, agent.station, 23, "evsescan", {"id": 2}, schedule={"interval": 0})["status"] == "Accepted"


@pytest.mark.req("DG08.FR.06", "DG10.FR.03")
def test_a_custom_trigger_aims_a_test_with_its_evse(csms, agent):
    def trigger(name, evse=None):
        body = {"requestedMessage": "CustomTrigger", "customTrigger": name}
        if evse is not None:
            body["evse"] = evse
        return csms.call(agent.station, "TriggerMessage", body)
    n = len(csms.messages())
    assert trigger("evsescan", {"id": 2})["status"] == "Accepted"
    (r,) = results(csms, agent.station, 1, after=n)
    assert (r["testId"], r["evse"], r["trigger"], r["requestor"]) == ("evsescan", {"id": 2}, "CustomTrigger", "CSMS")
    assert "requestId" not in r and r["checksum"] == result_checksum(r)
    refused(trigger("evsescan"), "TargetRequired", "evsescan")
    refused(trigger("evsescan", {"id": 7}), "UnknownTarget", "EVSE 7")
    refused(trigger("memory", {"id": 1}), "TargetNotAllowed", "memory")
    refused(trigger("SelfTest", {"id": 1}), "AmbiguousTarget")
    refused(trigger("HealthCheck", {"id": 1, "connectorId": 1}), "AmbiguousTarget")


# ------------------------------------------------------------------ DG11 catalog version

@pytest.mark.req("DG11.FR.01", "DG11.FR.02", "DG11.FR.03", "DG11.FR.04")
def test_catalog_version_lets_a_csms_skip_an_unchanged_catalog(csms, agent):
    res = csms.call(agent.station, "GetDiagnosticsCatalog", {"requestId": 1})
    v = res["catalogVersion"]
    assert res["status"] == "Accepted" and re.fullmatch(r"[0-9a-f]{16}", v)
    parts = collect(csms, agent.station, "NotifyDiagnosticsCatalog", 1)
    assert {p["catalogVersion"] for p in parts} == {v}
    dm = gv(csms, agent.station, ("DiagnosticsCtrlr", "CatalogVersion"))[0]
    assert dm["attributeValue"] == v
    # The CSMS holds the current version: nothing is sent.
    n = len(csms.messages())
    res = csms.call(agent.station, "GetDiagnosticsCatalog", {"requestId": 2, "catalogVersion": v})
    assert res == {"status": "Unchanged", "catalogVersion": v}
    # A later request's parts come (the lock is shared), and none of request 2's.
    csms.call(agent.station, "GetDiagnosticsCatalog", {"requestId": 3, "catalogVersion": "0" * 16,
                                                        "testId": ["memory"]})
    collect(csms, agent.station, "NotifyDiagnosticsCatalog", 3)
    assert not [r for r in csms.messages(station=agent.station, action="NotifyDiagnosticsCatalog")[n:]
                if r["payload"]["requestId"] == 2]
    assert not [r for r in csms.messages(station=agent.station, action="NotifyDiagnosticsCatalog")
                if r["payload"]["requestId"] == 2]


@pytest.mark.req("DG11.FR.01", "DG11.FR.05")
def test_catalog_version_follows_a_changed_descriptor(csms, make_agent, build_dir):
    a = make_agent(csms)
    wait_booted(csms, a)
    v1 = gv(csms, a.station, ("DiagnosticsCtrlr", "CatalogVersion"))[0]["attributeValue"]
    a.stop()
    n = len(csms.messages())
    a.start()  # same modules: same version
    wait_booted(csms, a, after=n)
    assert gv(csms, a.station, ("DiagnosticsCtrlr", "CatalogVersion"))[0]["attributeValue"] == v1
    a.stop()
    # Same test ids, one descriptor changed (a firmware update): a new version,
    # although the station's cached index of ids and types is unchanged.
    path = os.path.join(build_dir, "lib", "diag", "tests", "evsescan.py")
    with open(path, encoding="utf-8") as f:
        src = f.read()
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(src.replace('VERSION = "0.9"', 'VERSION = "0.9.1"'))
        n = len(csms.messages())
        a.start()
        wait_booted(csms, a, after=n)
        v2 = gv(csms, a.station, ("DiagnosticsCtrlr", "CatalogVersion"))[0]["attributeValue"]
        assert v2 != v1
        res = csms.call(a.station, "GetDiagnosticsCatalog", {"requestId": 4, "catalogVersion": v1})
        assert res["status"] == "Accepted" and res["catalogVersion"] == v2
        parts = collect(csms, a.station, "NotifyDiagnosticsCatalog", 4)
        scan = [t for p in parts for t in p["test"] if t["testId"] == "evsescan"]
        assert scan[0]["version"] == "0.9.1"
    finally:
        a.stop()
        with open(path, "w", encoding="utf-8") as f:
            f.write(src)


# ------------------------------------------------------------------ DG12 / DG13 descriptors

def _spec_classes():
    with open(os.path.join(ROOT, "docs", "diagnostics", "SPEC.md"), encoding="utf-8") as f:
        text = f.read()
    sec = text[text.index("### DG12"):]
    sec = sec[:sec.index("\n### ", 5)]
    out = {}
    for m in re.finditer(r"^\| `(\w+)` \| ([^|]*) \|", sec, re.M):
        out[m.group(1)] = sorted(re.findall(r"`([\w@]+)`(?: \(([^)]*)\))?", m.group(2)))
    return out


@pytest.mark.req("DG12.FR.01", "DG12.FR.02", "DG13.FR.01", "DG13.FR.02", "DG10.FR.01")
def test_catalog_carries_scope_classes_and_planning(csms, agent):
    csms.call(agent.station, "GetDiagnosticsCatalog", {"requestId": 5})
    tests = {t["testId"]: t for p in collect(csms, agent.station, "NotifyDiagnosticsCatalog", 5)
             for t in p["test"]}
    assert "badclass" not in tests
    spec = _spec_classes()
    assert len(spec) >= 10, spec
    reference = offered()
    assert set(reference) < set(tests)
    for tid, t in tests.items():
        assert t["scope"] in ("station", "evse", "connector")
        declared = {m["name"]: m.get("unit", "") for m in t["expectedOutcome"].get("measurement", [])}
        for c in t.get("testClass", []):
            # Every class a test claims is in SPEC.md's table, with its measurements declared.
            assert c in spec, (tid, c)
            for name, unit in spec[c]:
                assert name in declared and (not unit or declared[name] == unit), (tid, c, name)
        if tid in reference:  # every reference test declares its cost
            assert t["planning"]["network"] in ("None", "Local", "Csms", "External")
    assert tests["contactor"]["scope"] == "connector" and tests["evsescan"]["scope"] == "evse"
    assert tests["memory"]["testClass"] == ["MemoryHeadroom"]
    assert tests["csms"]["testClass"] == ["CsmsLatency"] and tests["csms"]["planning"]["network"] == "Csms"
    assert tests["ntp"]["planning"]["network"] == "External"
    # Honest costs: of the reference tests only `flash` writes flash (its scratch file).
    writers = {tid for tid, t in tests.items() if t.get("planning", {}).get("flashBytes")}
    assert writers == {"flash", "recal"}
    assert tests["flash"]["planning"] == {"expectedDuration": 0, "flashWrites": 1, "flashBytes": 4096,
                                          "network": "None"}
    # The class is kept by the result: memory's measurements are the class's.
    n = len(csms.messages())
    start(csms, agent.station, 6, ("memory",))
    (r,) = results(csms, agent.station, 1, after=n)
    m = meas(r)
    assert m["freeHeap"]["unit"] == "B" and m["largestBlock"]["unit"] == "B"


@pytest.mark.req("DG12.FR.03")
def test_a_test_claiming_a_class_without_its_measurements_is_left_out(csms, agent):
    comp = {"name": "DiagnosticTest", "instance": "badclass"}
    v = gv(csms, agent.station, (comp, "Problem"), (comp, "Description"))
    assert v[0]["attributeValue"] == "true"
    assert "MemoryHeadroom" in v[1]["attributeValue"] and "largestBlock" in v[1]["attributeValue"]
    refused(start(csms, agent.station, 7, ("badclass",)), "UnknownTest", "badclass")


# ------------------------------------------------------------------ DG14 guards

@pytest.mark.req("DG14.FR.01", "DG14.FR.02")
def test_who_may_start_an_intrusive_test(csms, agent):
    # No requestor on record: refused, the whole request (the intrusive test is second).
    res = csms.call(agent.station, "StartDiagnostics", {"requestId": 30, "test": [
        {"testId": "memory"}, {"testId": "recal"}]})
    refused(res, "IntrusiveNotAllowed", "recal", "requestor")
    refused(aimed(csms, agent.station, 31, "recal", None, requestor="CSMS"), "IntrusiveNotAllowed")
    # A run nobody accountable asked for: CustomTrigger, a schedule.
    res = csms.call(agent.station, "TriggerMessage", {"requestedMessage": "CustomTrigger",
                                                       "customTrigger": "recal"})
    refused(res, "IntrusiveNotAllowed", "CustomTrigger")
    refused(aimed(csms, agent.station, 32, "recal", None, schedule={"interval": 60}), "IntrusiveNotAllowed")
    # The station's policy switch.
    assert sv(csms, agent.station, "DiagnosticsCtrlr", "IntrusiveAllowed", "false")["attributeStatus"] == "Accepted"
    refused(aimed(csms, agent.station, 33, "recal", None), "IntrusiveNotAllowed", "IntrusiveAllowed")
    sv(csms, agent.station, "DiagnosticsCtrlr", "IntrusiveAllowed", "true")
    assert not csms.messages(station=agent.station, action="NotifyDiagnosticsResult")
    assert not csms.messages(station=agent.station, action="SecurityEventNotification")
    # Named, on demand, allowed: it runs.
    assert aimed(csms, agent.station, 34, "recal", None)["status"] == "Accepted"
    (r,) = results(csms, agent.station, 1)
    assert r["verdict"] == "Passed" and r["requestor"] == REQUESTOR


@pytest.mark.req("DG14.FR.03")
def test_an_intrusive_start_sends_a_security_event(csms, agent):
    assert aimed(csms, agent.station, 40, "contactor", {"id": 2, "connectorId": 2})["status"] == "Accepted"
    ev = csms.wait_for("SecurityEventNotification", station=agent.station)["payload"]
    assert ev["type"] == "IntrusiveDiagnosticsStarted"
    assert "contactor" in ev["techInfo"] and REQUESTOR in ev["techInfo"] and "40" in ev["techInfo"]
    assert "evse 2/2" in ev["techInfo"]
    results(csms, agent.station, 1)
    # A non-intrusive test sends none.
    start(csms, agent.station, 41, ("memory",))
    results(csms, agent.station, 2)
    assert len(csms.messages(station=agent.station, action="SecurityEventNotification")) == 1


@pytest.mark.req("DG14.FR.04", "DG14.FR.05")
def test_flash_write_budget_per_test_and_day(csms, make_agent):
    a = make_agent(csms)
    wait_booted(csms, a)
    assert sv(csms, a.station, "DiagnosticsCtrlr", "FlashWriteBudget", "5000")["attributeStatus"] == "Accepted"
    # The flash test writes whole 512-byte chunks: 3072 B, then 2048 B would make 5120.
    assert start(csms, a.station, 50, ("flash", {"sizeBytes": 3000}))["status"] == "Accepted"
    (r,) = results(csms, a.station, 1)
    assert r["verdict"] == "Passed"
    refused(start(csms, a.station, 51, ("flash", {"sizeBytes": 2000})), "FlashBudget", "flash", "3072", "5000")
    # Per test: recal has its own budget (1000 B a run).
    for i in range(5):
        assert aimed(csms, a.station, 52 + i, "recal", None)["status"] == "Accepted"
        results(csms, a.station, 1, pred=lambda r, i=i: r.get("requestId") == 52 + i)
    refused(aimed(csms, a.station, 57, "recal", None), "FlashBudget", "recal")
    # A restart hands out no fresh budget.
    a.stop()
    n = len(csms.messages())
    a.start()
    wait_booted(csms, a, after=n)
    refused(start(csms, a.station, 58, ("flash", {"sizeBytes": 2000})), "FlashBudget")
    # A smaller run still fits.
    assert start(csms, a.station, 59, ("flash", {"sizeBytes": 1024}))["status"] == "Accepted"


@pytest.mark.req("DG14.FR.02", "DG14.FR.06")
def test_the_csms_cannot_lift_the_stations_limits(csms, make_agent):
    a = make_agent(csms, allowIntrusive=False)
    wait_booted(csms, a)
    ctrlr = "DiagnosticsCtrlr"
    assert gv(csms, a.station, (ctrlr, "IntrusiveAllowed"))[0]["attributeValue"] == "false"
    res = sv(csms, a.station, ctrlr, "IntrusiveAllowed", "true")
    assert res["attributeStatus"] == "Rejected" and res["attributeStatusInfo"]["reasonCode"] == "PinnedByConfig"
    refused(aimed(csms, a.station, 70, "recal", None), "IntrusiveNotAllowed", "IntrusiveAllowed")
    # No budget beyond the station's maximum (16 MiB a day per test).
    assert sv(csms, a.station, ctrlr, "FlashWriteBudget", "1073741824")["attributeStatus"] == "Rejected"
    assert sv(csms, a.station, ctrlr, "FlashWriteBudget", "16777216")["attributeStatus"] == "Accepted"
    # Non-intrusive tests are unaffected.
    assert start(csms, a.station, 71, ("memory",))["status"] == "Accepted"
    results(csms, a.station, 1)


# ------------------------------------------------------------------ results before the final status

def test_results_reach_the_csms_before_the_final_status(csms, agent):
    start(csms, agent.station, 60, ("noop", {"durationMs": 2500}), ("memory",), ("noop", {"durationMs": 0}))
    wait_status(csms, agent.station, 60, "Running")
    deadline = time.monotonic() + 5
    while "noop" not in gv(csms, agent.station, ("DiagnosticsCtrlr", "RunningTests"))[0]["attributeValue"]:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert csms.call(agent.station, "CancelDiagnostics", {"requestId": 60})["status"] == "Accepted"
    final = wait_status(csms, agent.station, 60, "Cancelled")
    mine = [r for r in csms.messages(station=agent.station, action="NotifyDiagnosticsResult")
            if r["payload"]["result"].get("requestId") == 60]
    assert [r["payload"]["result"]["verdict"] for r in mine] == ["Aborted", "Skipped", "Skipped"]
    assert all(r["index"] < final["index"] for r in mine)
    start(csms, agent.station, 61, ("memory",), ("noop", {"durationMs": 0}))
    final = wait_status(csms, agent.station, 61, "Finished")
    mine = [r for r in csms.messages(station=agent.station, action="NotifyDiagnosticsResult")
            if r["payload"]["result"].get("requestId") == 61]
    assert len(mine) == 2 and all(r["index"] < final["index"] for r in mine)
