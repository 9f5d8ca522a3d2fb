"""The proposed diagnostics JSON schemas (docs/diagnostics/schemas/): well-formed under
Draft 4 (what the `ocpp` package validates with), a hand-written valid example per
request and response, and invalid payloads each schema must refuse."""
import copy
import glob
import hashlib
import json
import os
import re

import pytest
from jsonschema import Draft4Validator

from spec_conformance import spec_version

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMAS = os.path.join(ROOT, "docs", "diagnostics", "schemas")
SPEC = os.path.join(ROOT, "docs", "diagnostics", "SPEC.md")

ACTIONS = ["GetDiagnosticsCatalog", "NotifyDiagnosticsCatalog", "StartDiagnostics",
           "CancelDiagnostics", "NotifyDiagnosticsStatus", "NotifyDiagnosticsResult",
           "GetDiagnosticsResults"]

_validators = {}


def validator(name):
    v = _validators.get(name)
    if v is None:
        with open(os.path.join(SCHEMAS, name + ".json"), encoding="utf-8") as f:
            v = _validators[name] = Draft4Validator(json.load(f))
    return v


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def checksum(result):
    body = {k: v for k, v in result.items() if k != "checksum"}
    return hashlib.sha256(canonical(body).encode("utf-8")).hexdigest()


# ------------------------------------------------------------------ examples

DESCRIPTOR_MEMORY = {
    "testId": "MemoryCheck",
    "testType": "SelfTest",
    "version": "1.0",
    "description": "Runs a garbage collection and measures free heap and the largest free block.",
    "parameter": [
        {"name": "minFreeBytes", "dataType": "integer", "unit": "B", "minValue": 1024,
         "maxValue": 1048576, "defaultValue": 20000, "required": False,
         "description": "Free heap below this is a failure."},
        {"name": "mode", "dataType": "enum", "allowedValues": ["quick", "full"],
         "defaultValue": "quick", "required": False},
    ],
    "constraints": {"intrusive": False, "timeout": 10, "minInterval": 0, "needsNetwork": False},
    "expectedOutcome": {
        "measurement": [{"name": "freeBytes", "unit": "B", "limit": ">= minFreeBytes"},
                        {"name": "largestBlock", "unit": "B"}],
        "verdicts": ["Passed", "Failed", "Error"],
        "description": "At least minFreeBytes of heap are free after a collection.",
    },
}

DESCRIPTOR_METER = {
    "testId": "MeterCheck",
    "testType": "IntegrationTest",
    "version": "2.1.0",
    "description": "Reads the energy meter over Modbus and checks voltage plausibility.",
    "parameter": [{"name": "maxDeviation", "dataType": "decimal", "unit": "V", "minValue": 0.5,
                   "maxValue": 50, "required": True}],
    "constraints": {"allowedStates": ["Available", "Unavailable"], "intrusive": True,
                    "exclusiveResources": ["MeterBus"], "timeout": 30, "minInterval": 300,
                    "needsNetwork": False},
    "expectedOutcome": {"verdicts": ["Passed", "Failed", "Error", "TimedOut", "Aborted"]},
}

# DG10-DG13: a descriptor with scope, test classes and planning (the reference `flash`
# test), and one aimed at connectors.
DESCRIPTOR_FLASH = {
    "testId": "flash",
    "testType": "SelfTest",
    "version": "1.0",
    "description": "Free flash; a scratch file written, read back and verified",
    "scope": "station",
    "parameter": [{"name": "sizeBytes", "dataType": "integer", "unit": "B", "minValue": 64,
                   "maxValue": 1048576, "defaultValue": 4096, "required": False}],
    "constraints": {"intrusive": False, "exclusiveResources": ["flash"], "timeout": 30, "minInterval": 5,
                    "needsNetwork": False},
    "expectedOutcome": {"measurement": [{"name": "freeSpace", "unit": "B", "limit": ">= minFreeBytes"},
                                        {"name": "writeTime", "unit": "ms"}, {"name": "readTime", "unit": "ms"}],
                        "verdicts": ["Passed", "Failed", "Error"]},
    "testClass": ["StorageHealth", "com.example.WearCheck"],
    "planning": {"expectedDuration": 0, "flashWrites": 1, "flashBytes": 4096, "network": "None"},
}

