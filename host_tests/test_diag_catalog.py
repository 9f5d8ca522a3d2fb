"""Diagnostics catalog: discovery through the native message (in parts) and
through the device model (GetBaseReport / GetVariables)."""
import pytest

from conftest import collect, gv, sv
from diag_helpers import offered


def check_catalog(csms, station, lib=None):
    """The catalog's core assertions, for this tree's lib/ or another one
    (test_adding_a_test.py): every module in lib/diag/tests/ and nothing else,
    in parts numbered from 0 -> the descriptors by testId."""
    res = csms.call(station, "GetDiagnosticsCatalog", {"requestId": 5})
    assert res["status"] == "Accepted"
    parts = collect(csms, station, "NotifyDiagnosticsCatalog", 5)
    assert [p["seqNo"] for p in parts] == list(range(len(parts)))
    tests = {t["testId"]: t for p in parts for t in p["test"]}
    assert {t: d["testType"] for t, d in tests.items()} == offered(lib)
    assert set(tests) >= {"memory", "flash", "health", "noop"}
    # Filtered by type: exactly the modules of that type.
    res = csms.call(station, "GetDiagnosticsCatalog", {"requestId": 6, "testType": ["HealthCheck"]})
    assert res["status"] == "Accepted"
    parts = collect(csms, station, "NotifyDiagnosticsCatalog", 6)
    assert [t["testId"] for p in parts for t in p["test"]] == \
        sorted(t for t, ty in offered(lib).items() if ty == "HealthCheck")
    return tests


@pytest.mark.req("DG01.FR.01", "DG01.FR.02")
def test_catalog_in_parts(csms, agent):
    tests = check_catalog(csms, agent.station)
    mem = tests["memory"]
    assert mem["testType"] == "SelfTest"
    params = {p["name"]: p for p in mem["parameter"]}
    assert params["minFreeBytes"]["dataType"] == "integer"
    assert params["minFreeBytes"]["unit"] == "B"
    assert params["minFreeBytes"]["defaultValue"] == 8192
    assert {m["name"] for m in mem["expectedOutcome"]["measurement"]} >= {"freeHeap", "largestBlock"}
    assert "Passed" in mem["expectedOutcome"]["verdicts"]
    fl = tests["flash"]["constraints"]
    assert fl["exclusiveResources"] == ["flash"] and fl["minInterval"] == 5
    assert tests["health"]["testType"] == "HealthCheck"
    assert tests["noop"]["parameter"][1]["allowedValues"] == ["Passed", "Failed", "Error", "OutOfMemory"]


@pytest.mark.req("DG01.FR.03", "DG01.FR.04")
def test_catalog_filters(csms, agent):
    res = csms.call(agent.station, "GetDiagnosticsCatalog", {"requestId": 6, "testType": ["HealthCheck"]})
    assert res["status"] == "Accepted"
    parts = collect(csms, agent.station, "NotifyDiagnosticsCatalog", 6)
    ids = [t["testId"] for p in parts for t in p["test"]]
    assert ids == sorted(t for t, ty in offered().items() if ty == "HealthCheck") and "health" in ids
    res = csms.call(agent.station, "GetDiagnosticsCatalog", {"requestId": 7, "testId": ["nope"]})
    assert res["status"] == "EmptyResultSet"
    # Both filters apply together: a test of another type selects nothing.
    res = csms.call(agent.station, "GetDiagnosticsCatalog", {"requestId": 8, "testType": ["HealthCheck"],
                                                             "testId": ["memory"]})
    assert res["status"] == "EmptyResultSet"


@pytest.mark.req("DG01.FR.05")
def test_catalog_in_device_model(csms, agent):
    res = csms.call(agent.station, "GetReport", {"requestId": 9, "componentVariable": [
        {"component": {"name": "DiagnosticTest"}}, {"component": {"name": "DiagnosticsCtrlr"}}]})
    assert res["status"] == "Accepted"
    items = [d for p in collect(csms, agent.station, "NotifyReport", 9) for d in p["reportData"]]
    byname = {}
    for d in items:
        byname[(d["component"]["name"], d["component"].get("instance"), d["variable"]["name"])] = d
    assert byname[("DiagnosticTest", "memory", "TestType")]["variableAttribute"][0]["value"] == "SelfTest"
    assert "minFreeBytes:integer[0..16777216]=8192" in \
        byname[("DiagnosticTest", "memory", "Parameters")]["variableAttribute"][0]["value"]
    iv = byname[("DiagnosticTest", "flash", "Interval")]
    assert iv["variableAttribute"][0]["mutability"] == "ReadWrite"
    assert byname[("DiagnosticsCtrlr", None, "Enabled")]["variableAttribute"][0]["value"] == "true"
    assert ("DiagnosticsCtrlr", None, "HealthCheckInterval") in byname


@pytest.mark.req("DG01.FR.06")
def test_device_model_announces_support_and_version(csms, agent):
    # What a CSMS reads before it uses the extension (SPEC.md 4.8): the version is the
    # one in the spec's front matter, which the schemas' $id carry too.
    from spec_conformance import spec_version
    res = gv(csms, agent.station, ("DiagnosticsCtrlr", "Available"), ("DiagnosticsCtrlr", "Version"),
             ("DiagnosticsCtrlr", "VendorId"))
    assert [r["attributeStatus"] for r in res] == ["Accepted"] * 3
    assert res[0]["attributeValue"] == "true"
    assert res[1]["attributeValue"] == spec_version() == "1.0"
    assert res[2]["attributeValue"] == "org.openchargealliance.diagnostics"
    # Read-only: a CSMS cannot make the station claim another version.
    r = sv(csms, agent.station, "DiagnosticsCtrlr", "Version", "2.0")
    assert r["attributeStatus"] == "Rejected"
    assert gv(csms, agent.station, ("DiagnosticsCtrlr", "Version"))[0]["attributeValue"] == "1.0"
