"""Test requests checked against the station's catalog before anything is sent.

What the station would refuse (unknown test, unknown or missing parameter, wrong
type, out of range, not an allowed value) is refused here first, naming the test,
the parameter and the limit.  Text values ("5000", "true") from the CLI or a form
are read as the declared type; JSON values must already have it.
"""
import math
import re

_INT = re.compile(r"[+-]?\d{1,18}")
_DEC = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


class ParameterError(ValueError):
    def __init__(self, message, test=None, parameter=None, limit=None):
        super().__init__(message)
        self.details = {k: v for k, v in (("testId", test), ("parameter", parameter),
                                          ("limit", limit)) if v is not None}


def check_tests(catalog, tests):
    """catalog: list of descriptors; tests: [{testId, parameters: {name: value} or
    parameter: [{name, value}]}] -> the StartDiagnostics `test` list."""
    by_id = {t.get("testId"): t for t in catalog or ()}
    if not isinstance(tests, list) or not tests:
        raise ParameterError("tests: a non-empty list is required")
    out = []
    for req in tests:
        if not isinstance(req, dict) or not isinstance(req.get("testId"), str):
            raise ParameterError("each test needs a testId")
        desc = by_id.get(req["testId"])
        if desc is None:
            raise ParameterError("the station offers no test %r" % req["testId"], req["testId"])
        given = _given(req)
        declared = {p["name"]: p for p in desc.get("parameter", ())}
        values = []
        for name, value in given.items():
            spec = declared.get(name)
            if spec is None:
                raise ParameterError("test %s has no parameter %r" % (desc["testId"], name),
                                     desc["testId"], name)
            values.append({"name": name, "value": check_value(desc["testId"], spec, value)})
        for name, spec in declared.items():
            if spec.get("required") and name not in given:
                raise ParameterError("test %s: parameter %s is required" % (desc["testId"], name),
                                     desc["testId"], name, "required")
        item = {"testId": desc["testId"]}
        if values:
            item["parameter"] = values
        out.append(item)
    return out


def check_shape(tests):
    """What can be checked without a catalog (fleet runs, schedules)."""
    if not isinstance(tests, list) or not tests or len(tests) > 50 or not all(
            isinstance(t, dict) and isinstance(t.get("testId"), str) for t in tests):
        raise ParameterError("tests: a list of 1..50 {testId, parameters}")
    for t in tests:
        _given(t)


def is_intrusive(catalog, tests):
    by_id = {t.get("testId"): t for t in catalog or ()}
    return any(by_id.get(t["testId"], {}).get("constraints", {}).get("intrusive") for t in tests)


def _given(req):
    if isinstance(req.get("parameters"), dict):
        return dict(req["parameters"])
    given = {}
    for p in req.get("parameter") or ():
        if not isinstance(p, dict) or not isinstance(p.get("name"), str) or "value" not in p:
            raise ParameterError("test %s: each parameter needs a name and a value"
                                 % req["testId"], req["testId"])
        given[p["name"]] = p["value"]
    return given


def check_value(test, spec, value):
    name, kind = spec["name"], spec.get("dataType")

    def bad(why, limit=None):
        return ParameterError("test %s: parameter %s %s" % (test, name, why), test, name, limit)

    if isinstance(value, str) and kind in ("integer", "decimal", "boolean"):
        value = _from_text(value, kind, bad)
    if kind == "integer":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise bad("must be an integer, got %r" % (value,), "integer")
    elif kind == "decimal":
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            raise bad("must be a number, got %r" % (value,), "decimal")
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise bad("must be true or false, got %r" % (value,), "boolean")
    elif kind in ("string", "enum"):
        if not isinstance(value, str):
            raise bad("must be text, got %r" % (value,), kind)
    if kind in ("integer", "decimal"):
        lo, hi = spec.get("minValue"), spec.get("maxValue")
        if lo is not None and value < lo:
            raise bad("= %s is below the minimum %s" % (value, _num(lo)), ">= %s" % _num(lo))
        if hi is not None and value > hi:
            raise bad("= %s is above the maximum %s" % (value, _num(hi)), "<= %s" % _num(hi))
    allowed = spec.get("allowedValues")
    if allowed and kind in ("string", "enum") and value not in allowed:
        raise bad("= %r is not one of %s" % (value, ", ".join(allowed)),
                  "one of " + ", ".join(allowed))
    return value


def _from_text(text, kind, bad):
    t = text.strip()
    if kind == "integer" and _INT.fullmatch(t):
        return int(t)
    if kind == "decimal" and _DEC.fullmatch(t):
        return float(t)
    if kind == "boolean" and t.lower() in ("true", "false"):
        return t.lower() == "true"
    raise bad("must be %s, got %r" % ({"integer": "an integer", "decimal": "a number",
                                       "boolean": "true or false"}[kind], text), kind)


def _num(x):
    return str(int(x)) if isinstance(x, float) and x.is_integer() else str(x)