DESCRIPTOR_CONTACTOR = {
    "testId": "contactor",
    "testType": "IntegrationTest",
    "version": "0.9",
    "description": "Closes and opens the contactor of one connector and checks its feedback contact (Schütz)",
    "scope": "connector",
    "constraints": {"allowedStates": ["Available"], "intrusive": True, "timeout": 20, "minInterval": 60,
                    "needsNetwork": False},
    "expectedOutcome": {"verdicts": ["Passed", "Failed", "Error", "Aborted"]},
    "planning": {"expectedDuration": 3, "flashWrites": 0, "flashBytes": 0, "network": "None"},
}

RESULT = {
    # the worked example of SPEC.md, "Checksum": a real result shape of the reference
    # `memory` test (every parameter, defaults included; statusInfo for a Failed verdict)
    "resultId": 42,
    "requestId": 7,
    "testId": "memory",
    "testType": "SelfTest",
    "requestor": "ops-agent/anomaly-7",
    "trigger": "OnDemand",
    "parameter": [{"name": "minFreeBytes", "value": 200000}, {"name": "minLargestBlock", "value": 4096}],
    "startTime": "2025-06-01T10:15:00Z",
    "endTime": "2025-06-01T10:15:02Z",
    "verdict": "Failed",
    "measurement": [
        {"name": "freeHeap", "value": 48213, "unit": "B", "limit": ">= 200000", "withinLimit": False},
        {"name": "largestBlock", "value": 30016, "unit": "B", "limit": ">= 4096", "withinLimit": True},
        {"name": "usedHeap", "value": 272467, "unit": "B"},
    ],
    "evidence": "free 48213 B (limit 200000), largest block 30016 B (limit 4096)",
    "statusInfo": {"reasonCode": "BelowLimit", "additionalInfo": "heap below limit"},
    "checksum": "47f932ae4b12625e7b5d0d4a824d666d365af18f71aa796f505f7f9029c45b4e",
}

RESULT_TARGETED = {
    "resultId": 44,
    "requestId": 9,
    "testId": "contactor",
    "testType": "IntegrationTest",
    "requestor": "técnico:zoë",
    "trigger": "OnDemand",
    "evse": {"id": 2, "connectorId": 1},
    "startTime": "2025-06-01T10:20:00Z",
    "endTime": "2025-06-01T10:20:03Z",
    "verdict": "Passed",
    "checksum": "0" * 64,
}

RESULT_FAILED = {
    "resultId": 43,
    "testId": "HealthCheck",
    "testType": "HealthCheck",
    "requestor": "Station",
    "trigger": "Scheduled",
    "startTime": "2025-06-01T11:00:00Z",
    "endTime": "2025-06-01T11:00:01.250Z",
    "verdict": "Failed",
    "healthStatus": "Degraded",
    "statusInfo": {"reasonCode": "LowMemory", "additionalInfo": "free heap 9000 B < 20000 B"},
    "customData": {"vendorId": "com.example", "board": "rev3"},
    "checksum": "82243e1cb290a8587b3e9f6988e5d47c99e6113ec84250f84546ab310c3748ba",
}

