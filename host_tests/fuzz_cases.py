"""Fuzz cases for the agent, derived from the OCPP 2.1 and diagnostics JSON schemas,
and the oracle that says what the agent must answer to each.

A case is a CALL built from a valid example, then mutated (wrong types, missing and
extra fields, long strings, huge and negative numbers, non-ASCII, surrogates, NUL,
deep nesting). The oracle validates the mutated payload against the official
request schema with jsonschema: valid -> a CALLRESULT that validates against the
response schema; invalid -> a CALLERROR whose code is the class of one of the
schema errors (OCPP-J 2.x section 4.3)."""
import copy
import json
import os
import random

from jsonschema import Draft4Validator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OCPP = os.path.join(ROOT, ".venv", "lib", "python3.11", "site-packages", "ocpp", "v21", "schemas")
DIAG = os.path.join(ROOT, "docs", "diagnostics", "schemas")
OURS = "org.openchargealliance.diagnostics"

# Valid starting points: the CALLs the agent serves, with realistic content. Reset
# is left out: a valid one restarts the agent, which is not what this test is about.
EXAMPLES = {
    "GetVariables": [{"getVariableData": [
        {"component": {"name": "ChargingStation"}, "variable": {"name": "Model"}},
        {"component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": "AvailabilityState"}},
        {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"},
         "attributeType": "Actual"}]}],
    "SetVariables": [{"setVariableData": [
        {"component": {"name": "ClockCtrlr"}, "variable": {"name": "TimeZone"}, "attributeValue": "Europe/Berlin"},
        {"component": {"name": "Nope"}, "variable": {"name": "X"}, "attributeValue": "1"}]}],
    "GetBaseReport": [{"requestId": 1, "reportBase": "SummaryInventory"}],
    "GetReport": [{"requestId": 2, "componentCriteria": ["Available"],
                   "componentVariable": [{"component": {"name": "DiagnosticsCtrlr"}}]}],
    "TriggerMessage": [{"requestedMessage": "Heartbeat"}, {"requestedMessage": "StatusNotification",
                                                           "evse": {"id": 1, "connectorId": 1}},
                       {"requestedMessage": "CustomTrigger", "customTrigger": "HealthCheck"}],
    "GetLog": [{"logType": "DiagnosticsLog", "requestId": 3, "retries": 0,
                "log": {"remoteLocation": "ftp://127.0.0.1:1/x"}}],
    "DataTransfer": [{"vendorId": "com.example", "messageId": "m", "data": "hello"},
                     {"vendorId": OURS, "messageId": "GetDiagnosticsCatalog", "data": {"requestId": 9}}],
    "GetDiagnosticsCatalog": [{"requestId": 4, "testType": ["HealthCheck"]}],
    "StartDiagnostics": [{"requestId": 5, "requestor": "fuzz", "test": [{"testId": "health"}]},
                         {"requestId": 6, "test": [{"testId": "noop", "parameter": [
                             {"name": "durationMs", "value": 0}]}]}],
    "CancelDiagnostics": [{"requestId": 77}],
    "GetDiagnosticsResults": [{"requestId": 7, "maxResults": 2}],
    "SetVariableMonitoring": [{"setMonitoringData": [
        {"component": {"name": "DiagnosticTest", "instance": "memory"}, "variable": {"name": "LastVerdict"},
         "type": "Delta", "value": 1, "severity": 2},
        {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"},
         "type": "UpperThreshold", "value": 600, "severity": 5, "id": 1000}]}],
    "ClearVariableMonitoring": [{"id": [1000, 1, 5]}],
    "GetMonitoringReport": [{"requestId": 8, "monitoringCriteria": ["DeltaMonitoring"],
                             "componentVariable": [{"component": {"name": "DiagnosticTest"}}]}],
    "SetMonitoringBase": [{"monitoringBase": "All"}],
    "SetMonitoringLevel": [{"severity": 9}],
}

ERROR_CLASS = {"type": "TypeConstraintViolation", "required": "OccurrenceConstraintViolation",
               "additionalProperties": "FormatViolation", "enum": "PropertyConstraintViolation",
               "maxLength": "PropertyConstraintViolation", "minLength": "PropertyConstraintViolation",
               "minimum": "PropertyConstraintViolation", "maximum": "PropertyConstraintViolation",
               "minItems": "OccurrenceConstraintViolation", "maxItems": "OccurrenceConstraintViolation"}

ODD_VALUES = [5, -1, 0, 2 ** 63, -(2 ** 70), 1e308, -1.5, "x", "", True, False, None, [], {}, [1, "a"],
              {"a": None}, "Café ☕", "\u0000", "\ud800", "\U0001F600" * 3, "日本語テキスト"]
ODD_STRINGS = ["Café", "Zähler \u00e9\u00e8", "日本語", "\U0001F600" * 40, "\u0000nul", "\ud800",
               "\udc00\ud800", "a\\qb", "\u202e reversed", "x" * 51, "é" * 501, "y" * 2001]


def load_schema(action, kind):
    for d in (DIAG, OCPP):
        p = os.path.join(d, "%s%s.json" % (action, kind))
        if os.path.exists(p):
            with open(p, encoding="utf-8-sig") as f:
                return json.load(f)
    return None