VALID = {
    "GetDiagnosticsCatalogRequest": [
        {"requestId": 1},
        {"requestId": 2, "testType": ["SelfTest", "HealthCheck"], "testId": ["MemoryCheck"],
         "customData": {"vendorId": "com.example", "x": 1}},
        {"requestId": 3, "catalogVersion": "3f2a9c01d4e5b6a7"},
    ],
    "GetDiagnosticsCatalogResponse": [
        {"status": "Accepted"},
        {"status": "EmptyResultSet", "statusInfo": {"reasonCode": "NoMatch"}},
        {"status": "Unchanged", "catalogVersion": "3f2a9c01d4e5b6a7"},
        {"status": "Accepted", "catalogVersion": "3f2a9c01d4e5b6a7"},
    ],
    "NotifyDiagnosticsCatalogRequest": [
        {"requestId": 1, "catalogVersion": "3f2a9c01d4e5b6a7", "generatedAt": "2025-06-01T10:00:00Z",
         "seqNo": 0, "tbc": True, "test": [DESCRIPTOR_MEMORY]},
        {"requestId": 1, "catalogVersion": "3f2a9c01d4e5b6a7", "generatedAt": "2025-06-01T10:00:00Z",
         "seqNo": 1, "test": [DESCRIPTOR_METER]},
        {"requestId": 2, "catalogVersion": "3f2a9c01d4e5b6a7", "generatedAt": "2025-06-01T10:00:00Z",
         "seqNo": 0, "test": [DESCRIPTOR_FLASH, DESCRIPTOR_CONTACTOR]},
    ],
    "NotifyDiagnosticsCatalogResponse": [{}, {"customData": {"vendorId": "com.example"}}],
    "StartDiagnosticsRequest": [
        {"requestId": 7, "test": [{"testId": "HealthCheck"}]},
        {"requestId": 8, "requestor": "ops-agent/anomaly-7", "stopOnFailure": True,
         "test": [{"testId": "MemoryCheck", "parameter": [{"name": "minFreeBytes", "value": 30000},
                                                          {"name": "mode", "value": "full"}]},
                  {"testId": "MeterCheck", "parameter": [{"name": "maxDeviation", "value": 2.5}]}]},
        {"requestId": 9, "test": [{"testId": "HealthCheck"}],
         "schedule": {"interval": 3600, "startTime": "2025-06-02T00:00:00Z"}},
        {"requestId": 10, "test": [{"testId": "HealthCheck"}], "schedule": {"interval": 0}},
        {"requestId": 11, "requestor": "técnico:zoë",
         "test": [{"testId": "contactor", "evse": {"id": 2, "connectorId": 1}}, {"testId": "memory"}]},
    ],
    "StartDiagnosticsResponse": [
        {"status": "Accepted"},
        {"status": "Rejected", "statusInfo": {"reasonCode": "OutOfRange",
                                              "additionalInfo": "parameter minFreeBytes: 5 outside 1024..1048576"}},
        {"status": "Busy", "statusInfo": {"reasonCode": "ResourceBusy"}},
    ],
    "CancelDiagnosticsRequest": [{"requestId": 8}],
    "CancelDiagnosticsResponse": [{"status": "Accepted"},
                                  {"status": "Rejected", "statusInfo": {"reasonCode": "UnknownRequest"}}],
    "NotifyDiagnosticsStatusRequest": [
        {"requestId": 8, "status": "Accepted", "timestamp": "2025-06-01T10:15:00Z", "completed": 0, "total": 2},
        {"requestId": 8, "status": "Running", "timestamp": "2025-06-01T10:15:00Z", "testId": "MemoryCheck",
         "completed": 0, "total": 2},
        {"requestId": 11, "status": "Running", "timestamp": "2025-06-01T10:15:00Z", "testId": "contactor",
         "evse": {"id": 2, "connectorId": 1}, "completed": 0, "total": 2},
        {"requestId": 8, "status": "Cancelled", "timestamp": "2025-06-01T10:15:03Z",
         "statusInfo": {"reasonCode": "Cancelled", "additionalInfo": "CancelDiagnostics"}},
    ],
    "NotifyDiagnosticsStatusResponse": [{}],
    "NotifyDiagnosticsResultRequest": [
        {"result": RESULT},
        {"result": RESULT_FAILED, "reportRequestId": 20, "seqNo": 0, "tbc": False},
        {"result": RESULT_TARGETED},
    ],
    "NotifyDiagnosticsResultResponse": [{}],
    "GetDiagnosticsResultsRequest": [
        {"requestId": 20},
        {"requestId": 21, "testId": ["MemoryCheck", "HealthCheck"], "from": "2025-06-01T00:00:00Z",
         "to": "2025-06-02T00:00:00Z", "resultIdFrom": 40, "maxResults": 10},
    ],
    "GetDiagnosticsResultsResponse": [{"status": "Accepted"}, {"status": "EmptyResultSet"},
                                      {"status": "Rejected", "statusInfo": {"reasonCode": "InvalidRange"}}],
}


def _drop(path):
    def f(p):
        node = p
        for k in path[:-1]:
            node = node[k]
        del node[path[-1]]
    return f


def _set(path, value):
    def f(p):
        node = p
        for k in path[:-1]:
            node = node[k]
        node[path[-1]] = value
    return f


# (schema, index of the valid example to start from, change, why)
INVALID = [
    # GetDiagnosticsCatalog
    ("GetDiagnosticsCatalogRequest", 1, _drop(["requestId"]), "missing requestId"),
    ("GetDiagnosticsCatalogRequest", 1, _set(["testType"], ["SelfCheck"]), "unknown test type"),
    ("GetDiagnosticsCatalogRequest", 1, _set(["testId"], []), "empty testId list"),
    ("GetDiagnosticsCatalogRequest", 0, _set(["requestId"], "1"), "requestId as string"),
    ("GetDiagnosticsCatalogRequest", 0, _set(["filter"], {}), "extra property"),
    ("GetDiagnosticsCatalogRequest", 1, _drop(["customData", "vendorId"]), "customData without vendorId"),
    ("GetDiagnosticsCatalogRequest", 2, _set(["catalogVersion"], "v" * 37), "catalogVersion too long"),
    ("GetDiagnosticsCatalogRequest", 2, _set(["catalogVersion"], ""), "empty catalogVersion"),
    ("GetDiagnosticsCatalogRequest", 2, _set(["catalogVersion"], 17), "catalogVersion not a string"),
    ("GetDiagnosticsCatalogResponse", 0, _set(["status"], "Busy"), "wrong status"),
    ("GetDiagnosticsCatalogResponse", 2, _set(["catalogVersion"], "v" * 37), "catalogVersion too long"),
    ("GetDiagnosticsCatalogResponse", 1, _set(["statusInfo"], {"reasonCode": "x" * 21}), "reasonCode too long"),
    # NotifyDiagnosticsCatalog
    ("NotifyDiagnosticsCatalogRequest", 0, _drop(["test"]), "missing test"),
    ("NotifyDiagnosticsCatalogRequest", 0, _drop(["catalogVersion"]), "missing catalogVersion"),
    ("NotifyDiagnosticsCatalogRequest", 2, _set(["test", 0, "scope"], "building"), "unknown scope"),
    ("NotifyDiagnosticsCatalogRequest", 2, _set(["test", 0, "testClass"], []), "empty testClass list"),
    ("NotifyDiagnosticsCatalogRequest", 2, _set(["test", 0, "testClass"], ["C" * 51]), "testClass too long"),
    ("NotifyDiagnosticsCatalogRequest", 2, _set(["test", 0, "testClass"], "StorageHealth"), "testClass not a list"),
    ("NotifyDiagnosticsCatalogRequest", 2, _drop(["test", 0, "planning", "network"]), "planning without network"),
    ("NotifyDiagnosticsCatalogRequest", 2, _set(["test", 0, "planning", "network"], "Internet"), "unknown network"),
    ("NotifyDiagnosticsCatalogRequest", 2, _set(["test", 0, "planning", "flashBytes"], -1), "negative flashBytes"),
    ("NotifyDiagnosticsCatalogRequest", 2, _set(["test", 0, "planning", "expectedDuration"], 1.5),
     "expectedDuration not integer"),
    ("NotifyDiagnosticsCatalogRequest", 2, _set(["test", 1, "planning", "cost"], 3), "extra property in planning"),
    ("NotifyDiagnosticsCatalogRequest", 0, _set(["seqNo"], -1), "negative seqNo"),
    ("NotifyDiagnosticsCatalogRequest", 0, _drop(["test", 0, "constraints"]), "descriptor without constraints"),
    ("NotifyDiagnosticsCatalogRequest", 0, _drop(["test", 0, "constraints", "timeout"]), "constraints without timeout"),
    ("NotifyDiagnosticsCatalogRequest", 0, _set(["test", 0, "constraints", "timeout"], 0), "timeout 0"),
    ("NotifyDiagnosticsCatalogRequest", 1, _set(["test", 0, "constraints", "allowedStates"], ["Charging"]),
     "unknown connector state"),
    ("NotifyDiagnosticsCatalogRequest", 0, _set(["test", 0, "parameter", 0, "dataType"], "float"), "unknown dataType"),
    ("NotifyDiagnosticsCatalogRequest", 0, _drop(["test", 0, "parameter", 0, "required"]), "parameter without required"),
    ("NotifyDiagnosticsCatalogRequest", 0, _set(["test", 0, "parameter", 0, "defaultValue"], None), "null default"),
    ("NotifyDiagnosticsCatalogRequest", 0, _set(["test", 0, "expectedOutcome", "verdicts"], []), "no verdicts"),
    ("NotifyDiagnosticsCatalogRequest", 0, _set(["test", 0, "expectedOutcome", "verdicts"], ["Pass"]), "wrong verdict"),
    ("NotifyDiagnosticsCatalogRequest", 0, _set(["test", 0, "testId"], "T" * 51), "testId too long"),
    ("NotifyDiagnosticsCatalogRequest", 0, _set(["test", 0, "timeout"], 5), "extra property in descriptor"),
    ("NotifyDiagnosticsCatalogResponse", 0, _set(["status"], "Accepted"), "extra property in empty response"),
    # StartDiagnostics
    ("StartDiagnosticsRequest", 1, _drop(["test"]), "missing test"),
    ("StartDiagnosticsRequest", 0, _set(["test"], []), "empty test list"),
    ("StartDiagnosticsRequest", 1, _drop(["test", 0, "testId"]), "test without testId"),
    ("StartDiagnosticsRequest", 1, _drop(["test", 0, "parameter", 0, "value"]), "parameter without value"),
    ("StartDiagnosticsRequest", 1, _set(["test", 0, "parameter", 0, "value"], [1]), "parameter value is a list"),
    ("StartDiagnosticsRequest", 1, _set(["test", 0, "parameter", 0, "value"], {"v": 1}), "parameter value is an object"),
    ("StartDiagnosticsRequest", 1, _set(["stopOnFailure"], "yes"), "stopOnFailure not boolean"),
    ("StartDiagnosticsRequest", 1, _set(["requestor"], "r" * 101), "requestor too long"),
    ("StartDiagnosticsRequest", 2, _set(["schedule", "interval"], -1), "negative interval"),
    ("StartDiagnosticsRequest", 2, _drop(["schedule", "interval"]), "schedule without interval"),
    ("StartDiagnosticsRequest", 0, _set(["test", 0, "timeout"], 5), "extra property in test"),
    ("StartDiagnosticsRequest", 4, _drop(["test", 0, "evse", "id"]), "evse without id"),
    ("StartDiagnosticsRequest", 4, _set(["test", 0, "evse", "id"], -1), "negative evse id"),
    ("StartDiagnosticsRequest", 4, _set(["test", 0, "evse", "connectorId"], "1"), "connectorId as string"),
    ("StartDiagnosticsRequest", 4, _set(["test", 0, "evse", "connector"], 1), "extra property in evse"),
    ("StartDiagnosticsResponse", 0, _set(["status"], "Finished"), "wrong status"),
    ("StartDiagnosticsResponse", 1, _drop(["statusInfo", "reasonCode"]), "statusInfo without reasonCode"),
    ("StartDiagnosticsResponse", 1, _set(["statusInfo", "additionalInfo"], "i" * 1025), "additionalInfo too long"),
    # CancelDiagnostics
    ("CancelDiagnosticsRequest", 0, _drop(["requestId"]), "missing requestId"),
    ("CancelDiagnosticsRequest", 0, _set(["requestId"], 8.5), "requestId not integer"),
    ("CancelDiagnosticsRequest", 0, _set(["testId"], "MemoryCheck"), "extra property"),
    ("CancelDiagnosticsResponse", 0, _set(["status"], "Busy"), "wrong status"),
    ("CancelDiagnosticsResponse", 0, _drop(["status"]), "missing status"),
    # NotifyDiagnosticsStatus
    ("NotifyDiagnosticsStatusRequest", 1, _drop(["timestamp"]), "missing timestamp"),
    ("NotifyDiagnosticsStatusRequest", 1, _set(["status"], "Failed"), "wrong status"),
    ("NotifyDiagnosticsStatusRequest", 1, _set(["completed"], -1), "negative completed"),
    ("NotifyDiagnosticsStatusRequest", 1, _set(["total"], "2"), "total as string"),
    ("NotifyDiagnosticsStatusRequest", 1, _set(["verdict"], "Passed"), "extra property"),
    ("NotifyDiagnosticsStatusRequest", 2, _drop(["evse", "id"]), "evse without id"),
    ("NotifyDiagnosticsStatusResponse", 0, _set(["status"], "Accepted"), "extra property"),
    # NotifyDiagnosticsResult
    ("NotifyDiagnosticsResultRequest", 0, _drop(["result"]), "missing result"),
    ("NotifyDiagnosticsResultRequest", 0, _drop(["result", "checksum"]), "missing checksum"),
    ("NotifyDiagnosticsResultRequest", 0, _set(["result", "checksum"], "0" * 63), "checksum 63 hex"),
    ("NotifyDiagnosticsResultRequest", 0, _set(["result", "checksum"], "0" * 65), "checksum 65 hex"),
    ("NotifyDiagnosticsResultRequest", 0, _set(["result", "checksum"], "A" * 64), "checksum upper case"),
    ("NotifyDiagnosticsResultRequest", 0, _set(["result", "checksum"], "g" * 64), "checksum not hex"),
    ("NotifyDiagnosticsResultRequest", 0, _set(["result", "resultId"], 0), "resultId 0"),
    ("NotifyDiagnosticsResultRequest", 0, _drop(["result", "resultId"]), "missing resultId"),
    ("NotifyDiagnosticsResultRequest", 0, _drop(["result", "requestor"]), "missing requestor"),
    ("NotifyDiagnosticsResultRequest", 0, _drop(["result", "endTime"]), "missing endTime"),
    ("NotifyDiagnosticsResultRequest", 0, _set(["result", "verdict"], "Pass"), "wrong verdict"),
    ("NotifyDiagnosticsResultRequest", 0, _set(["result", "trigger"], "Manual"), "wrong trigger"),
    ("NotifyDiagnosticsResultRequest", 1, _set(["result", "healthStatus"], "Sick"), "wrong health status"),
    ("NotifyDiagnosticsResultRequest", 0, _set(["result", "measurement", 0, "value"], "48213"), "measurement as string"),
    ("NotifyDiagnosticsResultRequest", 0, _set(["result", "measurement", 0, "withinLimit"], 1), "withinLimit not boolean"),
    ("NotifyDiagnosticsResultRequest", 0, _set(["result", "measurement"], []), "empty measurement list"),
    ("NotifyDiagnosticsResultRequest", 0, _set(["result", "evidence"], "e" * 1001), "evidence too long"),
    ("NotifyDiagnosticsResultRequest", 0, _set(["result", "hmac"], "00"), "extra property in result"),
    ("NotifyDiagnosticsResultRequest", 1, _set(["seqNo"], -1), "negative seqNo"),
    ("NotifyDiagnosticsResultRequest", 2, _set(["result", "evse"], {"connectorId": 1}), "result evse without id"),
    ("NotifyDiagnosticsResultRequest", 2, _set(["result", "evse", "id"], 1.5), "result evse id not integer"),
    ("NotifyDiagnosticsResultResponse", 0, _set(["resultId"], 42), "extra property"),
    # GetDiagnosticsResults
    ("GetDiagnosticsResultsRequest", 1, _drop(["requestId"]), "missing requestId"),
    ("GetDiagnosticsResultsRequest", 1, _set(["resultIdFrom"], 0), "resultIdFrom 0"),
    ("GetDiagnosticsResultsRequest", 1, _set(["maxResults"], 0), "maxResults 0"),
    ("GetDiagnosticsResultsRequest", 1, _set(["testId"], "MemoryCheck"), "testId not a list"),
    ("GetDiagnosticsResultsRequest", 1, _set(["since"], "2025-06-01T00:00:00Z"), "extra property"),
    ("GetDiagnosticsResultsResponse", 0, _set(["status"], "NotSupported"), "wrong status"),
]