class Oracle:
    def __init__(self):
        self.req = {a: Draft4Validator(load_schema(a, "Request")) for a in EXAMPLES}
        self.resp = {}

    def response_validator(self, action):
        if action not in self.resp:
            s = load_schema(action, "Response")
            self.resp[action] = Draft4Validator(s) if s else None
        return self.resp[action]

    def expect(self, action, payload, size):
        """-> set of acceptable replies: "RESULT" and/or CALLERROR codes."""
        if not isinstance(payload, dict):
            return {"FormatViolation"}
        errors = list(self.req[action].iter_errors(_agent_view(payload)))
        if errors:
            return {ERROR_CLASS.get(e.validator, "FormatViolation") for e in errors}
        ok = {"RESULT"}
        # The agent's own limits (DeviceDataCtrlr ItemsPerMessage / BytesPerMessage).
        items = payload.get("getVariableData") or payload.get("setVariableData") or \
            payload.get("componentVariable") or []
        if action in ("GetVariables", "SetVariables", "GetReport", "GetMonitoringReport"):
            if len(items) > 16:
                ok = {"OccurrenceConstraintViolation"}
            if size > 4096:
                ok = ok - {"RESULT"} | {"FormatViolation"}
        # MonitoringCtrlr ItemsPerMessage / BytesPerMessage of the monitor requests.
        mons = payload.get("setMonitoringData") or payload.get("id") or []
        if action in ("SetVariableMonitoring", "ClearVariableMonitoring"):
            if len(mons) > 8:
                ok = {"OccurrenceConstraintViolation"}
            if size > 4096:
                ok = ok - {"RESULT"} | {"FormatViolation"}
        return ok


def _agent_view(x):
    """What the agent reads: a lone UTF-16 surrogate becomes U+FFFD (ocpp/text.py)."""
    if isinstance(x, str):
        return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in x)
    if isinstance(x, list):
        return [_agent_view(v) for v in x]
    if isinstance(x, dict):
        return {_agent_view(k): _agent_view(v) for k, v in x.items()}
    return x


def _paths(x, path=()):
    """Every (path, value) in a JSON value, the root included."""
    yield path, x
    if isinstance(x, dict):
        for k, v in x.items():
            yield from _paths(v, path + (k,))
    elif isinstance(x, list):
        for i, v in enumerate(x):
            yield from _paths(v, path + (i,))


def _set(root, path, value):
    node = root
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value


def mutate(rng, payload):
    p = copy.deepcopy(payload)
    kind = rng.choice(["valid", "drop", "extra", "type", "string", "number", "nest", "array", "many"])
    places = [(path, v) for path, v in _paths(p) if path]
    objects = [(path, v) for path, v in _paths(p) if isinstance(v, dict)]
    if kind == "valid" or not places:
        return p, kind
    path, value = rng.choice(places)
    if kind == "drop":
        path, obj = rng.choice(objects)
        if obj:
            del obj[rng.choice(list(obj))]
    elif kind == "extra":
        path, obj = rng.choice(objects)
        obj[rng.choice(["extra", "x" * 40, "Café", "customData"])] = rng.choice(ODD_VALUES)
    elif kind == "type":
        _set(p, path, rng.choice(ODD_VALUES))
    elif kind == "string":
        strings = [(q, v) for q, v in places if isinstance(v, str)] or places
        _set(p, rng.choice(strings)[0], rng.choice(ODD_STRINGS))
    elif kind == "number":
        nums = [(q, v) for q, v in places if isinstance(v, int) and not isinstance(v, bool)] or places
        _set(p, rng.choice(nums)[0], rng.choice([-1, -(2 ** 31), 2 ** 31, 2 ** 63, 10 ** 30, 0, 1.5]))
    elif kind == "nest":
        deep = 0
        for _ in range(rng.randint(10, 60)):
            deep = [deep]
        _set(p, path, deep)
    elif kind == "array":
        arrays = [(q, v) for q, v in places if isinstance(v, list)] or places
        _set(p, rng.choice(arrays)[0], rng.choice([[], [None], "not a list"]))
    elif kind == "many":
        arrays = [(q, v) for q, v in places if isinstance(v, list) and v]
        if arrays:
            q, v = rng.choice(arrays)
            _set(p, q, v * rng.randint(2, 20))
    return p, kind


def cases(seed, n):
    """Yield (kind, action, payload) for n CALLs."""
    rng = random.Random(seed)
    actions = sorted(EXAMPLES)
    for i in range(n):
        r = rng.random()
        if r < 0.03:
            yield "unknown-action", rng.choice(["FlyToTheMoon", "getvariables", "Get Variables", "Café"]), {}
        elif r < 0.05:
            yield "unsupported-action", rng.choice(["RequestStartTransaction", "UnlockConnector",
                                                    "ChangeAvailability"]), {"evseId": 1}
        else:
            action = rng.choice(actions)
            payload, kind = mutate(rng, rng.choice(EXAMPLES[action]))
            yield kind, action, payload


RAW_FRAMES = [
    # (text, expected reply id or None for no reply, expected code or codes)
    ("not json at all", "-1", "RpcFrameworkError"),
    ('[2,"raw1","GetVariables",{', "-1", "RpcFrameworkError"),
    ("{}", "-1", "RpcFrameworkError"),
    ("[]", "-1", "RpcFrameworkError"),
    ('[2,"raw2"]', "raw2", "RpcFrameworkError"),
    ('[9,"raw3",{}]', "raw3", "MessageTypeNotSupported"),
    ('[3,"nobody-asked",{}]', None, None),
    ('[4,"nobody-asked","GenericError","",{}]', None, None),
    ('[5,"nobody-asked","GenericError","",{}]', None, None),
    ('[6,"raw4","GetVariables",{}]', None, None),  # SEND: never answered
    ('"\\ud800"', "-1", "RpcFrameworkError"),
    # Nested so deep that parsing may exhaust the heap: answered either way.
    ("[" * 500 + "]" * 500, "-1", ("RpcFrameworkError", "InternalError")),
]