# ------------------------------------------------------------------ tests

def schema_files():
    return sorted(glob.glob(os.path.join(SCHEMAS, "*.json")))


def test_schema_set_is_complete():
    names = {os.path.basename(f)[:-5] for f in schema_files()}
    expected = {a + s for a in ACTIONS for s in ("Request", "Response")}
    assert names == expected
    assert set(VALID) == expected  # every schema has examples


def test_spec_describes_every_action():
    with open(SPEC, encoding="utf-8") as f:
        text = f.read()
    for a in ACTIONS:
        assert "### " + a in text, a


@pytest.mark.parametrize("path", schema_files(), ids=os.path.basename)
def test_schema_is_valid_draft4(path):
    with open(path, encoding="utf-8") as f:
        s = json.load(f)
    Draft4Validator.check_schema(s)
    name = os.path.basename(path)[:-5]
    assert s["$schema"] == "http://json-schema.org/draft-06/schema#"
    # The extension's own namespace and version (SPEC.md 4.8), never the OCA's.
    assert s["$id"] == "urn:x-ocpp-advanced-diagnostics:%s:%s" % (spec_version(), name)
    assert s["additionalProperties"] is False
    assert "customData" in s["properties"]
    for dname, d in s["definitions"].items():
        assert dname.endswith("Type") and d["javaType"] == dname[:-4]
        if d["type"] == "object" and dname != "CustomDataType":
            assert d["additionalProperties"] is False, dname
            assert d["properties"]["customData"] == {"$ref": "#/definitions/CustomDataType"}, dname
    # no dangling and no unused definitions
    text = json.dumps(s)
    refs = set(re.findall(r'"#/definitions/(\w+)"', text))
    assert refs == set(s["definitions"])


@pytest.mark.parametrize("name,i", [(n, i) for n in sorted(VALID) for i in range(len(VALID[n]))])
def test_valid_example(name, i):
    errors = [e.message for e in validator(name).iter_errors(VALID[name][i])]
    assert not errors


@pytest.mark.parametrize("name,i,change,why", INVALID, ids=[n + ": " + w for n, _, _, w in INVALID])
def test_invalid_example(name, i, change, why):
    p = copy.deepcopy(VALID[name][i])
    change(p)
    assert not validator(name).is_valid(p), why


def test_every_schema_has_invalid_examples():
    assert {n for n, _, _, _ in INVALID} == set(VALID)


def test_example_checksum():
    # SPEC.md's worked example: canonical form and SHA-256 of RESULT.
    assert checksum(RESULT) == RESULT["checksum"]
    body = canonical({k: v for k, v in RESULT.items() if k != "checksum"})
    with open(SPEC, encoding="utf-8") as f:
        spec = f.read()
    assert body in spec and RESULT["checksum"] in spec
    # the checksum covers every other field
    changed = dict(RESULT, verdict="Passed")
    assert checksum(changed) != RESULT["checksum"]


def test_canonical_form_survives_a_json_round_trip():
    # Integral measurement values are sent as integers and others with at most 3
    # decimals, so a receiver that parses and re-serializes gets the same text.
    for r in (RESULT, RESULT_FAILED):
        assert checksum(r) == r["checksum"]
        assert checksum(json.loads(json.dumps(r))) == r["checksum"]
